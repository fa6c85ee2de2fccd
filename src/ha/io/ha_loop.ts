/**
 * The HA loop of one member: it observes PostgreSQL, publishes the member's status, asks
 * decide() what to do and does it — cluster-state commands through the DCS client, PostgreSQL
 * actions through the PostgresPort — and keeps the watchdog armed while it holds the lease.
 *
 * A cycle runs on every change that matters, not only on the loop_wait tick: a command applied
 * to the scope (a lease released, a member's report), an unexpected postmaster exit, the end of
 * a long action. Cycles never overlap; a trigger during a cycle runs one more right after it.
 * Long actions (start, stop, promote, clone, rewind …) run one at a time in the background, so
 * the lease keeps being renewed while they run.
 */
import { postgresParameters } from "../../dcs/postgres_parameters.js";
import * as E from "fp-ts/lib/Either.js";
import type { Command } from "../../dcs/commands.js";
import type { DcsFailure, Executed } from "../../dcs/client.js";
import type { MemberName } from "../../dcs/model.js";
import type { ScopeView } from "../../dcs/views.js";
import { type Action, LONG_ACTIONS, type PostgresAction, type PostgresActionKind } from "../actions.js";
import { decide } from "../decide.js";
import { EMPTY_MEMORY, type HaDecision, type HaMemory, type LocalLease } from "../input.js";
import { type Identity, memberStatus } from "../member_status.js";
import type { LocalPostgres } from "../observation.js";
import type { PgResult } from "../ports.js";
import { divergence } from "../rejoin_check.js";
import { reportDue, reportKey, type ReportSent } from "../report_cadence.js";
import { viewDigest } from "../view_digest.js";
import { type HaSettings, type LocalHaSettings, resolveHaSettings } from "../settings.js";
import { standbyClusterFor } from "../standby.js";
import { afterLeaseAnswer, expiredAt, fenceAct, fenceAtMs, isLeaseCommand, watchdogArming, withLease } from "../executor/lease_keeping.js";
import { afterCommandAnswer, afterLongAction, afterObserved, afterPromotionCancelled, afterShortAction, afterUnexpectedExit, type MemoryStep } from "../executor/memory_updates.js";
import { admitLongAction, handingOver, makesWritable, spawnedAct } from "../executor/admission.js";
import { decisionNote, type Note } from "../executor/note.js";
import { type ReinitRequest, reinitSource, restartProgress, restartRefusal } from "../executor/operator_requests.js";
import type { HaEvent, HaLoopOptions, HaStatus } from "./ha_loop_ports.js";
import { type LoopTimers, REAL_TIMERS, type TimerHandle } from "./loop_timers.js";
import { startFailed, startWaitLeftMs } from "../start_backoff.js";
import { SYNC_SETTLE_MS } from "../sync_planner.js";

/** How often a restart requested through the API looks whether PostgreSQL runs again. */
const RESTART_POLL_MS = 100;

export class HaLoop {
  private readonly me: MemberName;
  private lease: LocalLease | null = null;
  private memory: HaMemory = EMPTY_MEMORY;
  private busy: PostgresActionKind | null = null;
  /** The long action running leaves PostgreSQL taking writes (a promotion, a start as the primary). */
  private busyWritable = false;
  /** Client routing was told of the running promotion already (onWritable): not again at its end. */
  private routingToldWritable = false;
  private running = false;
  private again = false;
  private stopped = false;
  private timer: TimerHandle | null = null;
  private unsubscribe: (() => void)[] = [];
  private lastDecision: HaDecision | null = null;
  private lastObservation: LocalPostgres | null = null;
  /** Observations begun so far, and which of them lastObservation is (restartNow waits for a fresh one). */
  private observationsBegun = 0;
  private lastObservationNumber = 0;
  private lastCycleMs: number;
  private lastPublished: ReportSent | null = null;
  /** What decisions read of the view the last change showed (view_digest.ts). */
  private lastDigest: string | null = null;
  private settings: HaSettings;
  private adjustments = "";
  private idle: Promise<void> = Promise.resolve();
  private busyDone: Promise<void> = Promise.resolve();
  private publishing = false;
  private confirming = false;
  private rewindFailures = 0;
  /** Why this member is off the primary's history (rejoin_check.ts), as of the last cycle; else null. */
  private diverged: string | null = null;
  private appliedParameters = "";
  private readonly eventListeners = new Set<(event: HaEvent) => void>();
  /** The role PostgreSQL last ran in, to tell a role change. */
  private lastRole: "primary" | "replica" | null = null;
  private restarting = false;
  /** What the node's file says; a reload (SIGHUP) may change them. */
  private identity: Identity;
  private local: LocalHaSettings;
  /** Fires when the lease's safe time runs out without a renewal: PostgreSQL stops then. */
  private fenceTimer: TimerHandle | null = null;
  /** Fires when a start's backoff ends (wakeAfterBackoff). */
  private backoffTimer: TimerHandle | null = null;
  /** Fires for a decision's recheckMs, or a renewal's retry; at recheckDueMs. */
  private recheckTimer: TimerHandle | null = null;
  private recheckDueMs = 0;
  private readonly timers: LoopTimers;

  constructor(private readonly options: HaLoopOptions) {
    this.me = options.identity.name;
    this.identity = options.identity;
    this.local = options.local;
    this.settings = resolveHaSettings({ version: 0, value: {} }, options.local).settings;
    this.lastCycleMs = options.clock();
    this.timers = options.timers ?? REAL_TIMERS;
  }

  start(): void {
    const { cluster, postgres, scope } = this.options;
    this.unsubscribe.push(cluster.subscribe(scope, (view) => {
      // A change that alters nothing a decision reads waits for the next tick (view_digest.ts).
      const digest = viewDigest(view);
      if (digest !== null && digest === this.lastDigest) return;
      this.lastDigest = digest;
      this.trigger();
    }));
    this.unsubscribe.push(postgres.onUnexpectedExit((exit) => {
      this.takeMemory(afterUnexpectedExit(this.memory, exit, this.lease !== null, this.options.clock()));
      this.trigger();
    }));
    this.unsubscribe.push(postgres.onSpawned(() => this.onSpawned()));
    this.unsubscribe.push(postgres.onWritable(() => this.onWritable()));
    this.tick();
  }

  /**
   * A postmaster was just spawned and cannot accept a connection yet: the watchdog covers it from
   * now on — or, when it is to be the primary and the lease's safe time ran out while the start
   * waited (behind a renewal, say), it is killed before it can acknowledge a single write.
   */
  private onSpawned(): void {
    const act = spawnedAct(this.busyWritable, this.lease, this.options.clock(), this.settings);
    if (act.kind === "kill") this.killPostmaster(act.why);
    else this.armWatchdog();
  }

  /**
   * The promotion running has ended recovery: client routing is told now, not after the
   * promotion's own files are written (issue 16: HAProxy's push and pgbouncer's RESUME).
   */
  private onWritable(): void {
    if (this.busy !== "promote" || this.routingToldWritable) return;
    this.routingToldWritable = true;
    this.options.routing?.promoted();
  }

  /** Takes the memory a pure step returned, and writes its lines to the log. */
  private takeMemory(step: MemoryStep): void {
    this.memory = step.memory;
    this.say(step.notes);
  }

  private say(notes: readonly Note[]): void {
    for (const note of notes) this.options.logger[note.level](note.fields, note.message);
  }

  status(): HaStatus {
    return {
      decision: this.lastDecision,
      lastCycleMs: this.lastCycleMs,
      busy: this.busy,
      lease: this.lease,
      memory: this.memory,
      postgres: this.lastObservation,
      settings: this.settings,
      standbyLeader: this.isStandbyLeader(this.options.cluster.local(this.options.scope)),
      startFailure: this.memory.startFailure,
      diverged: this.diverged,
      configurationProblems: this.options.postgres.configurationProblems(),
    };
  }

  /** Holds the lease while the cluster is a standby cluster (standby.ts). */
  private isStandbyLeader(view: ScopeView | null): boolean {
    return this.lease !== null && standbyClusterFor(view, this.me, this.settings.bootstrapStandbyCluster) !== null;
  }

  onEvent(listener: (event: HaEvent) => void): () => void {
    this.eventListeners.add(listener);
    return () => this.eventListeners.delete(listener);
  }

  private emit(event: HaEvent): void {
    // A restart is one event (on_restart), not a stop and a start.
    if (this.restarting && (event.kind === "started" || event.kind === "stopped")) return;
    for (const listener of this.eventListeners) listener(event);
  }

  /** The role the observation shows, and a roleChanged event when it differs from the last one. */
  private noteRole(pg: LocalPostgres): void {
    if (pg.process !== "running" || pg.role === null) return;
    if (this.lastRole !== null && this.lastRole !== pg.role) this.emit({ kind: "roleChanged", role: pg.role, from: this.lastRole });
    this.lastRole = pg.role;
  }

  /** Runs a cycle now, or right after the one running. */
  trigger(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = true;
    this.idle = this.cycleLoop();
  }

  private tick(): void {
    if (this.stopped) return;
    this.trigger();
    this.timer = this.timers.set(() => this.tick(), this.settings.loopWaitMs, true);
  }

  private async cycleLoop(): Promise<void> {
    try {
      do {
        this.again = false;
        await this.cycle();
      } while (this.again && !this.stopped);
    } catch (error: unknown) {
      this.options.logger.error({ err: error }, "the HA cycle failed; it runs again at the next trigger");
    } finally {
      this.running = false;
    }
  }

  private async cycle(): Promise<void> {
    const { postgres, cluster, scope, clock } = this.options;
    const number = ++this.observationsBegun;
    const pg = await postgres.observe();
    this.lastObservation = pg;
    this.lastObservationNumber = number;
    this.noteRole(pg);
    this.options.routing?.observed();
    // A deadline that passed is no lease at all (the agent may just have been frozen past it).
    if (expiredAt(this.lease, clock()) !== this.lease) this.setLease(null);
    this.takeMemory(afterObserved(this.memory, pg, clock()));
    const view = cluster.local(scope);
    this.resolveSettings(view);
    this.noteDivergence(divergence({ me: this.me, nowMs: clock(), view, pg, lease: this.lease, settings: this.settings, memory: this.memory, busy: this.busy }));
    if (!this.memory.viewConfirmed) this.confirmView();
    if (pg.dataDir === "initialized") await this.applyParameters(view);
    // The report goes out beside the decision, never in front of it: with no Raft leader it may
    // wait out its timeout, and the lease must not wait behind it.
    this.publishInBackground(pg, view);
    const decided = decide({ me: this.me, nowMs: clock(), view: this.decisionView(), pg, lease: this.decisionLease(), settings: this.settings, memory: this.memory, busy: this.busy });
    const said = decisionNote(this.lastDecision, decided, decided.actions.map(describe), pg.dataDir === "inaccessible");
    if (said !== null) this.say([said]);
    this.lastDecision = decided;
    this.wakeAfterBackoff();
    if (decided.recheckMs !== undefined) this.recheckAfter(decided.recheckMs);
    // A primary that stopped for a switchover reports where its WAL ends before it gives the
    // lease up: the candidate promotes only once it has received that far (race.ts).
    const releasing = decided.actions.some((a) => a.kind === "dcs" && a.command.kind === "releaseLease");
    if (pg.process === "stopped" && releasing) await this.publish(pg, view, true);
    // Its "down" reaches HAProxy before another member can promote (bounded: routing is a help).
    const routing = this.options.routing;
    if (releasing && routing !== undefined) await routing.settled(routing.settleBoundMs());
    for (const action of decided.actions) await this.perform(action);
    this.armWatchdog();
    this.lastCycleMs = clock();
  }

  /** The replayed cluster state decide() reads (a planted bug may hide a request in pause). */
  private decisionView(): ScopeView | null {
    const view = this.options.cluster.local(this.options.scope);
    if (this.options.bugs?.ignorePausedSwitchover === true && view?.paused === true && view.pending !== null) return { ...view, pending: null };
    return view;
  }

  /** The local lease decide() reads (a planted bug may make its renewal look always due). */
  private decisionLease(): LocalLease | null {
    const lease = this.lease;
    return lease !== null && this.options.bugs?.renewEveryCycle === true ? { ...lease, sentAtMs: Number.NEGATIVE_INFINITY } : lease;
  }

  /**
   * Until one linearizable read succeeds, the view is the replayed local log, which may lag the
   * cluster's by a whole failover (input.ts viewConfirmed). One read at a time, in the background:
   * with no Raft quorum it waits, and the cycle must not.
   */
  private confirmView(): void {
    if (this.confirming || this.stopped) return;
    this.confirming = true;
    void this.options.cluster.read(this.options.scope, this.settings.retryTimeoutMs).then((read) => {
      this.confirming = false;
      if (E.isLeft(read) || this.stopped) return;
      this.options.logger.info({}, "the cluster state caught up with the cluster's: starting and racing are allowed");
      this.memory = { ...this.memory, viewConfirmed: true };
      this.trigger();
    });
  }

  private noteDivergence(why: string | null): void {
    if (why !== null && this.diverged === null) this.options.logger.warn({}, `this member is off the primary's history and serves no reads: ${why}`);
    if (why === null && this.diverged !== null) this.options.logger.info({}, "this member is on the primary's history again");
    this.diverged = why;
  }

  /** The dynamic config's postgresql.parameters, written (and reloaded) when they change. */
  private async applyParameters(view: ScopeView | null): Promise<void> {
    // Version 0 is no config yet: the bootstrap wrote bootstrap.dcs's parameters into the data
    // directory, and its member writes them as the first config once it holds the lease.
    // Writing the empty config between made the new primary reload towards the defaults and
    // show a restart pending (issue 15); an existing data directory keeps its parameters.
    if (view === null || this.busy !== null || view.config.version === 0) return;
    const parameters = postgresParameters(view.config.value);
    const key = JSON.stringify(parameters);
    if (key === this.appliedParameters) return;
    const applied = await this.options.postgres.applyParameters(parameters);
    if (E.isRight(applied)) this.appliedParameters = key;
    else this.options.logger.warn({ code: applied.left.code }, `the cluster's PostgreSQL parameters were not applied: ${applied.left.message}`);
  }

  private resolveSettings(view: ScopeView | null): void {
    const resolved = resolveHaSettings(view?.config ?? { version: 0, value: {} }, this.local);
    this.settings = resolved.settings;
    const adjustments = resolved.adjustments.join("; ");
    if (adjustments !== this.adjustments && adjustments !== "") this.options.logger.warn({ adjustments: resolved.adjustments }, "the HA timings in the cluster config were adjusted");
    this.adjustments = adjustments;
  }

  /** Reports this member's status when it is due (report_cadence.ts), beside the cycle. */
  private publishInBackground(pg: LocalPostgres, view: ScopeView | null): void {
    if (this.publishing) return;
    this.publishing = true;
    void this.publish(pg, view).finally(() => {
      this.publishing = false;
    });
  }

  private async publish(pg: LocalPostgres, view: ScopeView | null, force = false): Promise<void> {
    const pending = this.options.postgres.pendingRestart();
    const status = memberStatus(this.identity, pg, this.busy, this.isStandbyLeader(view), startFailed(this.memory.startFailure), this.diverged !== null, pending);
    const leaseGone = view !== null && (view.lease === null || view.lease.expired);
    const next = reportKey(status, leaseGone ? `gone@${view?.lease?.generation ?? "none"}` : "held");
    const now = this.options.clock();
    if (!force && !reportDue(this.lastPublished, next, now, this.settings, leaseGone)) return;
    const sent = await this.execute({ kind: "upsertMember", status });
    if (E.isRight(sent)) this.lastPublished = { ...next, atMs: now };
  }

  private execute(command: Command): Promise<E.Either<DcsFailure, Executed>> {
    return this.options.cluster.execute(this.options.scope, command, { timeoutMs: this.settings.retryTimeoutMs });
  }

  private async perform(action: Action): Promise<void> {
    if (action.kind === "dcs") return this.performCommand(action.command);
    if (!LONG_ACTIONS.has(action.kind)) {
      const done = await this.options.postgres.run(action);
      if (E.isLeft(done)) {
        this.options.logger.warn({ code: done.left.code }, `${action.kind} failed: ${done.left.message}`);
        return;
      }
      const after = afterShortAction(this.memory, action, this.options.clock());
      this.memory = after.memory;
      if (after.wake) {
        this.trigger();
        this.timers.set(() => this.trigger(), SYNC_SETTLE_MS, false);
      }
      return;
    }
    const admission = admitLongAction(action, { busy: this.busy, lease: this.lease, nowMs: this.options.clock(), settings: this.settings });
    if (admission.kind === "kill") this.killPostmaster(admission.why);
    if (admission.kind === "refuse") {
      this.say([admission.note]);
      this.trigger();
    }
    if (admission.kind === "run") this.runLong(action);
  }

  private async performCommand(command: Command): Promise<void> {
    const sentAtMs = this.options.clock();
    const pending = this.options.cluster.local(this.options.scope)?.pending ?? null;
    const result = await this.execute(command);
    this.memory = afterCommandAnswer(this.memory, this.me, command, result, pending);
    if (isLeaseCommand(command)) {
      const after = afterLeaseAnswer(this.lease, command, result, sentAtMs, this.settings, this.options.bugs);
      this.say(after.notes);
      if (after.lease !== this.lease) this.setLease(after.lease, false);
      // One pending retry at most: a timer per failed attempt would multiply (each retry's cycle
      // fails at once while no Raft leader is known, and sets another).
      if (after.retryInMs !== null) this.recheckAfter(after.retryInMs);
    } else if (E.isLeft(result)) this.options.logger.warn({ code: result.left.code }, `${command.kind} was not applied: ${result.left.message}`);
  }

  /** The local lease is now `lease` (said in the log unless `announce` is false: the caller did). */
  private setLease(lease: LocalLease | null, announce = true): void {
    if (announce) this.say(withLease(this.lease, lease).notes);
    this.lease = lease;
    this.armWatchdog();
    this.armFenceTimer();
  }

  /**
   * The agent's own fence, independent of the cycle (which may be waiting on the cluster state):
   * when the lease's safe time ends without a renewal, PostgreSQL stops at once — before the
   * watchdog fires, long before another member may take the lease.
   */
  private armFenceTimer(): void {
    if (this.fenceTimer !== null) this.timers.clear(this.fenceTimer);
    this.fenceTimer = null;
    const lease = this.lease;
    if (lease === null || this.stopped || this.options.bugs?.noFenceTimer === true) return;
    this.fenceTimer = this.timers.set(() => this.fenceNow(lease), Math.max(0, fenceAtMs(lease, this.settings) - this.options.clock()), true);
  }

  private fenceNow(lease: LocalLease): void {
    this.fenceTimer = null;
    const postmasterRunning = this.options.postgres.postmasterPid() !== null;
    if (this.lease !== lease || !postmasterRunning) return;
    // Only a primary (or one being promoted) can take writes.
    const act = fenceAct(lease, { lease: this.lease, postmasterRunning, writable: this.busyWritable || this.lastObservation?.role === "primary", busy: this.busy });
    if (act.kind !== "none") this.say([act.note]);
    if (act.kind === "kill") this.killPostmaster(act.why);
    if (act.kind === "stop") this.runLong({ kind: "stop", mode: "immediate" });
    this.trigger();
  }

  /** Armed while this member holds a lease and a postmaster runs; the deadline moves with every renewal. */
  private armWatchdog(): void {
    const arming = watchdogArming(this.stopped ? null : this.lease, this.options.postgres.postmasterPid(), this.options.clock(), this.settings);
    if (arming.kind === "disarm") this.options.fencing.disarm();
    else this.options.fencing.arm(arming.processGroup, arming.deadlineMs, arming.generation);
  }

  private runLong(action: PostgresAction): void {
    if (action.kind === "stop") this.options.routing?.stopping(this.busyWritable || this.lastObservation?.role === "primary");
    this.busy = action.kind;
    this.busyWritable = makesWritable(action);
    this.routingToldWritable = false;
    this.busyDone = this.runWithHooks(action).then((result) => {
      if (E.isRight(result) && makesWritable(action) && !this.routingToldWritable) this.options.routing?.promoted();
      this.busy = null;
      this.busyWritable = false;
      this.routingToldWritable = false;
      this.afterLong(action, result);
      this.armWatchdog();
      this.trigger();
    });
  }

  /** The action, preceded for a promotion by the pre_promote hook (whose failure cancels it). */
  private async runWithHooks(action: PostgresAction): Promise<PgResult> {
    const beforeStop = this.options.beforeHandoverStop;
    if (action.kind === "stop" && beforeStop !== undefined && handingOver(this.options.cluster.local(this.options.scope), this.lease, this.me)) await beforeStop();
    const hook = this.options.prePromote;
    if (action.kind === "promote" && hook !== undefined) {
      const failure = await hook();
      if (failure !== null) {
        await this.cancelPromotion(failure);
        return E.left({ code: "failed", message: `promotion cancelled: ${failure}` });
      }
    }
    return this.options.postgres.run(action);
  }

  /** Gives the lease back and stays out of the race for a ttl (Patroni: "Promotion cancelled"). */
  private async cancelPromotion(why: string): Promise<void> {
    this.takeMemory(afterPromotionCancelled(this.memory, why, this.options.clock(), this.settings.ttlMs));
    const lease = this.lease;
    if (lease !== null) await this.performCommand({ kind: "releaseLease", member: this.me, generation: lease.generation });
  }

  private afterLong(action: PostgresAction, result: PgResult): void {
    const view = this.options.cluster.local(this.options.scope);
    const after = afterLongAction(this.memory, action, result, { nowMs: this.options.clock(), lease: this.lease, rewindFailures: this.rewindFailures, view, standbyLeader: this.isStandbyLeader(view) });
    this.takeMemory(after);
    this.rewindFailures = after.rewindFailures;
    if (E.isRight(result) && action.kind === "start") this.emit({ kind: "started", role: action.as });
    if (E.isRight(result) && action.kind === "bootstrap") this.emit({ kind: "started", role: "primary" });
    if (E.isRight(result) && action.kind === "stop") this.emit({ kind: "stopped", role: this.lastRole ?? "replica" });
  }

  /**
   * A cycle this soon, for a decision that waits on local progress no cluster change reports, or
   * a lease renewal to retry. One timer: the earliest wanted.
   */
  private recheckAfter(ms: number): void {
    const dueMs = this.options.clock() + ms;
    if (this.stopped || (this.recheckTimer !== null && this.recheckDueMs <= dueMs)) return;
    if (this.recheckTimer !== null) this.timers.clear(this.recheckTimer);
    this.recheckDueMs = dueMs;
    this.recheckTimer = this.timers.set(() => {
      this.recheckTimer = null;
      this.trigger();
    }, ms, true);
  }

  private wakeAfterBackoff(): void {
    const leftMs = startWaitLeftMs(this.memory.startFailure, this.options.clock());
    if (leftMs === 0 || this.stopped || this.backoffTimer !== null) return;
    this.backoffTimer = this.timers.set(() => {
      this.backoffTimer = null;
      this.trigger();
    }, leftMs, false);
  }

  // ---- operator requests (the REST API) ----------------------------------------------------

  /**
   * Restarts PostgreSQL: a fast stop, then the rules start it again in its role (the primary in
   * place while it keeps its lease). Resolves once it runs again, as soon as the start fails
   * (with PostgreSQL's reason), or when `timeoutMs` has passed — whatever PostgreSQL does.
   */
  async restart(timeoutMs: number): Promise<E.Either<string, string>> {
    const refusal = restartRefusal(this.busy, this.options.postgres.postmasterPid() !== null, this.memory.startFailure, this.options.clock());
    if (refusal !== null) return E.left(refusal);
    this.restarting = true;
    try {
      return await this.restartNow(this.options.clock() + timeoutMs);
    } finally {
      this.restarting = false;
    }
  }

  private async restartNow(deadlineMs: number): Promise<E.Either<string, string>> {
    const { clock } = this.options;
    const since = clock();
    const oldPostmaster = this.options.postgres.postmasterPid();
    this.runLong({ kind: "stop", mode: "fast" });
    await Promise.race([this.busyDone, this.timers.sleep(Math.max(0, deadlineMs - clock()), false)]);
    // Only an observation begun after the stop says the new postmaster runs: one from before it
    // (a loaded machine may not have run a cycle since) would report the old one as running.
    const stoppedAt = this.observationsBegun;
    while (clock() < deadlineMs) {
      this.trigger();
      await this.timers.sleep(Math.min(RESTART_POLL_MS, Math.max(1, deadlineMs - clock())), true);
      const pg = this.lastObservation;
      const postmaster = this.options.postgres.postmasterPid();
      const fresh = this.lastObservationNumber > stoppedAt && postmaster !== null && postmaster !== oldPostmaster;
      const progress = restartProgress({ busy: this.busy, fresh, running: pg?.process === "running", failure: this.memory.startFailure, sinceMs: since, nowMs: clock() });
      if (progress.kind === "restarted") {
        this.restarting = false;
        this.emit({ kind: "restarted", role: pg?.role ?? "replica" });
        return E.right("restarted successfully");
      }
      if (progress.kind === "failed") return E.left(progress.why);
    }
    return E.left(`PostgreSQL did not run again within ${Math.round((deadlineMs - since) / 1000)} s (${this.lastDecision?.reason ?? "no decision yet"})`);
  }

  /**
   * Wipes the data directory and clones it again (replicas only), from where reinitSource says
   * (operator_requests.ts).
   */
  reinitialize(request: ReinitRequest = { fromLeader: false, from: null }): E.Either<string, string> {
    const source = reinitSource(this.options.cluster.local(this.options.scope), this.me, this.busy, request);
    if (E.isLeft(source)) return source;
    this.runLong({ kind: "reinit", source: source.right, reason: "requested by an operator" });
    return E.right(`reinitialize started from ${source.right.member}`);
  }

  /**
   * New local settings and tags from a re-read configuration file: they apply from the next cycle
   * (the member's report carries the new tags at once).
   */
  updateLocal(identity: Identity, local: LocalHaSettings): E.Either<string, void> {
    if (identity.name !== this.me) return E.left(`a reload cannot rename member ${this.me} to ${identity.name}: restart the agent with the new name`);
    this.identity = identity;
    this.local = local;
    this.lastPublished = null;
    this.trigger();
    return E.right(undefined);
  }

  /** Re-reads PostgreSQL's configuration files. */
  async reloadPostgres(): Promise<E.Either<string, string>> {
    const reloaded = await this.options.postgres.reload();
    if (E.isRight(reloaded)) this.emit({ kind: "reloaded", role: this.lastRole ?? "replica" });
    return E.isRight(reloaded) ? E.right("reloaded") : E.left(reloaded.left.message);
  }

  /** The last resort while another action holds PostgreSQL: kill its whole process group. */
  private killPostmaster(why: string): void {
    const pid = this.options.postgres.postmasterPid();
    if (pid === null) return;
    this.options.logger.warn({ pid }, `killing PostgreSQL's process group: ${why}`);
    this.options.routing?.stopping(this.busyWritable || this.lastObservation?.role === "primary");
    this.timers.killGroup(pid);
  }

  /**
   * Stops the loop. Unless paused, a member holding the lease stops PostgreSQL (fast) and then
   * releases the lease, so a replica takes over at once (Patroni's shutdown, §5 M).
   */
  async stop(options: { stopPostgres: boolean }): Promise<void> {
    this.stopped = true;
    for (const timer of [this.timer, this.fenceTimer, this.backoffTimer, this.recheckTimer]) if (timer !== null) this.timers.clear(timer);
    for (const off of this.unsubscribe) off();
    await this.idle;
    // A long action runs to its end or its own time limit (every adapter call is bounded).
    await this.busyDone;
    if (options.stopPostgres) {
      this.options.routing?.stopping(this.lastObservation?.role === "primary");
      const stopped = await this.options.postgres.run({ kind: "stop", mode: "fast" });
      if (E.isLeft(stopped)) this.options.logger.warn({}, `stopping PostgreSQL at shutdown failed: ${stopped.left.message}`);
      const lease = this.lease;
      if (lease !== null && E.isRight(stopped)) await this.execute({ kind: "releaseLease", member: this.me, generation: lease.generation });
    }
    this.lease = null;
    this.options.fencing.disarm();
  }
}

function describe(action: Action): string {
  if (action.kind === "dcs") return `dcs:${action.command.kind}`;
  return action.kind;
}
