/**
 * Membership as data: the voters and learners of a ConfState, the effect of a ConfChange, and the
 * rules that keep single-server changes safe.
 *
 * raftgres changes membership one server at a time (Raft thesis §4.1): any majority of the old
 * voters and any majority of the new voters overlap, so no joint configuration is needed. A node
 * uses the latest configuration in its log, committed or not (thesis §4.1), and a leader appends a
 * change only when (a) no earlier change is uncommitted and (b) an entry of its own term is
 * committed — the second rule fixes the single-server-change bug described by Ongaro on raft-dev
 * (2015) and in the thesis errata.
 */
import * as E from "fp-ts/lib/Either.js";
import { assert } from "../lib/assert.js";
import type { ConfChange, ConfMember, ConfState, NodeId } from "./types.js";

export const EMPTY_CONF_STATE: ConfState = { members: [] };

export function voters(conf: ConfState): NodeId[] {
  return conf.members.filter((m) => m.role === "voter").map((m) => m.id);
}

export function isVoter(conf: ConfState, id: NodeId): boolean {
  return conf.members.some((m) => m.id === id && m.role === "voter");
}

export function findMember(conf: ConfState, id: NodeId): ConfMember | undefined {
  return conf.members.find((m) => m.id === id);
}

function sorted(members: ConfMember[]): ConfState {
  members.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return { members };
}

export function confStateOf(members: readonly ConfMember[]): ConfState {
  const state = sorted([...members]);
  checkConfState(state);
  return state;
}

export function checkConfState(conf: ConfState): void {
  for (let i = 1; i < conf.members.length; i++) {
    assert(conf.members[i - 1]!.id < conf.members[i]!.id, "conf state members must be sorted by id and unique");
  }
}

/**
 * Why a change is refused, in words an operator can act on; a valid change returns the new state.
 */
export function applyConfChange(conf: ConfState, change: ConfChange): E.Either<string, ConfState> {
  const current = findMember(conf, change.id);
  const others = conf.members.filter((m) => m.id !== change.id);
  switch (change.kind) {
    case "addVoter":
    case "addLearner": {
      const role = change.kind === "addVoter" ? "voter" : "learner";
      if (current?.role === role) return E.left(`${change.id} is already a ${role}`);
      const address = change.address !== "" ? change.address : current?.address ?? "";
      if (address === "") return E.left(`adding ${change.id} needs its Raft address`);
      if (role === "learner" && current !== undefined && voters(conf).length === 1) {
        return E.left(`${change.id} is the only voter; it cannot become a learner`);
      }
      return E.right(sorted([...others, { id: change.id, role, address }]));
    }
    case "remove": {
      if (current === undefined) return E.left(`${change.id} is not a member`);
      if (current.role === "voter" && voters(conf).length === 1) {
        return E.left(`${change.id} is the only voter; the cluster cannot remove it`);
      }
      return E.right(sorted(others));
    }
  }
}

/** Applies a change that was validated when it was proposed; failure here is a bug. */
export function applyValidConfChange(conf: ConfState, change: ConfChange): ConfState {
  const result = applyConfChange(conf, change);
  assert(E.isRight(result), () => `conf change in the log is invalid: ${E.isLeft(result) ? result.left : ""}`);
  return result.right;
}

export function describeConfState(conf: ConfState): string {
  return conf.members.map((m) => (m.role === "voter" ? m.id : `${m.id}(learner)`)).join(",");
}
