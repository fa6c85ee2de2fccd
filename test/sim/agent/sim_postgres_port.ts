/**
 * The PostgresPort (src/ha/ports.ts) of one member, over the simulated PostgreSQL: what the HA
 * loop calls in production reaches test/sim/pg instead, and the simulated postmaster's spawns,
 * unexpected exits and end of recovery reach the loop's listeners.
 */
import * as E from "fp-ts/lib/Either.js";
import type { MemberName } from "../../../src/dcs/model.js";
import type { PostgresAction } from "../../../src/ha/actions.js";
import type { LocalPostgres } from "../../../src/ha/observation.js";
import type { PgResult, PostgresPort, PostmasterExit } from "../../../src/ha/ports.js";
import type { SimPostgres } from "../pg/sim_postgres.js";

export class SimPostgresPort implements PostgresPort {
  private readonly exitListeners = new Set<(exit: PostmasterExit) => void>();
  private readonly spawnListeners = new Set<(pid: number) => void>();
  private readonly writableListeners = new Set<() => void>();
  /** The parameters of the dynamic config, as last applied. */
  parameters: Readonly<Record<string, string | number | boolean>> = {};

  constructor(
    private readonly pg: SimPostgres,
    private readonly member: MemberName,
    /** False once the member's host is down: a dead agent's calls never return. */
    private readonly alive: () => boolean = () => true,
    /** Hands news to the agent: at once, or once it runs again when it is frozen (SimAgents). */
    private readonly toAgent: (deliver: () => void) => void = (deliver) => deliver(),
  ) {
    pg.listen({
      spawned: (m, pid) => m === member && this.toAgent(() => this.spawnListeners.forEach((l) => l(pid))),
      exited: (m, exit) => m === member && this.toAgent(() => this.exitListeners.forEach((l) => l(exit))),
      writable: (m) => m === member && this.toAgent(() => this.writableListeners.forEach((l) => l())),
    });
  }

  observe(): Promise<LocalPostgres> {
    if (!this.alive()) return new Promise(() => {});
    return Promise.resolve(this.pg.observe(this.member));
  }

  run(action: PostgresAction): Promise<PgResult> {
    if (!this.alive()) return new Promise(() => {});
    return new Promise((resolve) => this.pg.run(this.member, action, (result) => this.toAgent(() => resolve(result))));
  }

  postmasterPid(): number | null {
    return this.pg.server(this.member).pid;
  }

  reload(): Promise<PgResult> {
    return Promise.resolve(E.right(undefined));
  }

  applyParameters(parameters: Readonly<Record<string, string | number | boolean>>): Promise<PgResult> {
    this.parameters = parameters;
    return Promise.resolve(E.right(undefined));
  }

  configurationProblems(): readonly string[] {
    return [];
  }

  pendingRestart(): Readonly<Record<string, { oldValue: string; newValue: string }>> {
    return {};
  }

  onUnexpectedExit(listener: (exit: PostmasterExit) => void): () => void {
    this.exitListeners.add(listener);
    return () => this.exitListeners.delete(listener);
  }

  onSpawned(listener: (pid: number) => void): () => void {
    this.spawnListeners.add(listener);
    return () => this.spawnListeners.delete(listener);
  }

  onWritable(listener: () => void): () => void {
    this.writableListeners.add(listener);
    return () => this.writableListeners.delete(listener);
  }
}
