/**
 * Exactly-once application of proposals (Raft thesis §6.3, "client sessions", reduced to what a
 * node needs). Every proposal is wrapped in an envelope naming its origin node, the origin's
 * incarnation (bumped at every start) and a sequence number increasing within the incarnation.
 * When committed entries are applied, a deterministic table admits each (origin, incarnation, seq)
 * at most once, so a proposal duplicated by a retry or a replayed forward is applied once.
 *
 * A refused envelope was either a duplicate of one applied earlier or overtaken by a later one
 * from the same origin; the origin cannot tell which (it may have received the earlier
 * application inside a snapshot), so it reports the outcome as unknown, like a timeout.
 *
 * Pure and deterministic: every node computes the same admissions from the same log, and the table
 * is part of the snapshot.
 */
import { deserialize, field, serialize, vec } from "@dao-xyz/borsh";
import * as E from "fp-ts/lib/Either.js";
import { assert } from "../../lib/assert.js";

export interface Envelope {
  readonly origin: string;
  readonly incarnation: number;
  readonly seq: number;
  readonly payload: Uint8Array;
}

class WireEnvelope {
  @field({ type: "string" }) origin: string;
  @field({ type: "f64" }) incarnation: number;
  @field({ type: "f64" }) seq: number;
  @field({ type: Uint8Array }) payload: Uint8Array;
  constructor(envelope: Envelope) {
    this.origin = envelope.origin;
    this.incarnation = envelope.incarnation;
    this.seq = envelope.seq;
    this.payload = envelope.payload;
  }
}

export function encodeEnvelope(envelope: Envelope): Uint8Array {
  assert(Number.isSafeInteger(envelope.seq) && envelope.seq > 0, "envelope seq must be a positive integer");
  assert(Number.isSafeInteger(envelope.incarnation) && envelope.incarnation > 0, "envelope incarnation must be a positive integer");
  return serialize(new WireEnvelope(envelope));
}

export function decodeEnvelope(bytes: Uint8Array): E.Either<string, Envelope> {
  try {
    const wire = deserialize(bytes, WireEnvelope);
    if (!Number.isSafeInteger(wire.seq) || !Number.isSafeInteger(wire.incarnation)) return E.left("envelope numbers are not integers");
    return E.right({ origin: wire.origin, incarnation: wire.incarnation, seq: wire.seq, payload: wire.payload });
  } catch (error: unknown) {
    return E.left(`malformed proposal envelope: ${error instanceof Error ? error.message : String(error)}`);
  }
}

class WireSession {
  @field({ type: "string" }) origin: string;
  @field({ type: "f64" }) incarnation: number;
  @field({ type: "f64" }) lastSeq: number;
  constructor(origin: string, incarnation: number, lastSeq: number) {
    this.origin = origin;
    this.incarnation = incarnation;
    this.lastSeq = lastSeq;
  }
}

class WireSessions {
  @field({ type: vec(WireSession) }) sessions: WireSession[];
  constructor(sessions: WireSession[]) {
    this.sessions = sessions;
  }
}

/** Per origin node: the newest incarnation seen and the last sequence number applied in it. */
export class SessionTable {
  private readonly sessions = new Map<string, { incarnation: number; lastSeq: number }>();

  /** Admits an envelope for application, or refuses a duplicate, reordered or stale one. */
  admit(envelope: Pick<Envelope, "origin" | "incarnation" | "seq">): boolean {
    const session = this.sessions.get(envelope.origin);
    if (session !== undefined) {
      if (envelope.incarnation < session.incarnation) return false;
      if (envelope.incarnation === session.incarnation && envelope.seq <= session.lastSeq) return false;
    }
    this.sessions.set(envelope.origin, { incarnation: envelope.incarnation, lastSeq: envelope.seq });
    return true;
  }

  /**
   * The last sequence number applied from this origin incarnation (0 if none). After a snapshot
   * restore, the origin's proposals at or below it were applied or skipped, and it cannot tell
   * which: their outcome is unknown.
   */
  lastSeq(origin: string, incarnation: number): number {
    const session = this.sessions.get(origin);
    if (session === undefined || session.incarnation < incarnation) return 0;
    return session.incarnation === incarnation ? session.lastSeq : Number.MAX_SAFE_INTEGER;
  }

  size(): number {
    return this.sessions.size;
  }

  encode(): Uint8Array {
    const entries = [...this.sessions.entries()].sort(([a], [b]) => (a < b ? -1 : 1));
    return serialize(new WireSessions(entries.map(([origin, s]) => new WireSession(origin, s.incarnation, s.lastSeq))));
  }

  static decode(bytes: Uint8Array): E.Either<string, SessionTable> {
    try {
      const table = new SessionTable();
      for (const s of deserialize(bytes, WireSessions).sessions) table.sessions.set(s.origin, { incarnation: s.incarnation, lastSeq: s.lastSeq });
      return E.right(table);
    } catch (error: unknown) {
      return E.left(`malformed session table: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
}
