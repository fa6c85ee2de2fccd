/**
 * observe(): what the local PostgreSQL is now, as plain data for decide(). The data directory and
 * pg_controldata always; SQL when the postmaster runs. Never throws: whatever failed is in
 * `problem`, for operators.
 */
import { open, stat } from "node:fs/promises";
import { join } from "node:path";
import * as E from "fp-ts/lib/Either.js";
import type { LocalPostgres } from "../ha/observation.js";
import type { Lsn } from "./types.js";
import { readUpstreamMember } from "./conf.js";
import { type ControlData, readControlData } from "./controldata.js";
import { checkDataDir } from "./files.js";
import { lsnOrNull } from "./lsn.js";
import type { Postmaster } from "./postmaster.js";
import type { ResolvedSettings } from "./settings.js";
import type { SqlSession } from "./sql.js";

/** An observation that found out nothing beyond the data directory and the process state. */
export const NOTHING: Omit<LocalPostgres, "dataDir" | "process"> = {
  systemId: null,
  role: null,
  timeline: null,
  replayTimeline: null,
  controlState: "unknown",
  checkpointLsn: null,
  timelineSwitchLsn: null,
  timelineParent: null,
  minRecoveryLsn: null,
  minRecoveryTimeline: null,
  walWritten: null,
  walReceived: null,
  walReplayed: null,
  streaming: false,
  upstream: null,
  syncStandbyNames: null,
  senders: [],
  problem: null,
};

/**
 * One round trip. The primary's timeline comes from the name of its current WAL file (the
 * checkpoint's lags after a promotion until the next checkpoint); a replica's from the WAL
 * receiver while it streams, else from the last restartpoint. CASE keeps the functions that
 * fail during recovery (pg_current_wal_lsn, pg_walfile_name) from running on a replica.
 */
const OBSERVE_SQL = `
SELECT r.recovery,
  CASE WHEN NOT r.recovery THEN pg_current_wal_lsn()::text END AS written,
  CASE WHEN NOT r.recovery THEN substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8) END AS wal_timeline,
  CASE WHEN r.recovery THEN pg_last_wal_receive_lsn()::text END AS received,
  CASE WHEN r.recovery THEN pg_last_wal_replay_lsn()::text END AS replayed,
  w.status AS receiver_status,
  w.received_tli,
  (pg_control_checkpoint()).timeline_id AS checkpoint_timeline,
  CASE WHEN r.recovery THEN (pg_control_recovery()).min_recovery_end_timeline END AS min_recovery_timeline,
  CASE WHEN r.recovery THEN (pg_control_recovery()).min_recovery_end_lsn::text END AS min_recovery_lsn,
  current_setting('synchronous_standby_names') AS sync_names,
  (SELECT coalesce(json_agg(json_build_object('name', application_name, 'state', state, 'flush', flush_lsn::text)), '[]'::json)
     FROM pg_stat_replication) AS senders
FROM (SELECT pg_is_in_recovery() AS recovery) r
LEFT JOIN (SELECT status, received_tli FROM pg_stat_wal_receiver LIMIT 1) w ON true`;

interface ObserveRow {
  readonly [column: string]: unknown;
  readonly recovery: boolean;
  readonly written: string | null;
  readonly wal_timeline: string | null;
  readonly received: string | null;
  readonly replayed: string | null;
  readonly receiver_status: string | null;
  readonly received_tli: number | null;
  readonly checkpoint_timeline: number | null;
  readonly min_recovery_timeline: number | null;
  readonly min_recovery_lsn: string | null;
  readonly sync_names: string;
  readonly senders: readonly { readonly name: string; readonly state: string | null; readonly flush: string | null }[];
}

/**
 * pg_controldata once per change of global/pg_control (its mtime and size); and the switch
 * points of timelines read from their history files, which a rewind or a clone may replace with
 * another history under the same timeline numbers (after demote-cluster, say): invalidate()
 * forgets both.
 */
export class ControlDataCache {
  private key = "";
  private value: ControlData | null = null;
  /** Switch points by timeline, of this data directory as it is now. */
  readonly switchPoints = new Map<number, Branch>();

  constructor(private readonly settings: ResolvedSettings) {}

  async read(): Promise<E.Either<string, ControlData>> {
    const s = this.settings;
    let key: string;
    try {
      const stats = await stat(join(s.dataDir, "global", "pg_control"));
      key = `${stats.mtimeMs}:${stats.size}:${stats.ino}`;
    } catch (error) {
      return E.left(`cannot read global/pg_control: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
    }
    if (key === this.key && this.value !== null) return E.right(this.value);
    const read = await readControlData(s.binDir, s.osUser, s.dataDir);
    if (E.isRight(read)) {
      this.key = key;
      this.value = read.right;
    }
    return read;
  }

  invalidate(): void {
    this.key = "";
    this.value = null;
    this.switchPoints.clear();
  }
}

export async function observeLocal(s: ResolvedSettings, postmaster: Postmaster, control: ControlDataCache, session: SqlSession, replication: SqlSession): Promise<LocalPostgres> {
  const process = postmaster.state;
  const dir = await checkDataDir(s.dataDir, s.osUser);
  if (dir.state !== "initialized") return { ...NOTHING, dataDir: dir.state, process, problem: dir.problem };
  const upstream = await readUpstreamMember(s.dataDir);
  const controlData = await control.read();
  const base: LocalPostgres = E.isRight(controlData)
    ? {
        ...NOTHING,
        dataDir: "initialized",
        process,
        upstream,
        systemId: controlData.right.systemId,
        controlState: controlData.right.state,
        timeline: process === "running" ? null : controlData.right.checkpointTimeline,
        checkpointLsn: process === "running" ? null : controlData.right.checkpointLsn,
        minRecoveryLsn: process === "running" ? null : controlData.right.minRecoveryLsn,
        minRecoveryTimeline: process === "running" ? null : controlData.right.minRecoveryTimeline,
      }
    : { ...NOTHING, dataDir: "initialized", process, upstream, problem: controlData.left };
  if (process !== "running") {
    // A stopped primary's branch: its timeline may not be in the cluster state's history yet
    // (promoted, then cut off before the record committed; race.ts records it).
    const timeline = base.timeline;
    const branch = timeline === null || timeline <= 1 ? null : await diskSwitchPoint(s, control, timeline);
    return branch === null ? base : { ...base, timelineSwitchLsn: branch.lsn, timelineParent: branch.parent };
  }
  const rows = await session.query<ObserveRow>(OBSERVE_SQL);
  if (E.isLeft(rows) || rows.right[0] === undefined) {
    const why = E.isLeft(rows) ? rows.left.message : "no row";
    return { ...base, timeline: null, problem: `the server runs but does not answer SQL: ${why}` };
  }
  const observed = { ...base, ...fromRow(rows.right[0]) };
  if (observed.role === "replica") {
    const replayTimeline = await readReplayTimeline(replication);
    return replayTimeline === null ? observed : { ...observed, timeline: replayTimeline, replayTimeline };
  }
  if (observed.role !== "primary" || observed.timeline === null || observed.timeline <= 1) return observed;
  const branch = await switchPoint(control, session, observed.timeline);
  return branch === null ? observed : { ...observed, timelineSwitchLsn: branch.lsn, timelineParent: branch.parent };
}

/**
 * The timeline a replica replays now: IDENTIFY_SYSTEM on a `replication=database` session answers
 * a standby's replay timeline. Asked after the position was read, it names that position's
 * timeline or a later one. Null when it cannot be read (the replication user refused, say).
 */
async function readReplayTimeline(replication: SqlSession): Promise<number | null> {
  const identified = await replication.query<{ timeline: number | string }>("IDENTIFY_SYSTEM");
  if (E.isLeft(identified)) return null;
  const timeline = Number(identified.right[0]?.timeline);
  return Number.isInteger(timeline) && timeline >= 1 ? timeline : null;
}

interface Branch {
  readonly parent: number;
  readonly lsn: Lsn;
}


/** A history file is a few lines per timeline; more than this is not one. */
const HISTORY_FILE_BYTES_MAX = 1024 * 1024;

function historyFileName(timeline: number): string {
  return `${timeline.toString(16).toUpperCase().padStart(8, "0")}.history`;
}

/** The last line of a timeline history file ("<parent>\t<lsn>\t<reason>"), or null when it is not one. */
function branchOf(text: string, timeline: number): Branch | null {
  const lines = text.split("\n").filter((line) => /^\d+\t/.test(line));
  const fields = lines[lines.length - 1]?.split("\t") ?? [];
  const parent = Number(fields[0]);
  const lsn = lsnOrNull(fields[1] ?? null);
  if (lsn === null || !Number.isInteger(parent) || parent <= 0 || parent >= timeline) return null;
  return { parent, lsn };
}

/**
 * Where `timeline` branched off its parent: the last line of its history file, as Patroni reads
 * it for /history; null when it cannot be read.
 */
async function switchPoint(control: ControlDataCache, session: SqlSession, timeline: number): Promise<Branch | null> {
  const known = control.switchPoints.get(timeline);
  if (known !== undefined) return known;
  const read = await session.query<{ text: string | null }>("SELECT pg_read_file($1, 0, $2, true) AS text", [`pg_wal/${historyFileName(timeline)}`, HISTORY_FILE_BYTES_MAX]);
  if (E.isLeft(read)) return null;
  const branch = branchOf(read.right[0]?.text ?? "", timeline);
  if (branch !== null) control.switchPoints.set(timeline, branch);
  return branch;
}

/** The same from the data directory on disk, while PostgreSQL is down; null when it cannot be read. */
async function diskSwitchPoint(s: ResolvedSettings, control: ControlDataCache, timeline: number): Promise<Branch | null> {
  const known = control.switchPoints.get(timeline);
  if (known !== undefined) return known;
  let text: string;
  try {
    const file = await open(join(s.dataDir, "pg_wal", historyFileName(timeline)), "r");
    try {
      const buffer = Buffer.alloc(HISTORY_FILE_BYTES_MAX);
      const { bytesRead } = await file.read(buffer, 0, HISTORY_FILE_BYTES_MAX, 0);
      text = buffer.subarray(0, bytesRead).toString("utf8");
    } finally {
      await file.close();
    }
  } catch {
    return null;
  }
  const branch = branchOf(text, timeline);
  if (branch !== null) control.switchPoints.set(timeline, branch);
  return branch;
}

function fromRow(row: ObserveRow): Partial<LocalPostgres> {
  const shared = {
    syncStandbyNames: row.sync_names,
    senders: row.senders.map((sender) => ({ name: sender.name, state: sender.state ?? "", flushLsn: lsnOrNull(sender.flush) })),
  };
  if (!row.recovery) {
    return {
      ...shared,
      role: "primary",
      timeline: row.wal_timeline === null ? row.checkpoint_timeline : Number.parseInt(row.wal_timeline, 16),
      walWritten: lsnOrNull(row.written),
      streaming: false,
    };
  }
  const streaming = row.receiver_status === "streaming";
  return {
    ...shared,
    role: "replica",
    timeline: streaming && row.received_tli !== null ? row.received_tli : row.checkpoint_timeline,
    walReceived: lsnOrNull(row.received),
    walReplayed: lsnOrNull(row.replayed),
    ...(row.min_recovery_timeline !== null && row.min_recovery_timeline > 0 && row.min_recovery_lsn !== null && row.min_recovery_lsn !== "0/0"
      ? { minRecoveryTimeline: row.min_recovery_timeline, minRecoveryLsn: lsnOrNull(row.min_recovery_lsn) }
      : {}),
    streaming,
  };
}
