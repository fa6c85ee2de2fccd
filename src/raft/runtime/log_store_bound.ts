/**
 * The acknowledged bound: a small file beside LevelDB's own (ACKED_BOUND_FILE) that says how far
 * this node's log reached and which term and vote it held, written with every durable batch and
 * synced before anything that depends on the batch leaves the node.
 *
 * Why outside LevelDB: LevelDB's recovery drops a damaged or truncated tail of its write-ahead log
 * without an error (no paranoid checks through `level`), and a deleted .log file is not noticed at
 * all. What survives is a consistent older state, so nothing inside LevelDB can tell that entries
 * this node acknowledged — and a vote it cast — are gone. A node that forgot them must not vote
 * or count towards commitment: it could elect a leader without a committed entry, or vote twice
 * in a term (Raft thesis §3.6, §3.8; Protocol-Aware Recovery, FAST 2018). The bound lets the store
 * prove at open that the log still holds everything acknowledged (log_store_verify.ts).
 *
 * The file is written beside the LevelDB batch, in parallel, and the batch is acknowledged only
 * when both are durable. So the bound a batch writes must hold whether or not that same batch
 * reached LevelDB before a crash: it names a *floor*, a position the log keeps either way — the
 * last entry before the batch, or, when the batch replaces a suffix or installs a snapshot, the
 * highest index the log reaches with or without the batch. The term and vote are the batch's own:
 * treating a vote that may not have left as cast is safe (a node votes at most once per term).
 *
 * Layout: two slots of SLOT_BYTES, written alternately (slot = seq mod 2), each with a magic, a
 * sequence number and a CRC-32C, so a torn write of one slot leaves the other, older one intact.
 */
import { constants, type FileHandle, open } from "node:fs/promises";
import { join } from "node:path";
import * as E from "fp-ts/lib/Either.js";
import { assert } from "../../lib/assert.js";
import { crc32c } from "../../lib/crc32c.js";
import { isValidNodeId, type LogIndex, type NodeId, type Term } from "../types.js";

export const ACKED_BOUND_FILE = "RAFTGRES-ACKED-BOUND";

export interface AckedBound {
  /** Grows by one with every write; the slot with the higher valid sequence is the current one. */
  readonly seq: number;
  /** The log holds an entry at this index (or a snapshot covering it) … */
  readonly floorIndex: LogIndex;
  /** … with this term; null when the term is not known at the time of writing (a replaced suffix). */
  readonly floorTerm: Term | null;
  readonly term: Term;
  readonly vote: NodeId | null;
}

const SLOT_BYTES = 128;
const SLOTS = 2;
const MAGIC = 0x52474231; // "RGB1"
const VOTE_BYTES_MAX = 63;
const OFFSET = { magic: 0, seq: 4, floorIndex: 12, floorTerm: 20, term: 28, voteLength: 36, vote: 37, crc: 100 } as const;
const TWO_POW_32 = 0x1_0000_0000;

function putU64(view: DataView, offset: number, value: number): void {
  assert(Number.isSafeInteger(value) && value >= 0, () => `acked bound: ${value} is not a u64`);
  view.setUint32(offset, Math.floor(value / TWO_POW_32));
  view.setUint32(offset + 4, value % TWO_POW_32);
}

function getU64(view: DataView, offset: number): number {
  return view.getUint32(offset) * TWO_POW_32 + view.getUint32(offset + 4);
}

/** One slot's bytes. The floor term is stored +1 so that 0 means "unknown". */
export function encodeBound(bound: AckedBound): Uint8Array {
  const slot = new Uint8Array(SLOT_BYTES);
  const view = new DataView(slot.buffer);
  view.setUint32(OFFSET.magic, MAGIC);
  putU64(view, OFFSET.seq, bound.seq);
  putU64(view, OFFSET.floorIndex, bound.floorIndex);
  putU64(view, OFFSET.floorTerm, bound.floorTerm === null ? 0 : bound.floorTerm + 1);
  putU64(view, OFFSET.term, bound.term);
  const vote = new TextEncoder().encode(bound.vote ?? "");
  assert(vote.length <= VOTE_BYTES_MAX, "a node id fits in a slot");
  view.setUint8(OFFSET.voteLength, vote.length);
  slot.set(vote, OFFSET.vote);
  view.setUint32(OFFSET.crc, crc32c(slot.subarray(0, OFFSET.crc)));
  return slot;
}

/** A slot's bound, or why the slot is not a valid one (never written, torn, damaged). */
export function decodeBound(slot: Uint8Array): E.Either<string, AckedBound> {
  if (slot.length !== SLOT_BYTES) return E.left(`${slot.length} bytes instead of ${SLOT_BYTES}`);
  const view = new DataView(slot.buffer, slot.byteOffset, slot.byteLength);
  if (view.getUint32(OFFSET.magic) !== MAGIC) return E.left("no bound record (bad magic)");
  if (view.getUint32(OFFSET.crc) !== crc32c(slot.subarray(0, OFFSET.crc))) return E.left("checksum mismatch");
  const voteLength = view.getUint8(OFFSET.voteLength);
  if (voteLength > VOTE_BYTES_MAX) return E.left(`vote of ${voteLength} bytes`);
  const vote = new TextDecoder().decode(slot.subarray(OFFSET.vote, OFFSET.vote + voteLength));
  if (vote !== "" && !isValidNodeId(vote)) return E.left(`invalid vote ${JSON.stringify(vote)}`);
  const numbers = [getU64(view, OFFSET.seq), getU64(view, OFFSET.floorIndex), getU64(view, OFFSET.floorTerm), getU64(view, OFFSET.term)];
  if (!numbers.every(Number.isSafeInteger)) return E.left("a number beyond 2^53");
  const [seq, floorIndex, floorTermPlusOne, term] = numbers as [number, number, number, number];
  return E.right({
    seq,
    floorIndex: floorIndex as LogIndex,
    floorTerm: floorTermPlusOne === 0 ? null : ((floorTermPlusOne - 1) as Term),
    term: term as Term,
    vote: vote === "" ? null : (vote as NodeId),
  });
}

/** The current bound of a whole file's bytes: the valid slot with the higher sequence. */
export function currentBound(bytes: Uint8Array): E.Either<string, AckedBound> {
  if (bytes.length !== SLOT_BYTES * SLOTS) return E.left(`the file is ${bytes.length} bytes instead of ${SLOT_BYTES * SLOTS}`);
  const slots = [0, 1].map((i) => decodeBound(bytes.subarray(i * SLOT_BYTES, (i + 1) * SLOT_BYTES)));
  const valid = slots.filter(E.isRight).map((s) => s.right);
  if (valid.length === 0) {
    const why = slots.map((s, i) => `slot ${i}: ${E.isLeft(s) ? s.left : ""}`).join("; ");
    return E.left(`neither slot holds a valid bound (${why})`);
  }
  return E.right(valid.reduce((a, b) => (b.seq > a.seq ? b : a)));
}

export type BoundFileError = { readonly code: "missing" | "damaged" | "io"; readonly message: string };

function ioFailure(path: string, doing: string, error: unknown): BoundFileError {
  return { code: "io", message: `${doing} ${path}: ${error instanceof Error ? error.message : String(error)}` };
}

/** The open bound file of one data directory; writes one slot and syncs it. */
export class BoundFile {
  private seq: number;

  private constructor(private readonly path: string, private readonly handle: FileHandle, seq: number) {
    this.seq = seq;
  }

  /** The sequence number of the last bound written. */
  get lastSeq(): number {
    return this.seq;
  }

  /** Creates (or replaces) the file with `initial` in slot 1 and an empty slot 0, synced with its directory. */
  static async create(dir: string, initial: Omit<AckedBound, "seq">): Promise<E.Either<BoundFileError, BoundFile>> {
    const path = join(dir, ACKED_BOUND_FILE);
    let handle: FileHandle | null = null;
    try {
      handle = await open(path, constants.O_RDWR | constants.O_CREAT | constants.O_TRUNC, 0o600);
      const bytes = new Uint8Array(SLOT_BYTES * SLOTS);
      bytes.set(encodeBound({ ...initial, seq: 1 }), SLOT_BYTES);
      await handle.write(bytes, 0, bytes.length, 0);
      await handle.sync();
      await syncDirectory(dir);
      return E.right(new BoundFile(path, handle, 1));
    } catch (error: unknown) {
      await handle?.close().catch(() => undefined);
      return E.left(ioFailure(path, "cannot create the acknowledged-bound file", error));
    }
  }

  /** Opens the file and reads its current bound. */
  static async open(dir: string): Promise<E.Either<BoundFileError, { file: BoundFile; bound: AckedBound }>> {
    const path = join(dir, ACKED_BOUND_FILE);
    let handle: FileHandle;
    try {
      handle = await open(path, constants.O_RDWR);
    } catch (error: unknown) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return E.left({ code: "missing", message: `${path} does not exist` });
      return E.left(ioFailure(path, "cannot open", error));
    }
    try {
      const bytes = new Uint8Array(SLOT_BYTES * SLOTS + 1);
      const { bytesRead } = await handle.read(bytes, 0, bytes.length, 0);
      const bound = currentBound(bytes.subarray(0, bytesRead));
      if (E.isLeft(bound)) {
        await handle.close();
        return E.left({ code: "damaged", message: `${path}: ${bound.left}` });
      }
      return E.right({ file: new BoundFile(path, handle, bound.right.seq), bound: bound.right });
    } catch (error: unknown) {
      await handle.close().catch(() => undefined);
      return E.left(ioFailure(path, "cannot read", error));
    }
  }

  /** Writes the next bound (its sequence is assigned here) into the older slot and syncs it. */
  async write(bound: Omit<AckedBound, "seq">): Promise<E.Either<BoundFileError, void>> {
    const seq = this.seq + 1;
    this.seq = seq;
    try {
      await this.handle.write(encodeBound({ ...bound, seq }), 0, SLOT_BYTES, (seq % SLOTS) * SLOT_BYTES);
      await this.handle.datasync();
      return E.right(undefined);
    } catch (error: unknown) {
      return E.left(ioFailure(this.path, "cannot write", error));
    }
  }

  async close(): Promise<void> {
    await this.handle.close().catch(() => undefined);
  }
}

/** fsync of a directory: a file just created survives a crash only once its directory entry does. */
export async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, constants.O_RDONLY);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
