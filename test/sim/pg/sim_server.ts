/**
 * One member's simulated PostgreSQL: its data directory (WAL written and flushed, timeline and
 * history files, pg_control's state, the standby and upstream settings) and its postmaster, and
 * what the agent's observation of it reads (the LocalPostgres the real adapter builds from SQL
 * and pg_controldata). The transitions that need other servers or time are in sim_postgres.ts.
 */
import type { Lsn, MemberName } from "../../../src/dcs/model.js";
import type { ControlState, LocalPostgres, ProcessState, WalSender } from "../../../src/ha/observation.js";
import { assert } from "../../../src/lib/assert.js";
import { NOTHING } from "../../../src/pg/observe.js";
import { checkWal, lsnAfter, lsnAt, switchOf, type TimelineSwitch, type WalRecord } from "./wal.js";

export interface DataDir {
  readonly systemId: string;
  /** Written: in PostgreSQL's files, which survive a process crash but not a host crash beyond `flushed`. */
  wal: WalRecord[];
  /** The first `flushed` records are on the disk. */
  flushed: number;
  /** A replica: the records replayed; a primary replays nothing (equal to what it wrote). */
  replayed: number;
  timeline: number;
  /** The history files: every switch leading to `timeline`. */
  history: TimelineSwitch[];
  control: ControlState;
  checkpointLsn: Lsn;
  minRecovery: { readonly lsn: Lsn; readonly timeline: number } | null;
  /** standby.signal: it starts as a replica. */
  standby: boolean;
  /** The member primary_conninfo points at. */
  upstream: MemberName | null;
  /** synchronous_standby_names as written for it; '' is asynchronous. */
  syncStandbyNames: string;
  /** An interrupted pg_rewind left it unusable: why PostgreSQL refuses to start, else null. */
  damaged: string | null;
}

export class SimServer {
  dir: DataDir | null = null;
  process: ProcessState = "stopped";
  pid: number | null = null;
  /** Changes at each crash, kill and stop, so a timer of an earlier life does nothing. */
  epoch = 0;
  /** Its WAL receiver streams from `dir.upstream`. */
  streaming = false;
  /** A flush is scheduled. */
  flushPending = false;

  constructor(readonly name: MemberName) {}

  get running(): boolean {
    return this.process === "running";
  }

  get role(): "primary" | "replica" | null {
    if (this.process !== "running" || this.dir === null) return null;
    return this.dir.standby ? "replica" : "primary";
  }

  /** Takes writes: a running primary. */
  get writable(): boolean {
    return this.role === "primary";
  }

  /** The data directory, which the caller knows exists. */
  get d(): DataDir {
    assert(this.dir !== null, () => `${this.name} has no data directory`);
    return this.dir;
  }

  /** Where its flushed WAL ends (what a walsender sends and a standby reports as flushed). */
  flushedLsn(): Lsn {
    return lsnAt(this.d.wal, this.d.flushed);
  }

  /** The timeline of the newest record replayed (a replica) or written. */
  replayTimeline(): number {
    const d = this.d;
    return d.wal[d.replayed - 1]?.timeline ?? d.timeline;
  }

  /** Every timeline this directory knows of, from its history files and its WAL. */
  newestTimelineKnown(): number {
    const d = this.d;
    return Math.max(d.timeline, ...d.history.map((s) => s.timeline), ...d.wal.slice(-1).map((r) => r.timeline));
  }

  checkInvariants(): void {
    const d = this.dir;
    if (d === null) return;
    checkWal(d.wal, this.name);
    assert(d.flushed >= 0 && d.flushed <= d.wal.length, () => `${this.name}: flushed ${d.flushed} of ${d.wal.length}`);
    assert(d.replayed <= d.wal.length, () => `${this.name}: replayed ${d.replayed} of ${d.wal.length}`);
    const last = d.wal.at(-1);
    assert(last === undefined || last.timeline <= d.timeline, () => `${this.name}: a record on timeline ${last!.timeline} past its timeline ${d.timeline}`);
  }

  /** What the real adapter's observe() returns for this server now; `senders` from the world. */
  observe(senders: readonly WalSender[]): LocalPostgres {
    const d = this.dir;
    if (d === null) return { ...NOTHING, dataDir: "empty", process: this.process };
    const branch = switchOf(d.history, d.timeline);
    const base: LocalPostgres = {
      ...NOTHING,
      dataDir: "initialized",
      process: this.process,
      systemId: d.systemId,
      controlState: d.control,
      upstream: d.upstream,
      timeline: d.timeline,
      timelineSwitchLsn: branch?.switchLsn ?? null,
      timelineParent: branch?.parent ?? null,
    };
    if (this.process !== "running") {
      return {
        ...base,
        checkpointLsn: d.checkpointLsn,
        minRecoveryLsn: d.minRecovery?.lsn ?? null,
        minRecoveryTimeline: d.minRecovery?.timeline ?? null,
      };
    }
    const common = { ...base, syncStandbyNames: d.syncStandbyNames, senders };
    if (!d.standby) return { ...common, role: "primary", walWritten: lsnAfter(d.wal) };
    return {
      ...common,
      role: "replica",
      // A replica reports no switch point of its own (the real adapter reads it only when stopped or primary).
      timelineSwitchLsn: null,
      timelineParent: null,
      timeline: this.replayTimeline(),
      replayTimeline: this.replayTimeline(),
      walReceived: lsnAt(d.wal, d.flushed),
      walReplayed: lsnAt(d.wal, d.replayed),
      minRecoveryLsn: d.minRecovery?.lsn ?? null,
      minRecoveryTimeline: d.minRecovery?.timeline ?? null,
      streaming: this.streaming,
    };
  }
}
