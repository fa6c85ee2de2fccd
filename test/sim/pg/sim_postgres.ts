/**
 * The simulated PostgreSQL of every member of one cluster, on the simulator's virtual time (issue
 * 17 item 3). What a whole-cluster simulation needs of PostgreSQL, and nothing it does not:
 * - WAL written, flushed and replayed per member; a process crash keeps what was written, a host
 *   crash loses what was not flushed;
 * - streaming replication from the member primary_conninfo names, with lag, only while the
 *   standby's WAL is a prefix of its upstream's (a forked standby does not stream);
 * - synchronous_standby_names: `FIRST k (…)` waits for the k first-listed streaming standbys,
 *   `ANY k (…)` for any k listed ones; a commit is acknowledged only once they flushed it;
 * - timelines and their history files, made by a promotion; pg_rewind (which may fail, and may
 *   leave the directory unusable) and pg_basebackup; bootstrap, start, stop, promote;
 * - clients' writes, each outcome recorded (sim_clients.ts).
 * The actions are those of the real adapter (src/ha/actions.ts), with callbacks instead of
 * promises: the simulator runs synchronously on its event queue.
 */
import type { MemberName } from "../../../src/dcs/model.js";
import type { PostgresAction } from "../../../src/ha/actions.js";
import type { LocalPostgres, WalSender } from "../../../src/ha/observation.js";
import type { PgResult, PostmasterExit } from "../../../src/ha/ports.js";
import { parseSyncNames } from "../../../src/ha/sync_names.js";
import { assert } from "../../../src/lib/assert.js";
import type { Prng } from "../../../src/lib/prng.js";
import { runAction } from "./sim_pg_actions.js";
import { SimServer } from "./sim_server.js";
import { commonPrefix, lsnAt, nextLsn, type RecordKind, type WalRecord } from "./wal.js";

/** What the simulator's event queue offers (test/sim/event_queue.ts). */
export interface SimScheduler {
  readonly now: number;
  schedule(delayMs: number, run: () => void): void;
}

/** How long things take, in virtual ms; each action's time varies by ±25 % with the seed. */
export interface SimPgTimings {
  readonly initdbMs: number;
  readonly startMs: number;
  readonly stopMs: number;
  readonly promoteMs: number;
  readonly cloneMs: number;
  readonly rewindMs: number;
  readonly reloadMs: number;
  /** An fsync of the WAL. */
  readonly flushMs: number;
  /** How often WAL receivers fetch what their upstream flushed. */
  readonly streamMs: number;
  /** From a standby's flush to its replay. */
  readonly replayMs: number;
}

export const DEFAULT_TIMINGS: SimPgTimings = {
  initdbMs: 800, startMs: 300, stopMs: 200, promoteMs: 100, cloneMs: 1500, rewindMs: 700, reloadMs: 20, flushMs: 2, streamMs: 10, replayMs: 5,
};

export interface SimPgOptions {
  readonly timings?: Partial<SimPgTimings>;
  /** Whether `from` can open a connection to `to` now (the simulated network's partitions). */
  readonly reachable?: (from: MemberName, to: MemberName) => boolean;
  /** The share of pg_rewind runs that fail (half of them leave the directory unusable). */
  readonly rewindFailureRate?: number;
  /** Planted bug, to show the checkers catch it: commits are acknowledged without waiting for synchronous standbys. */
  readonly ackBeforeSync?: boolean;
}

/** What the agents hear of their PostgreSQL without asking (the real port's listeners). */
export interface SimPgListener {
  spawned?(member: MemberName, pid: number): void;
  exited?(member: MemberName, exit: PostmasterExit): void;
  writable?(member: MemberName): void;
}

export type WriteOutcome =
  /** Committed and acknowledged to the client. */
  | { readonly kind: "acked"; readonly member: MemberName; readonly timeline: number; readonly lsn: bigint }
  /** Refused before anything was written (no writable server): certainly not committed. */
  | { readonly kind: "refused"; readonly why: string }
  /** The connection ended while the commit waited: it may or may not be in the WAL. */
  | { readonly kind: "unknown"; readonly member: MemberName; readonly why: string };

interface Waiter {
  readonly count: number;
  readonly record: WalRecord;
  readonly done: (outcome: WriteOutcome) => void;
}

export class SimPostgres {
  readonly timings: SimPgTimings;
  private readonly servers = new Map<MemberName, SimServer>();
  private readonly waiters = new Map<MemberName, Waiter[]>();
  private readonly listeners: SimPgListener[] = [];
  private nextRecordId = 1;
  private nextPid = 1000;
  private nextSystemId = 7_300_000_000_000_000_000n;

  constructor(
    readonly queue: SimScheduler,
    readonly prng: Prng,
    members: readonly MemberName[],
    private readonly options: SimPgOptions = {},
  ) {
    this.timings = { ...DEFAULT_TIMINGS, ...options.timings };
    for (const name of members) {
      this.servers.set(name, new SimServer(name));
      this.waiters.set(name, []);
    }
    this.queue.schedule(this.timings.streamMs, () => this.streamTick());
  }

  server(name: MemberName): SimServer {
    const server = this.servers.get(name);
    assert(server !== undefined, () => `no simulated PostgreSQL named ${name}`);
    return server;
  }

  members(): MemberName[] {
    return [...this.servers.keys()];
  }

  listen(listener: SimPgListener): void {
    this.listeners.push(listener);
  }

  reachable(from: MemberName, to: MemberName): boolean {
    return from === to || (this.options.reachable?.(from, to) ?? true);
  }

  get rewindFailureRate(): number {
    return this.options.rewindFailureRate ?? 0;
  }

  /** Carries out one PostgreSQL action of `name`'s agent (sim_pg_actions.ts); `done` hears its end once. */
  run(name: MemberName, action: PostgresAction, done: SimPgDone): void {
    runAction(this, name, action, done);
  }

  /** What the member's agent observes now. */
  observe(name: MemberName): LocalPostgres {
    return this.server(name).observe(this.senders(name));
  }

  /** pg_stat_replication of `name`: the standbys streaming from it. */
  senders(name: MemberName): WalSender[] {
    const result: WalSender[] = [];
    for (const s of this.servers.values()) {
      if (s.name === name || !s.running || !s.streaming || s.d.upstream !== name) continue;
      result.push({ name: s.name, state: "streaming", flushLsn: s.flushedLsn() });
    }
    return result;
  }

  /** A varied duration around `ms`. */
  jitter(ms: number): number {
    return ms * (0.75 + 0.5 * this.prng.next());
  }

  newSystemId(): string {
    this.nextSystemId += 1_000_003n;
    return this.nextSystemId.toString();
  }

  /** A new record at the end of `server`'s WAL (written, not yet flushed). */
  append(server: SimServer, kind: RecordKind, writeId: string | null = null): WalRecord {
    const d = server.d;
    const record: WalRecord = { id: this.nextRecordId++, lsn: nextLsn(d.wal), timeline: d.timeline, kind, writeId };
    d.wal.push(record);
    if (!d.standby) d.replayed = d.wal.length;
    return record;
  }

  /** A postmaster process begins: the listeners hear its PID before it accepts connections. */
  spawn(server: SimServer): void {
    server.pid = this.nextPid++;
    server.process = "starting";
    for (const l of this.listeners) l.spawned?.(server.name, server.pid);
  }

  /** The server's life changed (stop, crash): timers of the old life do nothing, waiting commits end. */
  endLife(server: SimServer, why: string): void {
    server.epoch++;
    server.pid = null;
    server.streaming = false;
    server.flushPending = false;
    const waiting = this.waiters.get(server.name)!;
    this.waiters.set(server.name, []);
    for (const w of waiting) w.done({ kind: "unknown", member: server.name, why });
  }

  /**
   * The postmaster and its backends are killed (a crash, the watchdog's SIGKILL), or the whole
   * host loses power (`host`: what was written but not flushed is gone). The agent's listener
   * hears of an unexpected exit unless the host went with it.
   */
  crash(name: MemberName, how: "process" | "host"): void {
    const server = this.server(name);
    const wasUp = server.process !== "stopped" && server.process !== "crashed";
    if (wasUp) {
      const pid = server.pid ?? 0;
      this.endLife(server, how === "host" ? "the host crashed" : "the server crashed");
      server.process = "crashed";
      if (how === "process") for (const l of this.listeners) l.exited?.(name, { pid, code: null, signal: "SIGKILL" });
    }
    if (how === "host" && server.dir !== null) {
      const d = server.dir;
      d.wal.length = d.flushed;
      d.replayed = Math.min(d.replayed, d.flushed);
    }
  }

  /** A server whose WAL written may be flushed: one fsync at a time, covering what was written when it began. */
  scheduleFlush(server: SimServer): void {
    if (server.flushPending) return;
    server.flushPending = true;
    const epoch = server.epoch;
    const upTo = server.d.wal.length;
    this.queue.schedule(this.jitter(this.timings.flushMs), () => {
      if (server.epoch !== epoch) return;
      server.flushPending = false;
      const d = server.d;
      d.flushed = Math.max(d.flushed, Math.min(upTo, d.wal.length));
      if (d.standby) this.scheduleReplay(server, d.flushed);
      if (d.flushed < d.wal.length) this.scheduleFlush(server);
      this.release(server.name);
      if (d.upstream !== null && d.standby) this.release(d.upstream);
    });
  }

  private scheduleReplay(server: SimServer, upTo: number): void {
    const epoch = server.epoch;
    this.queue.schedule(this.jitter(this.timings.replayMs), () => {
      if (server.epoch !== epoch || server.dir === null) return;
      server.d.replayed = Math.max(server.d.replayed, Math.min(upTo, server.d.flushed));
    });
  }

  /** Every WAL receiver fetches what its upstream flushed, when it can reach it and its WAL is a prefix of the upstream's. */
  private streamTick(): void {
    this.queue.schedule(this.timings.streamMs, () => this.streamTick());
    for (const s of this.servers.values()) {
      if (!s.running || !s.d.standby) continue;
      const upstreamName = s.d.upstream;
      const upstream = upstreamName === null ? undefined : this.servers.get(upstreamName);
      if (upstream === undefined || !upstream.running || !this.reachable(s.name, upstream.name)) {
        s.streaming = false;
        continue;
      }
      this.receive(s, upstream);
    }
  }

  /**
   * A primary shutting down (fast or smart) writes its shutdown checkpoint, and its walsenders
   * send everything to the standbys streaming from it before they exit (PostgreSQL's
   * WalSndWaitStopping): those it can reach receive its WAL to the end.
   */
  sendToTheEnd(primary: SimServer): void {
    for (const s of this.servers.values()) {
      if (s === primary || !s.running || !s.d.standby || s.d.upstream !== primary.name || !this.reachable(s.name, primary.name)) continue;
      this.receive(s, primary);
    }
  }

  /** `s` fetches what `upstream` flushed, when its WAL is a prefix of the upstream's (else it does not stream). */
  private receive(s: SimServer, upstream: SimServer): void {
    const from = upstream.d;
    const available = from.flushed;
    const mine = s.d.wal;
    const shared = commonPrefix(mine, from.wal.slice(0, available));
    // A standby with WAL its upstream does not have (a fork, or ahead of it) cannot stream.
    if (shared < mine.length || from.systemId !== s.d.systemId) {
      s.streaming = false;
      return;
    }
    s.streaming = true;
    if (available > mine.length) {
      const incoming = from.wal.slice(mine.length, available);
      mine.push(...incoming);
      for (const history of from.history) if (!s.d.history.some((h) => h.timeline === history.timeline)) s.d.history.push(history);
      s.d.timeline = Math.max(s.d.timeline, incoming.at(-1)!.timeline);
      this.scheduleFlush(s);
    }
  }

  /** A client commits a write on `name` (a running primary); `done` hears the outcome once. */
  commit(name: MemberName, writeId: string, done: (outcome: WriteOutcome) => void): void {
    const server = this.server(name);
    if (!server.writable) {
      done({ kind: "refused", why: `${name} is not a running primary (${server.process}, ${server.role ?? "no role"})` });
      return;
    }
    const record = this.append(server, "commit", writeId);
    this.waiters.get(name)!.push({ count: server.d.wal.length, record, done });
    this.scheduleFlush(server);
  }

  /** The commits of `name` that are flushed locally and, under its synchronous_standby_names, on enough standbys. */
  release(name: MemberName): void {
    const server = this.server(name);
    const waiting = this.waiters.get(name)!;
    if (waiting.length === 0 || !server.writable) return;
    const synced = this.syncedLsn(server);
    const local = lsnAt(server.d.wal, server.d.flushed);
    const bound = synced === null ? null : synced < local ? synced : local;
    if (bound === null) return;
    const still: Waiter[] = [];
    for (const w of waiting) {
      if (w.record.lsn <= bound && w.count <= server.d.flushed) w.done({ kind: "acked", member: name, timeline: w.record.timeline, lsn: w.record.lsn });
      else still.push(w);
    }
    this.waiters.set(name, still);
  }

  /**
   * How far the standbys that synchronous_standby_names counts have flushed: no bound when it is
   * empty (asynchronous), null while too few of them stream.
   */
  private syncedLsn(server: SimServer): bigint | null {
    const sync = parseSyncNames(server.d.syncStandbyNames);
    if (sync === null || sync.count === 0 || this.options.ackBeforeSync === true) return BigInt(Number.MAX_SAFE_INTEGER);
    const streaming = new Map(this.senders(server.name).filter((s) => this.reachable(s.name as MemberName, server.name)).map((s) => [s.name, s.flushLsn!]));
    const listed = sync.names.filter((n) => streaming.has(n));
    if (listed.length < sync.count) return null;
    const flushes = sync.kind === "priority"
      ? listed.slice(0, sync.count).map((n) => streaming.get(n)!)
      : listed.map((n) => streaming.get(n)!).sort((a, b) => (a > b ? -1 : a < b ? 1 : 0)).slice(0, sync.count);
    return flushes.reduce((min, lsn) => (lsn < min ? lsn : min));
  }

  emitWritable(server: SimServer): void {
    for (const l of this.listeners) l.writable?.(server.name);
  }

  /** Every server's invariants (sim_server.ts), for the checkers after each step. */
  checkInvariants(): void {
    for (const s of this.servers.values()) s.checkInvariants();
  }
}

export type SimPgDone = (result: PgResult) => void;
