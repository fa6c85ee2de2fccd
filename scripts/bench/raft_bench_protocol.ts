/**
 * The tiny client protocol of the Raft benchmark: a load process talks to a node over a WebSocket
 * the way an etcd client talks to etcd (a request, then the answer once committed and applied).
 *
 *   request:  u8 kind (1 propose, 2 status) · u32 request id · payload
 *   response: u8 kind · u32 request id · u8 ok · body
 *             propose ok: f64 log index; status ok: JSON; not ok: the error code as UTF-8
 */
export const KIND_PROPOSE = 1;
export const KIND_STATUS = 2;

export function encodeRequest(kind: number, id: number, payload: Uint8Array): Buffer {
  const frame = Buffer.allocUnsafe(5 + payload.length);
  frame.writeUInt8(kind, 0);
  frame.writeUInt32LE(id, 1);
  frame.set(payload, 5);
  return frame;
}

export function encodeResponse(kind: number, id: number, ok: boolean, body: Uint8Array): Buffer {
  const frame = Buffer.allocUnsafe(6 + body.length);
  frame.writeUInt8(kind, 0);
  frame.writeUInt32LE(id, 1);
  frame.writeUInt8(ok ? 1 : 0, 5);
  frame.set(body, 6);
  return frame;
}

export interface Response {
  readonly kind: number;
  readonly id: number;
  readonly ok: boolean;
  readonly body: Buffer;
}

export function decodeResponse(frame: Buffer): Response {
  return { kind: frame.readUInt8(0), id: frame.readUInt32LE(1), ok: frame.readUInt8(5) === 1, body: frame.subarray(6) };
}

export interface BenchNodeStatus {
  readonly id: string;
  readonly role: string;
  readonly leader: string | null;
  readonly term: number;
  readonly commit: number;
  readonly applied: number;
  readonly writes: number;
  readonly entriesWritten: number;
}

export interface NodeSpec {
  readonly id: string;
  readonly dir: string;
  readonly raftPort: number;
  readonly clientPort: number;
  readonly members: readonly { id: string; address: string }[];
  readonly heartbeatMs: number;
  readonly electionTimeoutMs: number;
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}
