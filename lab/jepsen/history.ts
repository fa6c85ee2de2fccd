/**
 * The recorded history of a run: every write attempt with its outcome, every DCS operation, every
 * fault (start and end), and samples of who answered as primary. Times are milliseconds on this
 * process's monotonic clock since the run started, so intervals compare across clients.
 */
import { performance } from "node:perf_hooks";

/** ok: acknowledged; fail: definitely not applied; unknown: may or may not have been applied. */
export type Outcome = "ok" | "fail" | "unknown";

export interface WriteEvent {
  readonly type: "write";
  /** "dsn" for the multi-host writer, else the node written to directly. */
  readonly writer: string;
  readonly id: number;
  readonly startMs: number;
  readonly endMs: number;
  readonly outcome: Outcome;
  /** The node that acknowledged it and its timeline then (ok only). */
  readonly node: string | null;
  readonly timeline: number | null;
  /** pg_current_wal_lsn() right after the insert, as a decimal string (ok only). */
  readonly lsn: string | null;
  readonly error?: string;
}

export interface DcsEvent {
  readonly type: "dcs";
  readonly client: number;
  readonly op: "read" | "cas";
  readonly startMs: number;
  /** Infinity when the outcome is unknown. */
  readonly endMs: number;
  readonly node: string;
  /** read: the token seen; cas: the token expected. */
  readonly expected: string | null;
  /** cas: the token written. */
  readonly value: string | null;
  readonly ok: boolean | null;
}

export interface FaultEvent {
  readonly type: "fault";
  readonly name: string;
  readonly phase: "start" | "end";
  readonly atMs: number;
  readonly detail: string;
}

export interface SampleEvent {
  readonly type: "sample";
  readonly atMs: number;
  /** Members answering 200 on GET /primary. */
  readonly primaries: readonly string[];
}

export interface ConvergenceEvent {
  readonly type: "convergence";
  readonly afterFault: string;
  readonly atMs: number;
  /** Milliseconds from the heal to one primary with every other member streaming; null: not within the bound. */
  readonly ms: number | null;
}

export type Event = WriteEvent | DcsEvent | FaultEvent | SampleEvent | ConvergenceEvent;

/** Milliseconds (0.1 ms steps) on this process's monotonic clock since the run's clock was made. */
export class RunClock {
  private readonly origin = performance.now();

  now(): number {
    return Math.round((performance.now() - this.origin) * 10) / 10;
  }
}

export class History extends RunClock {
  readonly events: Event[] = [];

  add(event: Event): void {
    this.events.push(event);
  }

  of<K extends Event["type"]>(type: K): Extract<Event, { type: K }>[] {
    return this.events.filter((e): e is Extract<Event, { type: K }> => e.type === type);
  }

  toJsonl(): string {
    return this.events.map((e) => JSON.stringify(e, (_k, v: unknown) => (v === Infinity ? "Infinity" : v))).join("\n") + "\n";
  }
}
