/**
 * pgbouncer through a planned switchover (issue 16, item 2): the clients of the pgbouncer
 * instances in node.yml see a short wait and no error. PAUSE before the old primary stops (the
 * transactions in flight end; new queries wait), point the databases at the new primary, RESUME.
 *
 * Who does it: the agents, not the CLI. The old primary's agent is the only one that knows the
 * moment its PostgreSQL is about to stop for the handover — the stop waits for the PAUSE (the
 * HA loop's beforeHandoverStop hook) — and it runs for switchovers that never pass through the
 * CLI (a REST client, a scheduled switchover). A CLI that dies (Ctrl-C, a lost SSH session)
 * would leave pgbouncer paused with nobody to resume it; an agent is supervised and restarted.
 *
 * What bounds a pause:
 * 1. The agent that paused resumes when the switchover is over (no request pending and the lease
 *    holder reports a running primary), and at the latest pause_max_ms after the PAUSE, whatever
 *    happened (a failed or stuck switchover): the hard bound. A graceful stop of the agent
 *    resumes too.
 * 2. Every agent whose PostgreSQL is promoted (a switchover or any failover) resumes every
 *    configured database once its own PostgreSQL takes writes: if the agent that paused died
 *    mid-switchover, its lease expires within ttl and whoever is promoted next resumes.
 * 3. If no agent is left at all, pgbouncer's own query_wait_timeout disconnects each waiting
 *    client after that time (packaging/pgbouncer.ini sets it); the pool stays paused until an
 *    operator runs RESUME.
 * A RESUME that fails (pgbouncer unreachable …) is retried every RESUME_RETRY_MS, up to
 * RESUME_ATTEMPTS_MAX times, each failure logged, counted and shown in GET /patroni and /metrics.
 *
 * With a databases_file, every agent also keeps that file pointed at the primary the cluster
 * state shows (the lease holder running as the primary) and RELOADs pgbouncer when it changed,
 * always before it resumes: a client never waits out a pause to reach the stopped old primary.
 */
import * as E from "fp-ts/lib/Either.js";
import type { MemberName, Scope } from "../dcs/model.js";
import type { ScopeView } from "../dcs/views.js";
import type { RoutingHooks } from "../ha/io/ha_loop_ports.js";
import type { Logger } from "../lib/logger.js";
import { pgbouncerCommand } from "../pg/pgbouncer_admin.js";
import { type PgbouncerPrimary, primaryAddress, renderDatabases, writeDatabasesFile } from "../pg/pgbouncer_databases.js";
import type { PgbouncerInstance, PgbouncerSettings } from "./config_pgbouncer.js";

/** A failed RESUME is tried again this soon … */
export const RESUME_RETRY_MS = 1_000;
/** … this many times in all, then the agent gives up and says to resume by hand. */
export const RESUME_ATTEMPTS_MAX = 60;

/** What GET /patroni and /metrics show of one instance. */
export interface PgbouncerInstanceStatus {
  readonly name: string;
  /** Paused by this agent and not resumed yet (a RESUME may be failing and retried). */
  readonly paused: boolean;
  readonly pausedForMs: number | null;
  /** RESUME commands that failed since the agent started. */
  readonly resumeFailures: number;
  readonly lastError: string | null;
  /** The member the databases file points at (null without a file, or before it was written). */
  readonly pointsAt: string | null;
}

interface InstanceState {
  readonly instance: PgbouncerInstance;
  pausedAtMs: number | null;
  resumeFailures: number;
  attempts: number;
  retryTimer: NodeJS.Timeout | null;
  lastError: string | null;
  pointsAt: string | null;
}

export interface PgbouncerSwitchoverOptions {
  readonly settings: PgbouncerSettings;
  readonly scope: Scope;
  readonly me: MemberName;
  readonly cluster: {
    local(scope: Scope): ScopeView | null;
    subscribe(scope: Scope, listener: (view: ScopeView) => void): () => void;
  };
  readonly logger: Logger;
  /** Monotonic milliseconds. */
  readonly clock: () => number;
}

export class PgbouncerSwitchover {
  private readonly states: InstanceState[];
  /** The hard bound of the pause this agent began, or null when none is outstanding. */
  private boundTimer: NodeJS.Timeout | null = null;
  private pausing = false;
  private stopped = false;
  private unsubscribe: (() => void) | null = null;
  /** One reconciliation at a time; a view change during it runs one more after it. */
  private reconciling: Promise<void> = Promise.resolve();

  constructor(private readonly options: PgbouncerSwitchoverOptions) {
    this.states = options.settings.instances.map((instance) => ({ instance, pausedAtMs: null, resumeFailures: 0, attempts: 0, retryTimer: null, lastError: null, pointsAt: null }));
  }

  start(): void {
    this.unsubscribe = this.options.cluster.subscribe(this.options.scope, (view) => this.onView(view));
    const view = this.options.cluster.local(this.options.scope);
    if (view !== null) this.onView(view);
  }

  status(): readonly PgbouncerInstanceStatus[] {
    const now = this.options.clock();
    return this.states.map((s) => ({
      name: s.instance.target.name,
      paused: s.pausedAtMs !== null,
      pausedForMs: s.pausedAtMs === null ? null : now - s.pausedAtMs,
      resumeFailures: s.resumeFailures,
      lastError: s.lastError,
      pointsAt: s.pointsAt,
    }));
  }

  /**
   * The HA loop's hook before the old primary stops for a handover: PAUSE every configured
   * database on every instance, together, each waiting at most pause_wait_ms for its
   * transactions in flight. Never fails: a pgbouncer that was not paused costs its clients
   * errors, as without pgbouncer support, and the switchover goes on.
   */
  async beforeHandoverStop(): Promise<void> {
    if (this.stopped) return;
    const { settings, logger, clock } = this.options;
    const startedMs = clock();
    this.pausing = true;
    if (this.boundTimer === null) {
      this.boundTimer = setTimeout(() => this.hardBound(), settings.pauseMaxMs);
      this.boundTimer.unref();
    }
    await Promise.all(this.states.map(async (state) => {
      // Marked before the command: a PAUSE that timed out still pauses, and must be resumed.
      state.pausedAtMs ??= clock();
      for (const database of settings.databases.keys()) {
        const leftMs = Math.max(1, settings.pauseWaitMs - (clock() - startedMs));
        const paused = await pgbouncerCommand(state.instance.target, { kind: "pause", database }, leftMs);
        if (E.isLeft(paused)) {
          state.lastError = paused.left.message;
          logger.warn({ pgbouncer: state.instance.target.name, code: paused.left.code }, `pgbouncer ${state.instance.target.name} was not paused for the switchover; its clients may see errors: ${paused.left.message}`);
          return;
        }
      }
      logger.info({ pgbouncer: state.instance.target.name, ms: clock() - startedMs }, `paused pgbouncer ${state.instance.target.name} (${[...settings.databases.keys()].join(", ")}) for the switchover`);
    }));
    this.pausing = false;
    // The switchover may have been withdrawn while PAUSE waited.
    const view = this.options.cluster.local(this.options.scope);
    if (view !== null) this.onView(view);
  }

  /** This member's PostgreSQL was just promoted: the databases point at it, every pause ends. */
  promoted(): void {
    if (this.stopped) return;
    const view = this.options.cluster.local(this.options.scope);
    const me = view?.members.find((m) => m.name === this.options.me);
    const primary = me === undefined ? null : primaryAddress(me.name, me.connUrl);
    this.reconcile(async () => {
      if (primary !== null) await this.pointAll(primary);
      await this.resumeAll("this member was promoted", true);
    });
  }

  /** Ends the pause this agent began, bounded (a graceful stop of the agent). */
  async stop(): Promise<void> {
    this.stopped = true;
    this.unsubscribe?.();
    await this.reconciling;
    if (this.boundTimer !== null) await this.resumeAll("the agent is stopping", false);
    for (const state of this.states) if (state.retryTimer !== null) clearTimeout(state.retryTimer);
  }

  private onView(view: ScopeView): void {
    if (this.stopped) return;
    const primary = primaryOf(view);
    const over = this.boundTimer !== null && !this.pausing && view.pending === null && primary !== null;
    // Most changes (members' reports) move neither the primary nor a pause.
    const pointed = primary === null || this.states.every((s) => s.instance.databasesFile === null || s.pointsAt === primary.member);
    if (!over && pointed) return;
    this.reconcile(async () => {
      if (primary !== null) await this.pointAll(primary);
      if (over) await this.resumeAll(`the switchover is over: ${primary!.member} is the primary`, false);
    });
  }

  private hardBound(): void {
    this.boundTimer = null;
    if (this.stopped) return;
    const view = this.options.cluster.local(this.options.scope);
    const primary = view === null ? null : primaryOf(view);
    this.options.logger.warn({ pauseMaxMs: this.options.settings.pauseMaxMs }, `resuming pgbouncer: the pause reached pgbouncer.pause_max_ms (${this.options.settings.pauseMaxMs} ms) before the switchover was over (${primary === null ? "no member runs as the primary" : `${primary.member} is the primary`})`);
    this.reconcile(async () => {
      if (primary !== null) await this.pointAll(primary);
      await this.resumeAll("the pause reached pause_max_ms", true);
    });
  }

  private reconcile(work: () => Promise<void>): void {
    this.reconciling = this.reconciling.then(work).catch((error: unknown) => {
      this.options.logger.error({ err: error }, "pgbouncer routing failed unexpectedly");
    });
  }

  /** Each databases file points at `primary`; a changed file is RELOADed at once. */
  private async pointAll(primary: PgbouncerPrimary): Promise<void> {
    const { settings, scope, logger } = this.options;
    const text = renderDatabases(scope, primary, settings.databases);
    await Promise.all(this.states.map(async (state) => {
      const file = state.instance.databasesFile;
      if (file === null) return;
      const written = writeDatabasesFile(file, text);
      if (E.isLeft(written)) {
        state.lastError = written.left;
        logger.error({ pgbouncer: state.instance.target.name }, written.left);
        return;
      }
      if (!written.right && state.pointsAt === primary.member) return;
      const reloaded = await pgbouncerCommand(state.instance.target, { kind: "reload" }, settings.commandTimeoutMs);
      if (E.isLeft(reloaded)) {
        state.lastError = reloaded.left.message;
        state.pointsAt = null;
        logger.warn({ pgbouncer: state.instance.target.name, code: reloaded.left.code }, `pgbouncer ${state.instance.target.name} did not reload ${file} for the new primary ${primary.member}; the next change tries again: ${reloaded.left.message}`);
        return;
      }
      state.pointsAt = primary.member;
      logger.info({ pgbouncer: state.instance.target.name, file }, `pgbouncer ${state.instance.target.name} points at the primary ${primary.member} (${primary.host}:${primary.port})`);
    }));
  }

  /**
   * RESUME every configured database on the instances this agent paused (`all`: on every
   * instance — a promotion ends a pause another agent may have left). A database that is not
   * paused counts as resumed.
   */
  private async resumeAll(why: string, all: boolean): Promise<void> {
    if (this.boundTimer !== null) clearTimeout(this.boundTimer);
    this.boundTimer = null;
    await Promise.all(this.states.filter((s) => all || s.pausedAtMs !== null).map((s) => {
      s.attempts = 0;
      return this.resumeOne(s, why);
    }));
  }

  private async resumeOne(state: InstanceState, why: string): Promise<void> {
    const { settings, logger, clock } = this.options;
    const name = state.instance.target.name;
    state.attempts++;
    const resumedNow: string[] = [];
    for (const database of settings.databases.keys()) {
      const resumed = await pgbouncerCommand(state.instance.target, { kind: "resume", database }, settings.commandTimeoutMs);
      if (E.isRight(resumed)) resumedNow.push(database);
      if (E.isRight(resumed) || resumed.left.code === "notPaused") continue;
      state.resumeFailures++;
      state.lastError = resumed.left.message;
      if (state.attempts >= RESUME_ATTEMPTS_MAX || this.stopped) {
        logger.error({ pgbouncer: name, attempts: state.attempts }, `pgbouncer ${name} could not be resumed after ${state.attempts} attempts; run RESUME on its admin console by hand: ${resumed.left.message}`);
        return;
      }
      logger.warn({ pgbouncer: name, attempt: state.attempts }, `RESUME failed on pgbouncer ${name} (${why}); trying again in ${RESUME_RETRY_MS} ms: ${resumed.left.message}`);
      if (state.retryTimer === null) {
        state.retryTimer = setTimeout(() => {
          state.retryTimer = null;
          this.reconcile(() => this.resumeOne(state, why));
        }, RESUME_RETRY_MS);
        state.retryTimer.unref();
      }
      return;
    }
    if (state.pausedAtMs !== null) logger.info({ pgbouncer: name, pausedMs: clock() - state.pausedAtMs }, `resumed pgbouncer ${name}: ${why}`);
    // Paused, but not by this agent: one that died mid-switchover, or an operator.
    else if (resumedNow.length > 0) logger.warn({ pgbouncer: name, databases: resumedNow }, `resumed pgbouncer ${name} (${resumedNow.join(", ")}), paused by another agent or by hand: ${why}`);
    state.pausedAtMs = null;
    state.lastError = null;
  }
}

/**
 * The HA loop's routing hooks (HAProxy's push, or none) with pgbouncer told of a promotion the
 * moment the loop's promote action is done, when the server takes writes: the `roleChanged`
 * event comes only with the next observation of PostgreSQL (a cycle later, at least one SQL round
 * trip), and every client of a paused pgbouncer waits that long too. A start as the primary
 * (makesWritable too) ends a pause as well: a lease holder that starts as the primary is not
 * handing over any more.
 * `promoted` is idempotent: the later roleChanged call finds nothing paused.
 */
export function withPgbouncerResume(routing: RoutingHooks | null, pgbouncer: PgbouncerSwitchover | null): RoutingHooks | null {
  if (pgbouncer === null) return routing;
  return {
    observed: () => routing?.observed(),
    stopping: (writable) => routing?.stopping(writable),
    promoted: () => {
      routing?.promoted();
      pgbouncer.promoted();
    },
    settled: (boundMs) => routing?.settled(boundMs) ?? Promise.resolve(),
    settleBoundMs: () => routing?.settleBoundMs() ?? 0,
  };
}

/** The lease holder, when its record says it runs as the primary, with the address it gave. */
function primaryOf(view: ScopeView): PgbouncerPrimary | null {
  const lease = view.lease;
  if (lease === null || lease.expired) return null;
  const holder = view.members.find((m) => m.name === lease.holder);
  if (holder === undefined || holder.role !== "primary" || holder.state !== "running") return null;
  return primaryAddress(holder.name, holder.connUrl);
}
