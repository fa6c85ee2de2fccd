/**
 * Tells HAProxy, through its runtime API (haproxy_runtime.ts), what its health checks would find
 * next, at the moment it happens: the member whose PostgreSQL stops taking writes is forced down
 * in the write backend with its sessions shut (before its lease goes, in a switchover), the new
 * primary forced up and every other member down the moment its promotion is done, a replica
 * forced up or down in the read backend as /replica would answer. Each agent pushes its own
 * member's changes to every configured socket; only the promotion also pushes the others' (their
 * agents may be dead).
 *
 * The checks stay the authority: `set server … health` only moves the check counter (see
 * setServerHealthCommand), so a push that was wrong — or one that never arrived — is corrected
 * by the checks within rise or fall of their intervals. A failed push is retried a bounded
 * number of times with backoff, logged, and counted in the status (GET /patroni, /metrics). The
 * HA loop never waits on a push, except the old primary of a switchover, which waits at most
 * SETTLE bound for its "down" to be tried once before it releases the lease.
 */
import * as E from "fp-ts/lib/Either.js";
import type { Logger } from "../../lib/logger.js";
import {
  endpointText,
  isConfigurationFailure,
  type RuntimeEndpoint,
  type RuntimeFailure,
  runtimeCommand,
  setServerHealthCommand,
  shutdownSessionsCommand,
} from "./haproxy_runtime.js";

export interface HaproxySettings {
  /** Every HAProxy's admin socket (`stats socket … level admin`); each is told every change. */
  readonly sockets: readonly RuntimeEndpoint[];
  /** The backend (or listen section) of writes: the primary only (checks on /primary). */
  readonly writeBackend: string;
  /** The backend of reads (checks on /replica), or null when reads are not routed by HAProxy. */
  readonly readBackend: string | null;
  /** A member's server name in both backends, where it differs from the member's name. */
  readonly servers: ReadonlyMap<string, string>;
  /** How long one runtime command may take. */
  readonly timeoutMs: number;
}

/** What this member's health checks answer: /primary and /replica (src/api/health_checks.ts). */
export interface RoutingVerdict {
  readonly write: boolean;
  readonly read: boolean;
}

/** Attempts of one push before it is given up (the checks then route). */
export const PUSH_ATTEMPTS_MAX = 6;
/** The first retry waits this long; each next one twice as long, up to PUSH_BACKOFF_MS_MAX. */
export const PUSH_BACKOFF_MS_MIN = 100;
export const PUSH_BACKOFF_MS_MAX = 3200;
/** The longest queue of pushes per socket (one per server and backend; members are far fewer). */
export const PUSH_QUEUE_MAX = 256;

/** The backoff before attempt `attempt + 1` (attempt ≥ 1). */
export function pushBackoffMs(attempt: number): number {
  return Math.min(PUSH_BACKOFF_MS_MAX, PUSH_BACKOFF_MS_MIN * 2 ** Math.max(0, attempt - 1));
}

/** One socket's pushes so far, for GET /patroni and /metrics. */
export interface HaproxySocketStatus {
  readonly socket: string;
  /** Pushes HAProxy accepted (a forced state, with its sessions shut for a down). */
  readonly pushes: number;
  /** Attempts that failed, retried or not. */
  readonly failures: number;
  /** Pushes abandoned after their last attempt: the checks route those servers. */
  readonly gaveUp: number;
  /** Pushes waiting for their next attempt. */
  readonly pending: number;
  /** The last push HAProxy accepted ("primary/pg2 up"), and when (the agent's clock). */
  readonly lastPush: string | null;
  readonly lastPushAtMs: number | null;
  /** The last failure, while no push succeeded after it; null when the socket works. */
  readonly lastError: string | null;
}

interface Job {
  readonly backend: string;
  readonly server: string;
  readonly health: "up" | "down";
  attempts: number;
  notBeforeMs: number;
}

/** The pushes to one HAProxy: the latest wanted state per server, tried one at a time, in order. */
class SocketQueue {
  private readonly jobs = new Map<string, Job>();
  private running = false;
  private stopped = false;
  private wake: NodeJS.Timeout | null = null;
  private waiters: (() => void)[] = [];
  private pushes = 0;
  private failures = 0;
  private gaveUp = 0;
  private lastPush: string | null = null;
  private lastPushAtMs: number | null = null;
  private lastError: string | null = null;

  constructor(private readonly endpoint: RuntimeEndpoint, private readonly timeoutMs: number, private readonly logger: Logger, private readonly clock: () => number) {}

  /** The newest wish for a server replaces an older one still queued (never pushed after it). */
  want(backend: string, server: string, health: "up" | "down"): void {
    if (this.stopped) return;
    const key = `${backend}/${server}`;
    this.jobs.delete(key);
    if (this.jobs.size >= PUSH_QUEUE_MAX) {
      this.logger.error({ socket: endpointText(this.endpoint) }, `not pushing ${key} ${health}: ${PUSH_QUEUE_MAX} pushes are queued already; the checks will route`);
      return;
    }
    this.jobs.set(key, { backend, server, health, attempts: 0, notBeforeMs: 0 });
    this.kick();
  }

  /** Resolves once every push queued so far was tried at least once. */
  tried(): Promise<void> {
    if (!this.untried()) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  status(): HaproxySocketStatus {
    return {
      socket: endpointText(this.endpoint),
      pushes: this.pushes,
      failures: this.failures,
      gaveUp: this.gaveUp,
      pending: this.jobs.size,
      lastPush: this.lastPush,
      lastPushAtMs: this.lastPushAtMs,
      lastError: this.lastError,
    };
  }

  stop(): void {
    this.stopped = true;
    this.jobs.clear();
    if (this.wake !== null) clearTimeout(this.wake);
    this.release();
  }

  private untried(): boolean {
    for (const job of this.jobs.values()) if (job.attempts === 0) return true;
    return false;
  }

  private release(): void {
    if (this.untried() && !this.stopped) return;
    const waiters = this.waiters;
    this.waiters = [];
    for (const resolve of waiters) resolve();
  }

  private kick(): void {
    if (this.running || this.stopped) return;
    if (this.wake !== null) clearTimeout(this.wake);
    this.wake = null;
    this.running = true;
    void this.drain().finally(() => {
      this.running = false;
    });
  }

  /** Tries the due pushes in order; when only backed-off ones remain, wakes at the first one due. */
  private async drain(): Promise<void> {
    while (!this.stopped && this.jobs.size > 0) {
      const now = this.clock();
      const due = [...this.jobs.values()].find((job) => job.notBeforeMs <= now);
      if (due === undefined) {
        const nextMs = Math.min(...[...this.jobs.values()].map((job) => job.notBeforeMs));
        this.wake = setTimeout(() => this.kick(), Math.max(1, nextMs - now));
        this.wake.unref();
        return;
      }
      const result = await this.push(due);
      this.settle(due, result);
      this.release();
    }
  }

  private async push(job: Job): Promise<E.Either<RuntimeFailure, string>> {
    const options = { timeoutMs: this.timeoutMs };
    const forced = await runtimeCommand(this.endpoint, setServerHealthCommand(job.backend, job.server, job.health), options);
    if (E.isLeft(forced) || job.health === "up") return forced;
    return runtimeCommand(this.endpoint, shutdownSessionsCommand(job.backend, job.server), options);
  }

  private settle(job: Job, result: E.Either<RuntimeFailure, string>): void {
    const key = `${job.backend}/${job.server}`;
    const socket = endpointText(this.endpoint);
    job.attempts++;
    const current = this.jobs.get(key) === job;
    if (E.isRight(result)) {
      this.pushes++;
      this.lastPush = `${key} ${job.health}`;
      this.lastPushAtMs = this.clock();
      if (this.lastError !== null) this.logger.info({ socket }, `HAProxy at ${socket} takes pushes again`);
      this.lastError = null;
      this.logger.info({ socket, backend: job.backend, server: job.server }, `HAProxy at ${socket}: ${key} forced ${job.health}${job.health === "down" ? ", its sessions shut" : ""}`);
      if (current) this.jobs.delete(key);
      return;
    }
    this.failures++;
    this.lastError = result.left.message;
    // A newer wish for the server replaced this push while it ran: that one goes next.
    if (!current) return;
    const final = isConfigurationFailure(result.left.code) || job.attempts >= PUSH_ATTEMPTS_MAX;
    if (final) {
      this.jobs.delete(key);
      this.gaveUp++;
      const why = isConfigurationFailure(result.left.code) ? "retrying cannot help" : `${job.attempts} attempts failed`;
      this.logger.error({ socket, code: result.left.code }, `gave up pushing ${key} ${job.health} to HAProxy (${why}); its health checks will route: ${result.left.message}`);
      return;
    }
    const waitMs = pushBackoffMs(job.attempts);
    job.notBeforeMs = this.clock() + waitMs;
    this.logger.warn({ socket, code: result.left.code, attempt: job.attempts }, `pushing ${key} ${job.health} to HAProxy failed (attempt ${job.attempts} of ${PUSH_ATTEMPTS_MAX}, next in ${waitMs} ms): ${result.left.message}`);
  }
}

export interface HaproxyPushOptions {
  readonly settings: HaproxySettings;
  readonly me: string;
  /** What this member's /primary and /replica checks would answer now. */
  readonly verdict: () => RoutingVerdict;
  /** Every member of the cluster (the view's and haproxy.servers'), this one included. */
  readonly members: () => readonly string[];
  readonly logger: Logger;
  readonly clock: () => number;
}

/** The pusher the HA loop calls (RoutingHooks of ha_loop.ts). */
export class HaproxyPush {
  /** What HAProxy was last told (or found, at the first observation) of this member. */
  private known: RoutingVerdict | null = null;
  private readonly queues: SocketQueue[];

  constructor(private readonly options: HaproxyPushOptions) {
    const { settings, logger, clock } = options;
    this.queues = settings.sockets.map((endpoint) => new SocketQueue(endpoint, settings.timeoutMs, logger, clock));
  }

  /**
   * After an observation of PostgreSQL: pushes what changed in the checks' answers. At the first
   * one only what is up is pushed: an agent that restarts beside a running primary must not take
   * it out of the pool while it renews its lease (its checks would not either, within fall).
   */
  observed(): void {
    const now = this.options.verdict();
    const before = this.known;
    this.known = now;
    if (before === null) {
      if (now.write) this.primaryUp();
      if (now.read) this.read("up");
      return;
    }
    if (now.write !== before.write) {
      if (now.write) this.primaryUp();
      else this.write(this.options.me, "down");
    }
    if (now.read !== before.read) this.read(now.read ? "up" : "down");
  }

  /** PostgreSQL is about to stop or be killed; `writable`: it may be taking writes. */
  stopping(writable: boolean): void {
    if (writable || this.known?.write !== false) this.write(this.options.me, "down");
    if (this.known?.read !== false) this.read("down");
    this.known = { write: false, read: false };
  }

  /** The promotion (or a start as the primary) is done: this member takes the writes now. */
  promoted(): void {
    this.primaryUp();
    if (this.known?.read !== false) this.read("down");
    this.known = { write: true, read: false };
  }

  /** Resolves when every push so far was tried once on every socket, or after `boundMs`. */
  async settled(boundMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const bound = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, boundMs);
    });
    await Promise.race([Promise.all(this.queues.map((queue) => queue.tried())), bound]);
    clearTimeout(timer);
  }

  /** How long the old primary of a switchover waits for its "down" before it releases the lease. */
  settleBoundMs(): number {
    // Two commands (health, then shutdown sessions), each within the timeout.
    return 2 * this.options.settings.timeoutMs;
  }

  status(): readonly HaproxySocketStatus[] {
    return this.queues.map((queue) => queue.status());
  }

  stop(): void {
    for (const queue of this.queues) queue.stop();
  }

  /** This member up in the write backend first, then every other member down there. */
  private primaryUp(): void {
    const me = this.options.me;
    this.write(me, "up");
    for (const member of new Set(this.options.members())) if (member !== me) this.write(member, "down");
  }

  private write(member: string, health: "up" | "down"): void {
    this.want(this.options.settings.writeBackend, member, health);
  }

  private read(health: "up" | "down"): void {
    const backend = this.options.settings.readBackend;
    if (backend !== null) this.want(backend, this.options.me, health);
  }

  private want(backend: string, member: string, health: "up" | "down"): void {
    const server = this.options.settings.servers.get(member) ?? member;
    for (const queue of this.queues) queue.want(backend, server, health);
  }
}
