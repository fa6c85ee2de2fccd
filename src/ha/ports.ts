/**
 * What the HA executor needs of the PostgreSQL adapter (src/pg implements it). Every call is
 * bounded in time and returns a result; no library error crosses this boundary.
 */
import type * as E from "fp-ts/lib/Either.js";
import type { PostgresAction } from "./actions.js";
import type { LocalPostgres } from "./observation.js";

export type PgFailureCode =
  /** The call did not finish in its time limit (it was cancelled or the process killed). */
  | "timeout"
  /** A program (initdb, pg_basebackup, pg_rewind, postgres) exited with an error. */
  | "failed"
  /** The action needs a running server and there is none, or the reverse. */
  | "wrongState"
  /** pg_rewind cannot run here (no checksums/wal_log_hints, no source, …): reinit instead. */
  | "rewindImpossible"
  /** The source went away or stopped being a primary mid-way: try again against the current primary. */
  | "sourceLost";

export interface PgFailure {
  readonly code: PgFailureCode;
  /** For operators: what failed, the last lines the program printed, what to do. */
  readonly message: string;
  /** A start that failed: PostgreSQL's own FATAL and PANIC lines from its log, oldest first. */
  readonly serverErrors?: readonly string[];
}

export type PgResult = E.Either<PgFailure, void>;

/** How the postmaster ended when nobody asked it to. */
export interface PostmasterExit {
  readonly pid: number;
  readonly code: number | null;
  readonly signal: string | null;
}

export interface PostgresPort {
  /** The local server now (SQL with a timeout when running, pg_controldata when stopped). */
  observe(): Promise<LocalPostgres>;
  /** Carries out one action to its end (or its time limit). */
  run(action: PostgresAction): Promise<PgResult>;
  /**
   * The postmaster's PID while one runs. It leads its own process group (every backend is in
   * it), so the watchdog kills the group, never only the postmaster.
   */
  postmasterPid(): number | null;
  /** Re-reads the configuration files (SIGHUP); succeeds with nothing to do when stopped. */
  reload(): Promise<PgResult>;
  /**
   * The cluster-wide parameters of the dynamic config: written for the next start, and applied
   * with a reload when they changed (those that need a restart show as pending_restart).
   */
  applyParameters(parameters: Readonly<Record<string, string | number | boolean>>): Promise<PgResult>;
  /**
   * What is wrong with PostgreSQL's configuration now, one sentence each: parameters left out of
   * its files because it would refuse them, and lines it refuses (pg_file_settings after the last
   * reload or start). Empty when none.
   */
  configurationProblems(): readonly string[];
  /**
   * The parameters whose new value waits for a restart (pg_settings.pending_restart: the
   * running value and the one a restart applies), as last read while PostgreSQL runs; empty
   * when none, or when it does not run. Cheap: it reads no server, the member's report carries it.
   */
  pendingRestart(): Readonly<Record<string, { readonly oldValue: string; readonly newValue: string }>>;
  /** Called when the postmaster exits without being asked to (a crash, a kill). */
  onUnexpectedExit(listener: (exit: PostmasterExit) => void): () => void;
  /**
   * Called synchronously when a postmaster is spawned, before it can accept a connection: the
   * HA loop arms the watchdog there, or kills a primary whose lease ran out meanwhile.
   */
  onSpawned(listener: (pid: number) => void): () => void;
  /**
   * Called when a promotion has ended recovery — the server takes writes — before the promote
   * action finishes its own files: the HA loop tells client routing then (issue 16).
   */
  onWritable(listener: () => void): () => void;
}
