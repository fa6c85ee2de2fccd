/**
 * The HA loop never lets PostgreSQL run as a writable primary past the lease's safe time, even
 * when the decision to start it was made while the lease was fine: a renewal before the start may
 * wait out its timeout, and the start may be slow. Found by the 30-minute on-mode harness run
 * (seed 8): a primary restarted in place 788 ms past its deadline acknowledged 6 writes, later lost.
 *
 * The cluster state is the real DCS state machine; PostgreSQL is a fake whose "postmaster" is a
 * real process group (a sleep), so the loop's kill is a real one. The clock is the test's.
 */
import { type ChildProcess, spawn } from "node:child_process";
import * as E from "fp-ts/lib/Either.js";
import t from "tap";
import type { DcsFailure, Executed } from "../../src/dcs/client.js";
import type { Command } from "../../src/dcs/commands.js";
import { DEFAULT_TAGS, type Scope } from "../../src/dcs/model.js";
import { viewScope } from "../../src/dcs/views.js";
import type { PostgresAction } from "../../src/ha/actions.js";
import { HaLoop } from "../../src/ha/io/ha_loop.js";
import type { LocalPostgres } from "../../src/ha/observation.js";
import type { PgResult } from "../../src/ha/ports.js";
import { DEFAULT_LOCAL_HA_SETTINGS } from "../../src/ha/settings.js";
import { createRecordingLogger } from "../../src/lib/logger.js";
import { DONE } from "../../src/pg/results.js";
import { Driver, m, pg, PRIMARY, SCOPE } from "./fixtures.js";
import { QuietPostgres } from "./quiet_postgres.js";

const SPAWNS_MAX = 5;

/** PostgreSQL stopped after a clean shutdown as the primary; a start spawns a real process group. */
class FakePostgres extends QuietPostgres {
  readonly runs: PostgresAction[] = [];
  child: ChildProcess | null = null;
  exited: Promise<string | null> | null = null;
  /** Runs between the spawn and the end of the start (the server "recovering"). */
  duringStart: () => Promise<void> = async () => {};
  /** Called right after the spawn listeners, synchronously: what they did is visible here. */
  afterSpawn: (pid: number) => void = () => {};
  private readonly spawnListeners = new Set<(pid: number) => void>();

  observe(): Promise<LocalPostgres> {
    if (this.postmasterPid() !== null) return Promise.resolve(PRIMARY);
    return Promise.resolve(pg({ process: "stopped", role: null, controlState: "shut down", walReceived: null, walReplayed: null, streaming: false, upstream: null }));
  }

  async run(action: PostgresAction): Promise<PgResult> {
    this.runs.push(action);
    if (action.kind !== "start") return DONE;
    // A loop that starts again and again is a failure, not a fork bomb.
    if (this.starts() > SPAWNS_MAX) return E.left({ code: "failed", message: `more than ${SPAWNS_MAX} starts` });
    const child = spawn("sleep", ["30"], { detached: true, stdio: "ignore" });
    this.child = child;
    this.exited = new Promise((resolve) => child.once("exit", (_code, signal) => resolve(signal)));
    for (const listener of this.spawnListeners) listener(child.pid!);
    this.afterSpawn(child.pid!);
    await this.duringStart();
    return DONE;
  }

  starts(): number {
    return this.runs.filter((a) => a.kind === "start").length;
  }

  postmasterPid(): number | null {
    return this.child !== null && this.child.exitCode === null && this.child.signalCode === null ? this.child.pid! : null;
  }

  override onSpawned(listener: (pid: number) => void): () => void {
    this.spawnListeners.add(listener);
    return () => this.spawnListeners.delete(listener);
  }

  cleanup(): void {
    if (this.postmasterPid() !== null) process.kill(-this.child!.pid!, "SIGKILL");
  }
}

interface Setup {
  loop: HaLoop;
  readonly postgres: FakePostgres;
  readonly logged: () => string[];
  readonly armed: { pid: number; deadlineMs: number }[];
  readonly clock: { now: number };
  /** Decides how each lease command ends: null runs it on the DCS, a failure is returned. */
  leaseCommand: (command: Command) => Promise<DcsFailure | null>;
}

/** pg1 holds the lease in the cluster state; its agent just restarted, PostgreSQL is stopped. */
function setup(): Setup {
  const d = new Driver();
  d.bootstrap();
  const clock = { now: 100_000 };
  const logger = createRecordingLogger();
  const postgres = new FakePostgres();
  const armed: { pid: number; deadlineMs: number }[] = [];
  const state: Setup = {
    loop: null as unknown as HaLoop,
    postgres,
    logged: () => logger.lines.map((l) => l.message),
    armed,
    clock,
    leaseCommand: async () => null,
  };
  const cluster = {
    async execute(scope: Scope, command: Command): Promise<E.Either<DcsFailure, Executed>> {
      if (command.kind === "renewLease" || command.kind === "acquireLease") {
        const failure = await state.leaseCommand(command);
        if (failure !== null) return E.left(failure);
      }
      const decided = d.run("pg1", command, scope);
      return E.isLeft(decided) ? E.left(decided.left) : E.right({ index: d.index, events: decided.right });
    },
    local: (scope: Scope) => {
      const scopeState = d.machine.state.scopes.get(scope);
      return scopeState === undefined ? null : viewScope(scopeState, d.nowMs);
    },
    subscribe: () => () => {},
  };
  const confirmed = { ...cluster, read: async (scope: Scope) => E.right(cluster.local(scope)) };
  state.loop = new HaLoop({
    scope: SCOPE,
    identity: { name: m("pg1"), apiUrl: "http://127.0.0.1:1/", connUrl: "postgres://127.0.0.1:1/postgres", tags: DEFAULT_TAGS, agentVersion: "test" },
    cluster: confirmed,
    postgres,
    fencing: { arm: (pid, deadlineMs) => armed.push({ pid, deadlineMs }), disarm: () => {} },
    local: DEFAULT_LOCAL_HA_SETTINGS,
    logger,
    clock: () => clock.now,
  });
  return state;
}

async function until(what: string, condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const unknownOutcome: DcsFailure = { code: "outcomeUnknown", message: "the proposal was not applied in time; its outcome is unknown" };

t.test("a start as the primary is not carried out when the renewal before it outlived the lease's safe time", async (t) => {
  const s = setup();
  t.teardown(() => {
    s.postgres.cleanup();
    return s.loop.stop({ stopPostgres: false });
  });
  const settings = s.loop.status().settings;
  let renewals = 0;
  s.leaseCommand = async () => {
    renewals += 1;
    if (renewals === 1) {
      // Learns the deadline; by the time it returns a loop_wait has passed, so the next is due.
      s.clock.now += settings.loopWaitMs;
      return null;
    }
    // The renewal decided beside the start waits out its timeout, long past the safe time.
    s.clock.now += settings.ttlMs;
    return unknownOutcome;
  };
  s.loop.start();
  await until("the start decided with the renewal", () => s.logged().some((l) => l.startsWith("starting PostgreSQL in place as the primary")));
  await until("the refusal", () => s.logged().some((l) => l.startsWith("not starting PostgreSQL as the primary")));
  t.equal(s.postgres.starts(), 0, "PostgreSQL was not started");
  t.match(s.logged().find((l) => l.startsWith("not starting"))!, /safe time ran out \d+ ms ago/);
});

t.test("a primary spawned after the lease's safe time ran out is killed before it can take a write; one in time is armed at once", async (t) => {
  const s = setup();
  t.teardown(() => {
    s.postgres.cleanup();
    return s.loop.stop({ stopPostgres: false });
  });
  const settings = s.loop.status().settings;
  let armedAtSpawn: boolean | null = null;
  s.postgres.afterSpawn = (pid) => {
    armedAtSpawn ??= s.armed.some((a) => a.pid === pid);
  };
  // The first start: the lease is safe; the watchdog is armed as the postmaster is spawned.
  s.loop.start();
  await until("the end of the first start", () => s.postgres.starts() === 1 && s.loop.status().busy === null);
  const first = s.postgres.child!;
  t.equal(armedAtSpawn, true, "the watchdog was armed for the spawned postmaster before anything else ran");
  t.equal(s.postgres.postmasterPid(), first.pid, "it runs");
  process.kill(-first.pid!, "SIGKILL");
  await s.postgres.exited;
  // The second start: the decision is made in time, the spawn comes after the safe time.
  const startsBefore = s.postgres.starts();
  s.postgres.duringStart = async () => {};
  const realRun = s.postgres.run.bind(s.postgres);
  let late = true;
  s.postgres.run = async (action) => {
    // Only this start comes late; the loop may start again afterwards, with a fresh lease.
    if (action.kind === "start" && late) {
      late = false;
      s.clock.now += settings.ttlMs;
    }
    return realRun(action);
  };
  s.loop.trigger();
  await until("the second start", () => s.postgres.starts() > startsBefore);
  const lateChild = s.postgres.exited!;
  const signal = await Promise.race([lateChild, new Promise<string>((resolve) => setTimeout(() => resolve("still running"), 3000))]);
  await s.loop.stop({ stopPostgres: false });
  t.equal(signal, "SIGKILL", "the late primary's process group was killed");
  t.ok(s.postgres.starts() <= SPAWNS_MAX, "and the loop did not start it over and over");
  t.ok(s.logged().some((l) => /killing PostgreSQL's process group: it would be the primary, but the lease's safe time ran out/.test(l)), "and the log says why");
});

t.test("renewals that fail at once are retried by one timer, however many cycles run meanwhile", async (t) => {
  const s = setup();
  t.teardown(() => {
    s.postgres.cleanup();
    return s.loop.stop({ stopPostgres: false });
  });
  const settings = s.loop.status().settings;
  const attempts: number[] = [];
  s.leaseCommand = async () => {
    attempts.push(Date.now());
    if (attempts.length === 1) {
      s.clock.now += settings.loopWaitMs;
      return null;
    }
    // No Raft leader is known: every attempt fails at once (a partition, an election).
    return { code: "unavailable", message: "no Raft leader is known right now" };
  };
  s.loop.start();
  await until("a renewal failed", () => attempts.length >= 2);
  // Cycles for other reasons (changes applied, PostgreSQL's news): each renews, as it is due.
  for (let i = 0; i < 10; i++) {
    s.loop.trigger();
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const from = Date.now();
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const inOneSecond = attempts.filter((at) => at >= from).length;
  // One retry timer: 1000 / RENEW_RETRY_MS (200) attempts, the loop_wait tick's, and a margin. A timer
  // per failed attempt would run one chain per cycle above: 50 a second.
  t.ok(inOneSecond <= 12, `renewals tried in the quiet second after the cycles: ${inOneSecond}`);
  t.ok(inOneSecond >= 2, "and they go on being tried");
});
