/**
 * Facts the rules share, derived from the input: who holds the lease, whether this node holds it
 * by its own clock too, where a member can be reached, how far along a member's WAL is.
 */
import type { Command } from "../dcs/commands.js";
import type { Lsn, MemberName, WalPosition } from "../dcs/model.js";
import { NO_PERMANENT_SLOTS, permanentSlotsPlan } from "../dcs/permanent_slots.js";
import type { LeaseView, MemberView, ScopeView } from "../dcs/views.js";
import type { Action, Upstream } from "./actions.js";
import type { HaDecision, HaInput } from "./input.js";
import type { LocalPostgres } from "./observation.js";

export function decision(actions: readonly Action[], reason: string, detail = ""): HaDecision {
  return { actions, reason, detail };
}

export function dcs(command: Command): Action {
  return { kind: "dcs", command };
}

/** The lease if it has not expired at the view's entry time. */
export function validLease(view: ScopeView | null): LeaseView | null {
  const lease = view?.lease ?? null;
  return lease !== null && !lease.expired ? lease : null;
}

/**
 * This node holds the lease: the log says so, and the grant it knows of (same generation) is
 * still inside its local deadline. Either alone is not enough: the log can lag behind, and a
 * local deadline from an older grant says nothing about the current one.
 */
export function holdsLease(input: HaInput): boolean {
  const lease = validLease(input.view);
  return lease !== null && lease.holder === input.me && input.lease !== null && input.lease.generation === lease.generation && input.lease.deadlineMs > input.nowMs;
}

/**
 * Early by at most this much, a renewal counts as due: the loop's tick, a loop_wait after the
 * last one, comes that much before a loop_wait has passed since the renewal it sent.
 */
export const RENEWAL_SLACK_MS_MAX = 100;

/**
 * The holder renews its lease once per loop_wait (issue 13: not on every cycle, since every
 * applied entry runs a cycle, and every renewal is an entry). A renewal that failed left the
 * local lease as it was, so the next cycle tries again at once.
 */
export function renewalDue(input: HaInput): boolean {
  if (input.lease === null) return true;
  const slackMs = Math.min(RENEWAL_SLACK_MS_MAX, input.settings.loopWaitMs / 4);
  return input.nowMs - input.lease.sentAtMs >= input.settings.loopWaitMs - slackMs;
}

/** Milliseconds left before this node must have stopped writing (the lease deadline minus the margins). */
export function safeTimeLeftMs(input: HaInput): number {
  if (input.lease === null) return 0;
  return input.lease.deadlineMs - input.settings.watchdogMarginMs - input.settings.demoteLeadMs - input.nowMs;
}

export function member(view: ScopeView | null, name: MemberName): MemberView | null {
  return view?.members.find((m) => m.name === name) ?? null;
}

export function upstreamOf(view: ScopeView | null, name: MemberName): Upstream | null {
  const record = member(view, name);
  return record === null || record.connUrl === "" ? null : { member: name, connUrl: record.connUrl };
}

/** How far this member's WAL goes (received, else replayed, else written). */
export function memberPosition(m: MemberView): bigint | null {
  return m.walReceived ?? m.walReplayed ?? m.walWritten ?? null;
}

/**
 * Where this replica's WAL stands as it asks for the lease, to promote there (the DCS refuses a
 * candidate off the last holder's history, decide_lease.ts): its WAL end on its replay timeline,
 * only when that timeline was read (a lower bound could refuse a good candidate). A primary
 * says nothing: it does not fork a new timeline, so its grant is no takeover point, and its
 * replicas go on past where it stood. Undefined when not known.
 */
export function walPosition(pg: LocalPostgres): WalPosition | undefined {
  if (pg.process !== "running" || pg.role !== "replica") return undefined;
  const end = localPosition(pg);
  return pg.replayTimeline === null || end === null ? undefined : { timeline: pg.replayTimeline, lsn: end as Lsn };
}

export function localPosition(pg: LocalPostgres): bigint | null {
  const received = pg.walReceived;
  const replayed = pg.walReplayed;
  if (received !== null && replayed !== null) return received > replayed ? received : replayed;
  return received ?? replayed ?? pg.walWritten;
}

/**
 * Keep a replication slot for every other PostgreSQL member (witnesses have no PostgreSQL), and
 * the permanent slots of the config; with use_slots off none, so the ones made while it was on
 * are dropped (as Patroni does: a slot nobody reads holds WAL back on the primary for ever).
 */
export function slotsFor(input: HaInput): Action {
  if (!input.settings.useSlots) return { kind: "syncSlots", members: [], permanent: NO_PERMANENT_SLOTS };
  const members = input.view?.members.filter((m) => m.name !== input.me && m.role !== "witness").map((m) => m.name) ?? [];
  const permanent = input.view === null ? NO_PERMANENT_SLOTS : permanentSlotsPlan(input.view.config.value, input.view.configHistory);
  return { kind: "syncSlots", members, permanent };
}

/** What a syncSlots action asks for, to tell whether the last one asked for the same. */
export function slotsKey(action: Extract<Action, { kind: "syncSlots" }>): string {
  return JSON.stringify([action.members, action.permanent]);
}

/**
 * The slots are brought in line when what they should be changed, and otherwise once per
 * loop_wait (a replica advances its copies, a slot dropped by hand comes back): not on every
 * cycle, each of which costs several queries (issue 13).
 */
export function slotsIfDue(input: HaInput): Action[] {
  const action = slotsFor(input) as Extract<Action, { kind: "syncSlots" }>;
  const last = input.memory.slotsSynced;
  const due = last === null || last.key !== slotsKey(action) || input.nowMs - last.atMs >= input.settings.loopWaitMs;
  return due ? [action] : [];
}
