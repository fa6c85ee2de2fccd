/**
 * Operator requests in the cluster workload (issue 17 items 4 and 5), at random times: a
 * switchover, with or without a candidate, and a switchover in pause (pause, switchover to a
 * named member, resume), and a failover to a named member, sent through a member's DCS client as
 * `raftgres switchover|failover` sends them through that member's REST API; a restart of one
 * member's PostgreSQL and a reinit, through its HA loop as the REST API calls them. The checker:
 * every request completes (another member holds the lease; the restart answers) or is refused
 * with a reason (the command is refused, or the cluster state withdraws the request and says
 * why) within its bound. A request left pending past that bound, or withdrawn without a reason,
 * is a failure; so is a restart or reinit after which the primary moved.
 */
import * as E from "fp-ts/lib/Either.js";
import type { Command } from "../../../src/dcs/commands.js";
import type { MemberName } from "../../../src/dcs/model.js";
import { syncModeOf } from "../../../src/dcs/sync_mode.js";
import { pick, type Prng } from "../../../src/lib/prng.js";
import { SIM_SCOPE, type SimAgents } from "./sim_agents.js";

/** A switchover must complete or be refused within this (virtual) time (the REST API waits 20 s at loop_wait 1). */
export const SWITCHOVER_BOUND_MS = 30_000;
/** Between two looks at the committed state while a request is pending. */
const POLL_MS = 250;

export interface OperatorOutcome {
  /** What was asked and what came of it, for the run's list of steps. */
  readonly name: string;
  /** The member that held the lease when the request was sent. */
  readonly from: MemberName | null;
  /** The request asked for the primary to move (a switchover, a failover); otherwise it must stay. */
  readonly movesPrimary: boolean;
  readonly failures: readonly string[];
}

export type Operation = (sim: SimAgents, prng: Prng) => Promise<OperatorOutcome>;

/** The member holding a lease that has not expired in the committed state, or null. */
function holderNow(sim: SimAgents): MemberName | null {
  const lease = sim.dcs.committedView(SIM_SCOPE)?.lease ?? null;
  return lease === null || lease.expired ? null : lease.holder;
}

/** Sends `command` through `via`'s DCS client, running the simulation until it is answered (the client's timeout bounds it). */
export async function send(sim: SimAgents, via: MemberName, command: Command): Promise<E.Either<string, void>> {
  let outcome: E.Either<string, void> | null = null;
  void sim.dcs.client(via).execute(SIM_SCOPE, command).then((r) => {
    outcome = E.isRight(r) ? E.right(undefined) : E.left(`${r.left.code}: ${r.left.message}`);
  });
  while (outcome === null) await sim.run(POLL_MS);
  return outcome;
}

/** The members an operator's request may go through: those whose host is up. */
function reachable(sim: SimAgents): MemberName[] {
  return sim.members.filter((m) => !sim.down.has(m));
}

/**
 * A candidate as the REST API would accept it: a member other than the holder whose host is up;
 * in synchronous mode "on" only a synchronous standby (the API refuses the others before the
 * command is sent, as Patroni does).
 */
function candidates(sim: SimAgents, from: MemberName): MemberName[] {
  const view = sim.dcs.committedView(SIM_SCOPE);
  const others = reachable(sim).filter((m) => m !== from);
  if (view === null || syncModeOf(view.config).mode !== "on" || view.sync.standbys.length === 0) return others;
  return others.filter((m) => view.sync.standbys.includes(m));
}

/**
 * Waits for the switchover or failover away from `from` (null: nobody held the lease) to
 * complete, or for the cluster state to withdraw it with a reason.
 */
async function awaitOutcome(sim: SimAgents, from: MemberName | null, label: string): Promise<{ readonly outcome: string; readonly failure: string | null }> {
  const reasons: string[] = [];
  const off = sim.dcs.onCommitted((changes) => {
    for (const c of changes) {
      if (c.scope !== SIM_SCOPE) continue;
      if (c.event.kind === "switchoverCleared") reasons.push(c.event.reason);
      if (c.event.kind === "switchoverCancelled") reasons.push(`cancelled by ${c.event.by}`);
    }
  });
  try {
    for (let waited = 0; waited <= SWITCHOVER_BOUND_MS; waited += POLL_MS) {
      const holder = holderNow(sim);
      if (holder !== null && holder !== from) return { outcome: `completed: ${holder} holds the lease`, failure: null };
      const pending = sim.dcs.committedView(SIM_SCOPE)?.pending ?? null;
      if (pending === null && reasons.length > 0) return { outcome: `withdrawn: ${reasons.join("; ")}`, failure: null };
      if (pending === null) return { outcome: "withdrawn without a reason", failure: `the ${label} was withdrawn without a reason (${holder ?? "nobody"} holds the lease)` };
      await sim.run(POLL_MS);
    }
    const pending = sim.dcs.committedView(SIM_SCOPE)?.pending ?? null;
    return {
      outcome: "still pending",
      failure: `the ${label} neither completed nor was refused within ${SWITCHOVER_BOUND_MS / 1000} s: ${holderNow(sim) ?? "nobody"} holds the lease, pending ${JSON.stringify(pending)}`,
    };
  } finally {
    off();
  }
}

/** Resumes, through each reachable member in turn until one takes it; a failure when none does. */
async function resume(sim: SimAgents): Promise<string | null> {
  const refusals: string[] = [];
  for (let attempt = 0; attempt < 6; attempt++) {
    for (const via of reachable(sim)) {
      const resumed = await send(sim, via, { kind: "setPause", paused: false });
      if (E.isRight(resumed)) return null;
      refusals.push(`${via}: ${resumed.left}`);
    }
    await sim.run(5_000);
  }
  return `the cluster could not be resumed: ${refusals.join("; ")}`;
}

function switchover(inPause: boolean): Operation {
  return async (sim, prng) => {
    const from = holderNow(sim);
    const what = inPause ? "switchover in pause" : "switchover";
    if (from === null) return { name: `no ${what}: no member holds the lease`, from, movesPrimary: true, failures: [] };
    const choice = candidates(sim, from);
    const to = choice.length > 0 && (inPause || prng.chance(0.5)) ? pick(prng, choice) : null;
    if (inPause && to === null) return { name: `no ${what}: no candidate`, from, movesPrimary: true, failures: [] };
    const via = pick(prng, reachable(sim));
    const label = `${what} from ${from} to ${to ?? "the best candidate"} (through ${via})`;
    const failures: string[] = [];
    if (inPause) {
      const paused = await send(sim, via, { kind: "setPause", paused: true });
      if (E.isLeft(paused)) {
        // A request whose answer was lost may still have been applied: resume either way.
        const resumed = await resume(sim);
        return { name: `${label}: the pause was refused (${paused.left})`, from, movesPrimary: true, failures: resumed === null ? [] : [resumed] };
      }
      await sim.run(2_000);
    }
    const asked = await send(sim, via, { kind: "requestSwitchover", from, to, scheduledAtMs: null });
    let outcome = E.isLeft(asked) ? `refused (${asked.left})` : "";
    if (E.isRight(asked)) {
      const waited = await awaitOutcome(sim, from, label);
      outcome = waited.outcome;
      if (waited.failure !== null) failures.push(waited.failure);
    }
    if (inPause) {
      const resumed = await resume(sim);
      if (resumed !== null) failures.push(resumed);
    }
    return { name: `${label}: ${outcome}`, from, movesPrimary: true, failures };
  };
}

/** A failover to a named member (without allow_data_loss): done, or refused because it would lose data. */
const failover: Operation = async (sim, prng) => {
  const from = holderNow(sim);
  const choice = reachable(sim).filter((m) => m !== from);
  if (choice.length === 0) return { name: "no failover: no candidate", from, movesPrimary: true, failures: [] };
  const to = pick(prng, choice);
  const via = pick(prng, reachable(sim));
  const label = `failover from ${from ?? "nobody"} to ${to} (through ${via})`;
  const asked = await send(sim, via, { kind: "requestFailover", to, allowDataLoss: false });
  if (E.isLeft(asked)) return { name: `${label}: refused (${asked.left})`, from, movesPrimary: true, failures: [] };
  const waited = await awaitOutcome(sim, from, label);
  return { name: `${label}: ${waited.outcome}`, from, movesPrimary: true, failures: waited.failure === null ? [] : [waited.failure] };
};

/**
 * A restart of one member's PostgreSQL (`raftgres restart`, the REST API's POST /restart, which
 * calls the HA loop's restart): it must end, either way, within its timeout and a margin. The
 * primary restarts in place: the primary does not move.
 */
const restart: Operation = async (sim, prng) => {
  const from = holderNow(sim);
  const member = pick(prng, reachable(sim));
  const loop = sim.loops.get(member);
  const label = `restart of ${member}'s PostgreSQL${member === from ? " (the primary)" : ""}`;
  if (loop === undefined) return { name: `no ${label}: its agent is not running`, from, movesPrimary: false, failures: [] };
  let outcome: E.Either<string, string> | null = null;
  void loop.restart(RESTART_TIMEOUT_MS).then((r) => {
    outcome = r;
  });
  for (let waited = 0; outcome === null && waited < RESTART_TIMEOUT_MS + SWITCHOVER_BOUND_MS; waited += POLL_MS) await sim.run(POLL_MS);
  if (outcome === null) return { name: `${label}: no answer`, from, movesPrimary: false, failures: [`the ${label} did not answer within ${(RESTART_TIMEOUT_MS + SWITCHOVER_BOUND_MS) / 1000} s`] };
  const answered: E.Either<string, string> = outcome;
  return { name: `${label}: ${E.isRight(answered) ? answered.right : `refused (${answered.left})`}`, from, movesPrimary: false, failures: [] };
};

/** Reinitialize a replica from the primary (`raftgres reinit`): started, or refused with a reason. */
const reinit: Operation = async (sim, prng) => {
  const from = holderNow(sim);
  const member = pick(prng, reachable(sim));
  const loop = sim.loops.get(member);
  const label = `reinit of ${member}${member === from ? " (the primary)" : ""}`;
  if (loop === undefined) return { name: `no ${label}: its agent is not running`, from, movesPrimary: false, failures: [] };
  const started = loop.reinitialize();
  await sim.run(POLL_MS);
  return { name: `${label}: ${E.isRight(started) ? started.right : `refused (${started.left})`}`, from, movesPrimary: false, failures: [] };
};

/** A restart's own timeout (the REST API's default is primary_start_timeout, 300 s; shorter here). */
const RESTART_TIMEOUT_MS = 60_000;

export const OPERATIONS: readonly Operation[] = [switchover(false), switchover(true), failover, restart, reinit];
