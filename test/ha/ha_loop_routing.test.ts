/**
 * Client routing hears of a promotion the moment PostgreSQL takes writes (issue 16): the HA loop
 * tells its routing hooks when the port reports the end of recovery (onWritable), before the
 * promote action has finished, and once only — not again when the action returns.
 *
 * The cluster state is the real DCS state machine, where this member holds the lease; PostgreSQL
 * is a fake running replica whose promotion the test ends by hand.
 */
import * as E from "fp-ts/lib/Either.js";
import t from "tap";
import type { DcsFailure, Executed } from "../../src/dcs/client.js";
import type { Command } from "../../src/dcs/commands.js";
import { DEFAULT_TAGS, type Scope } from "../../src/dcs/model.js";
import { viewScope } from "../../src/dcs/views.js";
import type { PostgresAction } from "../../src/ha/actions.js";
import { HaLoop } from "../../src/ha/io/ha_loop.js";
import type { RoutingHooks } from "../../src/ha/io/ha_loop_ports.js";
import type { LocalPostgres } from "../../src/ha/observation.js";
import type { PgResult } from "../../src/ha/ports.js";
import { DEFAULT_LOCAL_HA_SETTINGS } from "../../src/ha/settings.js";
import { createRecordingLogger } from "../../src/lib/logger.js";
import { DONE } from "../../src/pg/results.js";
import { Driver, m, pg, PRIMARY, SCOPE } from "./fixtures.js";
import { QuietPostgres } from "./quiet_postgres.js";

/** A running replica; its promotion reports the end of recovery, then waits for `finish`. */
class PromotingPostgres extends QuietPostgres {
  readonly runs: PostgresAction[] = [];
  private current: LocalPostgres = pg({ upstream: null, streaming: false });
  private readonly writable = new Set<() => void>();
  finish: () => void = () => {};

  observe(): Promise<LocalPostgres> {
    return Promise.resolve(this.current);
  }

  async run(action: PostgresAction): Promise<PgResult> {
    this.runs.push(action);
    if (action.kind !== "promote") return DONE;
    const finished = new Promise<void>((resolve) => {
      this.finish = resolve;
    });
    this.current = PRIMARY;
    for (const listener of [...this.writable]) listener();
    await finished;
    return DONE;
  }

  postmasterPid(): number | null {
    return 4242;
  }

  override onWritable(listener: () => void): () => void {
    this.writable.add(listener);
    return () => this.writable.delete(listener);
  }
}

async function until(what: string, condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

t.test("routing is told of a promotion when recovery ends, before the action returns, and once", async (t) => {
  const d = new Driver();
  d.bootstrap();
  const clock = { now: 100_000 };
  const postgres = new PromotingPostgres();
  const cluster = {
    execute: async (scope: Scope, command: Command): Promise<E.Either<DcsFailure, Executed>> => {
      const decided = d.run("pg1", command, scope);
      return E.isLeft(decided) ? E.left(decided.left) : E.right({ index: d.index, events: decided.right });
    },
    local: (scope: Scope) => {
      const state = d.machine.state.scopes.get(scope);
      return state === undefined ? null : viewScope(state, d.nowMs);
    },
    subscribe: () => () => {},
  };
  const told: { promoteRunning: boolean }[] = [];
  const routing: RoutingHooks = {
    observed: () => {},
    stopping: () => {},
    promoted: () => told.push({ promoteRunning: loop.status().busy === "promote" }),
    settled: async () => {},
    settleBoundMs: () => 0,
  };
  const loop: HaLoop = new HaLoop({
    scope: SCOPE,
    identity: { name: m("pg1"), apiUrl: "http://127.0.0.1:1/", connUrl: "postgres://127.0.0.1:1/postgres", tags: DEFAULT_TAGS, agentVersion: "test" },
    cluster: { ...cluster, read: async (scope: Scope) => E.right(cluster.local(scope)) },
    postgres,
    fencing: { arm: () => {}, disarm: () => {} },
    local: DEFAULT_LOCAL_HA_SETTINGS,
    logger: createRecordingLogger(),
    clock: () => clock.now,
    routing,
  });
  t.teardown(() => loop.stop({ stopPostgres: false }));
  loop.start();
  await until("the promotion to begin", () => postgres.runs.some((a) => a.kind === "promote"));
  await until("routing to be told", () => told.length > 0);
  t.same(told, [{ promoteRunning: true }], "told while the promote action still runs");
  postgres.finish();
  await until("the promotion to end", () => loop.status().busy === null);
  loop.trigger();
  await until("a cycle after it", () => loop.status().decision?.reason !== "promoting PostgreSQL: this member holds the lease");
  t.equal(told.length, 1, "not told again when the action returned");
});
