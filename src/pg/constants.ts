/**
 * Every limit of the PostgreSQL adapter in one place (shared/STYLE.md, "Assertions and limits"):
 * the default timeouts, their allowed range, and the sizes of what is kept in memory.
 */
import { assert } from "../lib/assert.js";

/** The timeouts a PostgresSettings may set, with their defaults. */
export const DEFAULT_TIMEOUTS = {
  /** Opening one SQL connection (TCP + authentication). */
  connectTimeoutMs: 3_000,
  /** One SQL query (server-side statement_timeout and a client-side timer). */
  queryTimeoutMs: 5_000,
  /** From spawning the postmaster until it accepts connections (crash recovery included). */
  startTimeoutMs: 60_000,
  /** From the stop signal until the postmaster exits; then its process group is killed. */
  stopTimeoutMs: 30_000,
  /** pg_basebackup, the whole copy. */
  basebackupTimeoutMs: 3_600_000,
  /** pg_rewind, including the single-user crash recovery it may run first. */
  rewindTimeoutMs: 1_800_000,
  /** initdb. */
  initdbTimeoutMs: 120_000,
  /** pg_promote() until the server has left recovery. */
  promoteTimeoutMs: 60_000,
} as const;

export type TimeoutName = keyof typeof DEFAULT_TIMEOUTS;

/** No timeout is shorter: below this a healthy server on a busy machine looks dead. */
export const TIMEOUT_MS_MIN = 100;
/** No timeout is longer than a day: "unlimited" is not a setting. */
export const TIMEOUT_MS_MAX = 86_400_000;

/** pg_controldata is quick; a run longer than this means a sick disk. */
export const CONTROLDATA_TIMEOUT_MS = 10_000;
/** After a program's timeout, SIGTERM; after this grace, SIGKILL its process group. */
export const PROGRAM_KILL_GRACE_MS = 2_000;
/** Lines of a program's output (or of the server log) quoted in a failure message. */
export const OUTPUT_TAIL_LINES = 12;
/** Longest line kept from a program's output; longer lines are cut (a runaway line is no log). */
export const OUTPUT_LINE_CHARS_MAX = 1_000;
/** How often start() tries `SELECT 1` while the postmaster comes up. */
export const START_POLL_MS = 100;
/** How often an adopted postmaster (not our child: no exit event) is checked for life. */
export const ADOPTED_POLL_MS = 250;
/** Progress of pg_basebackup / pg_rewind goes to the log at most this often. */
export const PROGRESS_LOG_INTERVAL_MS = 1_000;
/** The server log is moved aside to `<name>.1` at a start when it is larger than this. */
export const SERVER_LOG_BYTES_MAX = 64 * 1024 * 1024;
/** Bytes read from the end of the server log to quote its last lines. */
export const SERVER_LOG_TAIL_BYTES = 16 * 1024;
/** PostgreSQL's NAMEDATALEN - 1: the longest name of a replication slot. */
export const SLOT_NAME_CHARS_MAX = 63;
/** Slots synced per call: the DCS has a bounded member list, so does this. */
export const SLOTS_MAX = 256;
/** A permanent logical slot whose creation failed is tried again after this long, not every cycle. */
export const LOGICAL_SLOT_RETRY_MS = 10_000;
/** Extra pg_hba.conf lines and user parameters accepted from the settings. */
export const HBA_LINES_MAX = 256;
export const PARAMETERS_MAX = 1_000;

for (const [name, ms] of Object.entries(DEFAULT_TIMEOUTS)) {
  assert(ms >= TIMEOUT_MS_MIN && ms <= TIMEOUT_MS_MAX, `default ${name} out of range`);
}
assert(START_POLL_MS < DEFAULT_TIMEOUTS.startTimeoutMs, "start polls several times per start timeout");
assert(ADOPTED_POLL_MS < 1_000, "an adopted postmaster's death is noticed within a second");
assert(PROGRAM_KILL_GRACE_MS < DEFAULT_TIMEOUTS.stopTimeoutMs, "kill grace is shorter than a stop");
