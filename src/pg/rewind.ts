/**
 * rewind: pg_rewind of the stopped data directory against a running member, then the
 * configuration of a replica of that member. pg_rewind copies the source's configuration files
 * (raftgres.conf and pg_hba.conf included), so ours are written again afterwards.
 *
 * PostgreSQL 15's pg_rewind runs crash recovery itself (`postgres --single`) when the target was
 * not shut down cleanly: right for a crashed primary. A crashed replica is the caller's business
 * (postgres_instance.ts): single-user mode refuses standby.signal ("standby mode is not supported
 * by single-user servers"), and removing the signal would make crash recovery end with a
 * checkpoint record the source does not have, on the same timeline, which pg_rewind then calls
 * "no rewind required" although the replica can no longer stream.
 *
 * pg_rewind overwrites the target in place; a copy of the target's WAL kept beside it lets a run
 * that was interrupted (its source went away) be run again (rewind_wal_backup.ts).
 *
 * PostgreSQL 15's pg_rewind takes the source's timeline from its pg_control, which after a
 * promotion still names the old timeline until the first checkpoint on the new one; it then
 * says "source and target cluster are on the same timeline … no rewind required" and the old
 * primary can never stream. So a CHECKPOINT is run on the source first when its checkpoint's
 * timeline lags its WAL's (promote does one as well; Patroni does the same).
 */
import * as E from "fp-ts/lib/Either.js";
import type { Upstream } from "../ha/actions.js";
import type { PgResult } from "../ha/ports.js";
import { writeServerFiles } from "./conf.js";
import { type ConnParams, formatConninfo, parseConnectionString, withParams } from "./conninfo.js";
import type { ControlDataCache } from "./observe.js";
import type { ProgressReporter } from "./progress.js";
import { removeStaleLockFile } from "./postmaster.js";
import { dropWalBackup, prepareWalBackup } from "./rewind_wal_backup.js";
import { passfileEnv, writePassfile } from "./passfile.js";
import { describeOutcome, runProgram, succeeded } from "./programs.js";
import { DONE, failure } from "./results.js";
import type { ResolvedSettings } from "./settings.js";
import { queryOnce, type SqlTarget } from "./sql.js";

/** The source's checkpoint timeline and WAL timeline (null on a replica source). */
const TIMELINES_SQL = `SELECT (pg_control_checkpoint()).timeline_id AS checkpoint_timeline,
  CASE WHEN NOT pg_is_in_recovery() THEN substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8) END AS wal_timeline`;

async function checkpointIfTimelineLags(s: ResolvedSettings, source: ConnParams): Promise<E.Either<string, void>> {
  const target: SqlTarget = {
    host: source.get("host") ?? "127.0.0.1",
    port: Number(source.get("port") ?? 5432),
    user: s.superuser.username,
    password: s.superuser.password,
    database: "postgres",
    connectTimeoutMs: s.timeouts.connectTimeoutMs,
    queryTimeoutMs: s.timeouts.queryTimeoutMs,
  };
  const rows = await queryOnce<{ checkpoint_timeline: number; wal_timeline: string | null }>(target, TIMELINES_SQL);
  if (E.isLeft(rows)) return E.left(`its timelines cannot be read: ${rows.left.message}`);
  const row = rows.right[0];
  if (row === undefined || row.wal_timeline === null || Number.parseInt(row.wal_timeline, 16) <= row.checkpoint_timeline) return E.right(undefined);
  s.logger.info({ checkpointTimeline: row.checkpoint_timeline, walTimeline: row.wal_timeline }, "the source has not checkpointed since its promotion: running CHECKPOINT there first");
  const done = await queryOnce({ ...target, queryTimeoutMs: s.timeouts.promoteTimeoutMs }, "CHECKPOINT");
  return E.isLeft(done) ? E.left(`CHECKPOINT on it failed: ${done.left.message}`) : E.right(undefined);
}

/** Output of pg_rewind that no retry will change: only a new copy (reinit) helps. */
const IMPOSSIBLE = [/different systems/i, /could not find common ancestor/i, /target server needs to use either data checksums/i, /could not find previous WAL record/i];

/**
 * Output of pg_rewind when the source went away or stopped being a primary mid-way (a second
 * failover, say): not a reason to wipe the data directory, only to rewind again against the
 * primary of the moment (issue 14).
 */
const SOURCE_LOST = [
  /could not connect to server/i,
  /connection to server .* failed/i,
  /server closed the connection unexpectedly/i,
  /terminating connection/i,
  /no connection to the server/i,
  /source server must not be in recovery/i,
  /could not fetch (remote )?file/i,
  /unexpected result while (fetching|sending)/i,
  /unexpected result set/i,
];

export async function rewindFrom(s: ResolvedSettings, source: Upstream, control: ControlDataCache, progress: ProgressReporter): Promise<PgResult> {
  control.invalidate();
  // pg_rewind's single-user crash recovery refuses a postmaster.pid naming a zombie postmaster.
  removeStaleLockFile(s.dataDir, s.logger);
  const controlData = await control.read();
  if (E.isLeft(controlData)) return failure("rewindImpossible", `cannot rewind: ${controlData.left}`);
  if (!controlData.right.dataChecksums && !controlData.right.walLogHints) {
    return failure("rewindImpossible", "cannot rewind: the data directory has neither data checksums nor wal_log_hints (pg_controldata); reinit instead");
  }
  const parsed = parseConnectionString(source.connUrl);
  if (E.isLeft(parsed)) return failure("failed", `cannot rewind from ${source.member}: ${parsed.left}`);
  const conninfo = formatConninfo(withParams(parsed.right, { user: s.superuser.username, password: undefined, dbname: "postgres", application_name: `${s.memberName}_rewind` }));
  const checkpointed = await checkpointIfTimelineLags(s, parsed.right);
  if (E.isLeft(checkpointed)) return failure("sourceLost", `cannot rewind from ${source.member}: ${checkpointed.left}; rewinding again against the primary of the moment`);
  const timeoutMs = s.timeouts.rewindTimeoutMs;
  const backup = await prepareWalBackup(s);
  if (E.isLeft(backup)) s.logger.warn({}, `pg_rewind runs without a copy of this directory's WAL: ${backup.left}; if it is interrupted, the member is cloned again`);
  else if (backup.right) s.logger.info({}, "an earlier pg_rewind was interrupted: this directory's own WAL is put back first");
  await writePassfile(s);
  progress.begin("rewind");
  s.logger.info({ source: source.member }, `rewinding against ${source.member} with pg_rewind`);
  const outcome = await runProgram(s.binDir, s.osUser, {
    program: "pg_rewind",
    args: [`--target-pgdata=${s.dataDir}`, `--source-server=${conninfo}`, "--progress"],
    timeoutMs,
    env: passfileEnv(s),
    onLine: (line) => progress.line(line),
  }).finally(() => progress.end());
  control.invalidate();
  if (!succeeded(outcome)) {
    const said = (patterns: readonly RegExp[]): boolean => outcome.tail.some((line) => patterns.some((pattern) => pattern.test(line)));
    const what = `rewind against ${source.member} failed: ${describeOutcome("pg_rewind", outcome, timeoutMs)}`;
    if (said(IMPOSSIBLE)) return failure("rewindImpossible", `${what}\nReinit from ${source.member} instead.`);
    if (said(SOURCE_LOST)) return failure("sourceLost", `${what}\n${source.member} went away or stopped being the primary: rewinding again against the primary of the moment.`);
    return failure("failed", `${what}\nCheck that ${source.member} runs and accepts the superuser; rewind again or reinit.`);
  }
  await dropWalBackup(s.dataDir);
  const written = await writeServerFiles(s, { role: "replica", upstream: source });
  if (E.isLeft(written)) return failure("failed", `rewind against ${source.member} succeeded but ${written.left}`);
  const noop = outcome.tail.some((line) => line.includes("no rewind required"));
  s.logger.info({ source: source.member }, noop ? `no rewind required against ${source.member}` : `rewound against ${source.member}`);
  return DONE;
}
