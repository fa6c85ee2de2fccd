/**
 * The simulated PostgreSQL (issue 17 item 3) against what real PostgreSQL does, one behaviour at
 * a time on virtual time: streaming, synchronous_standby_names (FIRST k, ANY k, strict
 * placeholders), crashes of a process and of a host, promotions and their timelines, forks that
 * stop streaming, pg_rewind and its failures, and the client-side checks.
 */
import * as E from "fp-ts/lib/Either.js";
import t from "tap";
import type { MemberName } from "../../../src/dcs/model.js";
import type { PostgresAction, Upstream } from "../../../src/ha/actions.js";
import type { PgResult } from "../../../src/ha/ports.js";
import { formatSyncNames, placeholder } from "../../../src/ha/sync_names.js";
import { createPrng } from "../../../src/lib/prng.js";
import { EventQueue } from "../event_queue.js";
import { missingAcknowledged, overlappingPrimaries, SimClients } from "./sim_clients.js";
import { SimPostgres, type SimPgOptions } from "./sim_postgres.js";

const [A, B, C] = ["a", "b", "c"] as MemberName[] as [MemberName, MemberName, MemberName];
const up = (member: MemberName): Upstream => ({ member, connUrl: `postgresql://${member}:5432/postgres` });

class Rig {
  readonly queue = new EventQueue();
  readonly cut = new Set<string>();
  readonly pg: SimPostgres;
  readonly clients: SimClients;
  readonly events: string[] = [];

  constructor(options: Omit<SimPgOptions, "reachable"> = {}, seed = 1) {
    this.pg = new SimPostgres(this.queue, createPrng(seed), [A, B, C], { ...options, reachable: (x, y) => !this.cut.has(`${x}|${y}`) && !this.cut.has(`${y}|${x}`) });
    this.clients = new SimClients(this.pg);
    this.pg.listen({
      spawned: (m) => this.events.push(`${m} spawned`),
      exited: (m, e) => this.events.push(`${m} exited ${e.signal}`),
      writable: (m) => this.events.push(`${m} writable`),
    });
  }

  /** Runs the queue for `ms` of virtual time. */
  advance(ms: number): void {
    const until = this.queue.now + ms;
    while (this.queue.runNext(until));
    this.queue.now = until;
    this.pg.checkInvariants();
  }

  /** Runs `action` on `member` to its end (at most 10 virtual seconds). */
  act(member: MemberName, action: PostgresAction): PgResult {
    let result: PgResult | null = null;
    this.pg.run(member, action, (r) => {
      if (result !== null) throw new Error(`${action.kind} on ${member} ended twice`);
      result = r;
    });
    for (let i = 0; i < 1000 && result === null; i++) this.advance(10);
    if (result === null) throw new Error(`${action.kind} on ${member} never ended`);
    return result;
  }

  ok(member: MemberName, action: PostgresAction): void {
    const result = this.act(member, action);
    if (E.isLeft(result)) throw new Error(`${action.kind} on ${member}: ${result.left.code}: ${result.left.message}`);
  }

  /** A primary a with replicas b and c streaming from it. */
  threeMembers(): this {
    this.ok(A, { kind: "bootstrap" });
    for (const m of [B, C]) {
      this.ok(m, { kind: "clone", source: up(A) });
      this.ok(m, { kind: "start", as: "replica", upstream: up(A) });
    }
    this.advance(100);
    return this;
  }

  partition(x: MemberName, y: MemberName): void {
    this.cut.add(`${x}|${y}`);
  }

  heal(): void {
    this.cut.clear();
  }

  writes(n: number, hosts: readonly MemberName[] = [A, B, C]): ReturnType<SimClients["writeVia"]>[] {
    return Array.from({ length: n }, () => this.clients.writeVia(hosts));
  }
}

/** The failure code of an action's result, or "ok". */
const codeOf = (result: PgResult): string => (E.isLeft(result) ? result.left.code : "ok");

const outcomes = (records: readonly { outcome: { kind: string } | null }[]): string[] => records.map((r) => r.outcome?.kind ?? "waiting");

t.test("bootstrap, clone and streaming: replicas receive and replay what the primary flushed", async (t) => {
  const rig = new Rig().threeMembers();
  const a = rig.pg.observe(A);
  t.match(a, { dataDir: "initialized", process: "running", role: "primary", timeline: 1, syncStandbyNames: "" }, "a is the primary on timeline 1");
  t.same(a.senders.map((s) => s.name).sort(), [B, C], "b and c stream from it");
  const written = rig.writes(5);
  rig.advance(50);
  t.same(outcomes(written), ["acked", "acked", "acked", "acked", "acked"], "asynchronous commits are acknowledged once flushed");
  const [after, b] = [rig.pg.observe(A), rig.pg.observe(B)];
  t.equal(b.role, "replica", "b is a replica");
  t.ok(b.streaming, "b streams");
  t.equal(b.walReplayed, after.walWritten, "b replayed everything the primary wrote");
  t.equal(b.upstream, A, "primary_conninfo names a");
  t.same(rig.events.filter((e) => e.endsWith("spawned")), ["a spawned", "b spawned", "c spawned"], "each postmaster is announced as it spawns");
  t.same(missingAcknowledged(rig.pg, rig.clients, B), [], "b holds every acknowledged write");
});

t.test("FIRST k waits for the first-listed streaming standbys; ANY k for any k", async (t) => {
  const rig = new Rig().threeMembers();
  rig.ok(A, { kind: "setSyncStandbyNames", value: formatSyncNames({ kind: "priority", count: 2, names: [B, C] }) });
  rig.partition(A, C);
  rig.advance(50);
  const waiting = rig.writes(1);
  rig.advance(500);
  t.same(outcomes(waiting), ["waiting"], "FIRST 2 (b, c) with c cut off: the commit waits");
  rig.heal();
  rig.advance(100);
  t.same(outcomes(waiting), ["acked"], "it is acknowledged once c streams and flushed it");

  rig.ok(A, { kind: "setSyncStandbyNames", value: formatSyncNames({ kind: "priority", count: 1, names: [B, C] }) });
  rig.partition(A, B);
  rig.advance(50);
  const second = rig.writes(1);
  rig.advance(100);
  t.same(outcomes(second), ["acked"], "FIRST 1 (b, c) with b cut off: c, the next listed, confirms");
  t.same(missingAcknowledged(rig.pg, rig.clients, C), [], "c holds it");
  t.not(missingAcknowledged(rig.pg, rig.clients, B).length, 0, "b does not");
  rig.heal();

  rig.ok(A, { kind: "setSyncStandbyNames", value: formatSyncNames({ kind: "quorum", count: 1, names: [B, C] }) });
  rig.partition(A, B);
  rig.advance(50);
  const quorum = rig.writes(1);
  rig.advance(100);
  t.same(outcomes(quorum), ["acked"], "ANY 1 (b, c): c alone is enough");
  rig.partition(A, C);
  rig.advance(50);
  const none = rig.writes(1);
  rig.advance(500);
  t.same(outcomes(none), ["waiting"], "ANY 1 (b, c) with both cut off: it waits");
  rig.heal();

  rig.ok(A, { kind: "setSyncStandbyNames", value: formatSyncNames({ kind: "priority", count: 2, names: [B, placeholder(0)] }) });
  const strict = rig.writes(1);
  rig.advance(500);
  t.same(outcomes(strict), ["waiting"], "a strict placeholder never confirms: the commit waits");
  rig.ok(A, { kind: "setSyncStandbyNames", value: null });
  rig.advance(20);
  t.same(outcomes(strict), ["acked"], "back to asynchronous, the waiting commit is released");
});

t.test("a fast stop ends waiting commits as unknown and leaves a clean shutdown checkpoint", async (t) => {
  const rig = new Rig().threeMembers();
  rig.ok(A, { kind: "setSyncStandbyNames", value: formatSyncNames({ kind: "priority", count: 1, names: [placeholder(0)] }) });
  const waiting = rig.writes(2);
  rig.advance(50);
  rig.ok(A, { kind: "stop", mode: "fast" });
  t.same(outcomes(waiting), ["unknown", "unknown"], "the clients lost their connection: outcome unknown");
  const a = rig.pg.observe(A);
  t.match(a, { process: "stopped", role: null, controlState: "shut down", timeline: 1 }, "a is cleanly shut down");
  t.ok(a.checkpointLsn !== null && a.checkpointLsn > 0n, "it reports its checkpoint");
  t.same(rig.clients.writeVia([A]).outcome?.kind, "refused", "a stopped server refuses a new write at once");
  const stopAgain = rig.act(A, { kind: "stop", mode: "fast" });
  t.ok(E.isRight(stopAgain), "stopping a stopped server does nothing");
});

t.test("a fast stop sends the shutdown checkpoint to the standbys it can reach, and reports where that record starts", async (t) => {
  const rig = new Rig().threeMembers();
  rig.writes(3);
  rig.advance(200);
  rig.cut.add(`${A}|${C}`);
  rig.ok(A, { kind: "stop", mode: "fast" });
  const a = rig.pg.observe(A);
  rig.advance(50);
  const b = rig.pg.observe(B);
  const c = rig.pg.observe(C);
  // pg_controldata's "Latest checkpoint location" is the record's start; a standby that received
  // the record has received past it (PostgreSQL's walsenders send everything before they exit).
  t.ok(a.checkpointLsn !== null && b.walReceived !== null && b.walReceived > a.checkpointLsn, `b received past the shutdown checkpoint's start (${b.walReceived} > ${a.checkpointLsn})`);
  t.ok(c.walReceived !== null && a.checkpointLsn !== null && c.walReceived <= a.checkpointLsn, `c, cut off from a, did not (${c.walReceived} <= ${a.checkpointLsn})`);
});

t.test("a process crash keeps the WAL written; a host crash loses what was not flushed", async (t) => {
  const rig = new Rig({ timings: { flushMs: 50 } }).threeMembers();
  const beforeFlush = rig.writes(1, [A]);
  rig.pg.crash(A, "process");
  t.same(outcomes(beforeFlush), ["unknown"], "the commit's connection died with the server");
  t.same(rig.events.at(-1), "a exited SIGKILL", "the agent hears of the unexpected exit");
  t.ok(rig.pg.server(A).d.wal.some((r) => r.writeId === beforeFlush[0]!.writeId), "after a process crash the written record is still in the files");
  rig.ok(A, { kind: "start", as: "primary", upstream: null });
  const lost = rig.writes(1, [A]);
  const events = rig.events.length;
  rig.pg.crash(A, "host");
  t.equal(rig.events.length, events, "a host crash takes the agent too: no exit is reported");
  t.notOk(rig.pg.server(A).d.wal.some((r) => r.writeId === lost[0]!.writeId), "after a host crash the unflushed record is gone");
  t.equal(rig.pg.observe(A).controlState, "in production", "pg_control still says in production: crash recovery at the next start");
});

t.test("a promotion starts a timeline with its history; the old primary forks and stops streaming until pg_rewind", async (t) => {
  const rig = new Rig().threeMembers();
  rig.writes(3);
  rig.advance(50);
  // a is cut off from both replicas and keeps taking asynchronous writes nobody else receives.
  rig.partition(A, B);
  rig.partition(A, C);
  rig.advance(50);
  const forked = rig.writes(2, [A]);
  rig.advance(50);
  t.same(outcomes(forked), ["acked", "acked"], "the isolated primary acknowledges asynchronous writes");
  const switchAt = rig.pg.observe(B).walReplayed;
  rig.ok(B, { kind: "promote" });
  t.same(rig.events.at(-1), "b writable", "the agent hears that b takes writes");
  const b = rig.pg.observe(B);
  t.match(b, { role: "primary", timeline: 2, timelineParent: 1, timelineSwitchLsn: switchAt }, "b is on timeline 2, branched where it had replayed");
  rig.ok(C, { kind: "followPrimary", upstream: up(B) });
  rig.advance(50);
  t.ok(rig.pg.observe(C).streaming, "c follows b onto timeline 2");
  t.equal(rig.pg.observe(C).replayTimeline, 2, "c replays timeline 2");

  t.same(overlappingPrimaries(rig.clients), [], "no overlap yet: b acknowledged nothing");
  rig.writes(1, [B]);
  rig.advance(50);
  t.match(overlappingPrimaries(rig.clients), [], "a's acknowledgements ended before b's began");
  rig.writes(1, [A]);
  rig.advance(50);
  t.match(overlappingPrimaries(rig.clients).join(), /a \(timeline 1\).*b \(timeline 2\)/, "a acknowledging again while b does is reported as two primaries at once");

  t.same(missingAcknowledged(rig.pg, rig.clients, B).sort(), [...forked.map((r) => r.writeId), rig.clients.history.at(-1)!.writeId].sort(), "the writes a acknowledged after the cut are not on b");
  rig.heal();
  rig.ok(A, { kind: "stop", mode: "fast" });
  rig.ok(A, { kind: "start", as: "replica", upstream: up(B) });
  rig.advance(100);
  t.notOk(rig.pg.observe(A).streaming, "a forked from b's history: it does not stream");
  rig.ok(A, { kind: "stop", mode: "fast" });
  rig.ok(A, { kind: "rewind", source: up(B) });
  t.match(rig.pg.observe(A), { process: "stopped", timeline: 2, controlState: "in archive recovery", minRecoveryTimeline: 2 }, "pg_rewind put a on b's timeline");
  rig.ok(A, { kind: "start", as: "replica", upstream: up(B) });
  rig.advance(100);
  t.ok(rig.pg.observe(A).streaming, "a streams from b after the rewind");
  t.same(missingAcknowledged(rig.pg, rig.clients, A), missingAcknowledged(rig.pg, rig.clients, B), "and holds what b holds");
});

t.test("two promotions without an archive may pick the same timeline number; records, not numbers, tell the forks apart", async (t) => {
  const rig = new Rig().threeMembers();
  rig.partition(B, C);
  rig.pg.crash(A, "host");
  rig.ok(B, { kind: "promote" });
  rig.ok(C, { kind: "promote" });
  t.equal(rig.pg.observe(B).timeline, 2, "b chose timeline 2");
  t.equal(rig.pg.observe(C).timeline, 2, "both chose timeline 2");
  rig.heal();
  rig.ok(C, { kind: "stop", mode: "fast" });
  rig.ok(C, { kind: "start", as: "replica", upstream: up(B) });
  rig.advance(100);
  t.notOk(rig.pg.observe(C).streaming, "c's timeline 2 is not b's: it does not stream");
});

t.test("pg_rewind's failures: another system is impossible; a failed run may leave the directory unable to start", async (t) => {
  const rig = new Rig({ rewindFailureRate: 1 }, 7).threeMembers();
  rig.ok(A, { kind: "stop", mode: "fast" });
  const results: string[] = [];
  let damaged = false;
  for (let i = 0; i < 8 && !damaged; i++) {
    const r = rig.act(A, { kind: "rewind", source: up(B) });
    results.push(codeOf(r));
    damaged = rig.pg.server(A).d.damaged !== null;
  }
  t.ok(results.every((r) => r === "failed"), `every run failed: ${results.join(", ")}`);
  t.ok(damaged, "one failure left the directory unusable");
  const start = rig.act(A, { kind: "start", as: "replica", upstream: up(B) });
  t.ok(E.isLeft(start) && start.left.code === "failed" && start.left.serverErrors?.[0]?.startsWith("PANIC"), "PostgreSQL refuses to start it, with its PANIC line");

  const other = new Rig({}, 8);
  other.ok(A, { kind: "bootstrap" });
  other.ok(B, { kind: "bootstrap" });
  other.ok(A, { kind: "stop", mode: "fast" });
  const impossible = other.act(A, { kind: "rewind", source: up(B) });
  t.equal(codeOf(impossible), "rewindImpossible", "b is another database system: rewindImpossible");
});

t.test("actions refuse the wrong state, and a crash interrupts the one running", async (t) => {
  const rig = new Rig().threeMembers();
  const promotePrimary = rig.act(A, { kind: "promote" });
  t.equal(codeOf(promotePrimary), "wrongState", "a primary cannot be promoted");
  const startRunning = rig.act(B, { kind: "start", as: "replica", upstream: up(A) });
  t.equal(codeOf(startRunning), "wrongState", "a running server cannot be started");
  const rewindRunning = rig.act(B, { kind: "rewind", source: up(A) });
  t.equal(codeOf(rewindRunning), "wrongState", "pg_rewind needs it stopped");
  rig.pg.crash(A, "host");
  rig.ok(C, { kind: "stop", mode: "fast" });
  const clone = rig.act(C, { kind: "reinit", source: up(A), reason: "test" });
  t.equal(codeOf(clone), "sourceLost", "a clone from a crashed primary: sourceLost");
  let promote: PgResult | null = null;
  rig.pg.run(B, { kind: "promote" }, (r) => (promote = r));
  rig.pg.crash(B, "process");
  rig.advance(1000);
  t.equal(promote === null ? "not ended" : codeOf(promote), "failed", "a crash during the promotion fails it");
  t.equal(rig.pg.observe(B).role, null, "and b is not a primary");
});

t.test("a former replica started without standby.signal takes writes on the timeline it is on", async (t) => {
  const rig = new Rig().threeMembers();
  rig.ok(B, { kind: "stop", mode: "fast" });
  rig.ok(B, { kind: "start", as: "primary", upstream: null });
  t.match(rig.pg.observe(B), { role: "primary", timeline: 1 }, "as PostgreSQL does: no promotion, no new timeline");
  for (let i = 0; i < 3; i++) {
    rig.writes(1, [B]);
    rig.writes(1, [A]);
    rig.advance(20);
  }
  t.not(overlappingPrimaries(rig.clients).length, 0, "two primaries acknowledging on timeline 1 are caught");
});

t.test("the same seed replays the same history", async (t) => {
  const run = (seed: number): string => {
    const rig = new Rig({ rewindFailureRate: 0.3 }, seed).threeMembers();
    rig.writes(20);
    rig.advance(37);
    rig.pg.crash(A, "host");
    rig.act(B, { kind: "promote" });
    rig.writes(5, [A, B, C]);
    rig.advance(200);
    return JSON.stringify({ h: rig.clients.history, q: rig.queue.now, b: rig.pg.observe(B) }, (_k, v) => (typeof v === "bigint" ? v.toString() : v));
  };
  t.equal(run(11), run(11), "seed 11 twice");
  t.not(run(11), run(12), "another seed, another history");
});
