/**
 * Whole agents on virtual time (issue 17 item 4, first step): for each member the real HA loop
 * (src/ha/io/ha_loop.ts, unchanged) with virtual timers, the real DCS client and state machine
 * over the simulated cluster state (sim_dcs.ts), a simulated watchdog and the simulated
 * PostgreSQL (test/sim/pg); clients writing through a multi-host DSN. The simulated Raft group
 * does not carry the cluster state yet.
 *
 * The loop is async code: between two events of the queue every promise continuation runs (a
 * macrotask turn drains them all), and nothing here does real I/O, so a seed replays exactly.
 */
import type { MemberName, Scope } from "../../../src/dcs/model.js";
import { DEFAULT_TAGS } from "../../../src/dcs/model.js";
import { HaLoop } from "../../../src/ha/io/ha_loop.js";
import type { Fencing } from "../../../src/ha/io/ha_loop_ports.js";
import { DEFAULT_LOCAL_HA_SETTINGS } from "../../../src/ha/settings.js";
import { SILENT_LOGGER, type Logger } from "../../../src/lib/logger.js";
import { createPrng } from "../../../src/lib/prng.js";
import { EventQueue } from "../event_queue.js";
import { SimClients } from "../pg/sim_clients.js";
import { type SimPgOptions, SimPostgres } from "../pg/sim_postgres.js";
import { SimDcs } from "./sim_dcs.js";
import { SimPostgresPort } from "./sim_postgres_port.js";
import { virtualTimers } from "./sim_timers.js";

export const SIM_SCOPE = "sim" as Scope;

/** The watchdog of one member: SIGKILL to the postmaster's group when a deadline passes unrenewed. */
class SimWatchdog implements Fencing {
  private armed: { readonly token: number; readonly pid: number } | null = null;
  private tokens = 0;
  fired = 0;

  constructor(
    private readonly queue: EventQueue,
    private readonly pg: SimPostgres,
    private readonly member: MemberName,
  ) {}

  /** `broken`: a planted bug, the watchdog never fires. */
  broken = false;

  arm(processGroup: number, deadlineMs: number): void {
    if (this.broken) return;
    const token = ++this.tokens;
    this.armed = { token, pid: processGroup };
    this.queue.schedule(deadlineMs - this.queue.now, () => {
      if (this.armed?.token !== token) return;
      this.armed = null;
      if (this.pg.server(this.member).pid !== processGroup) return;
      this.fired++;
      this.pg.crash(this.member, "process");
    });
  }

  disarm(): void {
    this.armed = null;
  }
}

/** Planted bugs, to show the checkers catch them. */
export interface SimAgentBugs {
  /** Neither the agent's fence timer nor its watchdog stops PostgreSQL when the lease runs out. */
  readonly noFence?: boolean;
  /** The HA loop's decisions never see a switchover requested in pause (HaBugs). */
  readonly ignorePausedSwitchover?: boolean;
  /** A renewal without an answer counts as granted (HaBugs). */
  readonly renewWithoutAnswer?: boolean;
  /** Every cycle renews the lease, due or not (HaBugs). */
  readonly renewEveryCycle?: boolean;
}

export interface SimAgentsOptions {
  readonly seed: number;
  readonly bugs?: SimAgentBugs;
  readonly members?: readonly MemberName[];
  readonly pg?: Omit<SimPgOptions, "reachable">;
  readonly logger?: (member: MemberName) => Logger;
}

export class SimAgents {
  readonly queue = new EventQueue();
  readonly members: readonly MemberName[];
  readonly pg: SimPostgres;
  readonly dcs: SimDcs;
  readonly clients: SimClients;
  readonly loops = new Map<MemberName, HaLoop>();
  readonly watchdogs = new Map<MemberName, SimWatchdog>();
  /** Members whose host is down (agent and PostgreSQL), or cut off from the others. */
  readonly down = new Set<MemberName>();
  readonly isolated = new Set<MemberName>();
  /**
   * Members whose agent process is stopped (SIGSTOP, a long pause): its timers, answers and news
   * wait in `held` until it continues; its Raft node is stopped with it; its watchdog (another
   * process) and its PostgreSQL run on.
   */
  readonly frozen = new Set<MemberName>();
  private readonly held = new Map<MemberName, (() => void)[]>();

  constructor(private readonly options: SimAgentsOptions) {
    this.members = options.members ?? (["m1", "m2", "m3"] as MemberName[]);
    const prng = createPrng(options.seed);
    const reachable = (a: MemberName, b: MemberName): boolean => !this.down.has(a) && !this.down.has(b) && !this.isolated.has(a) && !this.isolated.has(b);
    this.pg = new SimPostgres(this.queue, prng.fork(), this.members, { ...options.pg, reachable });
    this.dcs = new SimDcs(this.queue, this.members, (m) => !this.down.has(m) && !this.isolated.has(m) && !this.frozen.has(m), (m, deliver) => this.toAgent(m, deliver));
    this.clients = new SimClients(this.pg, (m) => !this.down.has(m));
    for (const member of this.members) this.startAgent(member);
  }

  private startAgent(member: MemberName): void {
    const watchdog = new SimWatchdog(this.queue, this.pg, member);
    watchdog.broken = this.options.bugs?.noFence === true;
    this.watchdogs.set(member, watchdog);
    const loop = new HaLoop({
      scope: SIM_SCOPE,
      identity: { name: member, apiUrl: `http://${member}:8008/`, connUrl: `postgresql://${member}:5432/postgres`, tags: DEFAULT_TAGS, agentVersion: "sim" },
      cluster: this.dcs.client(member),
      postgres: new SimPostgresPort(this.pg, member, () => !this.down.has(member), (deliver) => this.toAgent(member, deliver)),
      fencing: watchdog,
      local: DEFAULT_LOCAL_HA_SETTINGS,
      logger: this.options.logger?.(member) ?? SILENT_LOGGER,
      clock: () => this.queue.now,
      timers: virtualTimers(this.queue, this.pg, member, (run) => this.toAgent(member, run)),
      bugs: { noFenceTimer: this.options.bugs?.noFence === true, ignorePausedSwitchover: this.options.bugs?.ignorePausedSwitchover === true, renewWithoutAnswer: this.options.bugs?.renewWithoutAnswer === true, renewEveryCycle: this.options.bugs?.renewEveryCycle === true },
    });
    this.loops.set(member, loop);
    loop.start();
  }

  /** Runs the simulation for `ms` of virtual time. */
  async run(ms: number): Promise<void> {
    const until = this.queue.now + ms;
    while (this.queue.runNext(until)) {
      // Every promise continuation the event started runs before the next event.
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    this.queue.now = until;
    this.pg.checkInvariants();
  }

  /** Runs `deliver` in `member`'s agent: now, or once the agent continues when it is frozen. */
  private toAgent(member: MemberName, deliver: () => void): void {
    if (!this.frozen.has(member)) return deliver();
    const held = this.held.get(member) ?? [];
    held.push(deliver);
    this.held.set(member, held);
  }

  /** The agent of `member` stops (SIGSTOP): nothing in it runs until thawAgent. */
  freezeAgent(member: MemberName): void {
    this.frozen.add(member);
  }

  /** The agent of `member` continues: what it missed runs now, in the order it came. */
  thawAgent(member: MemberName): void {
    if (!this.frozen.delete(member)) return;
    const held = this.held.get(member) ?? [];
    this.held.delete(member);
    for (const deliver of held) deliver();
  }

  /** The whole host of `member` loses power: its agent, its watchdog and its PostgreSQL. */
  crashHost(member: MemberName): void {
    // A frozen agent dies with what it was holding.
    this.frozen.delete(member);
    this.held.delete(member);
    this.down.add(member);
    this.pg.crash(member, "host");
    this.watchdogs.get(member)!.disarm();
    const loop = this.loops.get(member)!;
    this.loops.delete(member);
    // The dead agent does nothing more: its loop stops without a word to anyone (what it was
    // awaiting never returns: the port and the cluster state ignore a down member).
    void loop.stop({ stopPostgres: false });
  }

  /** The host of `member` is back: PostgreSQL is down with what its disk held, the agent starts afresh. */
  restartHost(member: MemberName): void {
    if (!this.down.has(member)) return;
    this.down.delete(member);
    this.startAgent(member);
  }

  /**
   * Every `everyMs` from now on, a client writes through the multi-host DSN and another straight
   * to one member (each in turn; refused unless it is a primary), as an application with a stale
   * address would: a second primary cannot hide behind the DSN's order.
   */
  startWriter(everyMs: number): void {
    let turn = 0;
    const write = (): void => {
      this.clients.writeVia(this.members);
      this.clients.writeVia([this.members[turn++ % this.members.length]!]);
      this.queue.schedule(everyMs, write);
    };
    this.queue.schedule(everyMs, write);
  }

  /** The members whose PostgreSQL runs as a primary now. */
  primaries(): MemberName[] {
    return this.members.filter((m) => this.pg.server(m).writable);
  }
}
