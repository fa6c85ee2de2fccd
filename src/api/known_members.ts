/**
 * Names a request gives that must be members of the cluster (a switchover's leader and candidate,
 * a maintenance candidate, where to reinitialize from): an unknown one is refused at the edge
 * with the members it could have named, before anything is written.
 */
import type { ScopeView } from "../dcs/views.js";

/** The members of the scope, sorted, as sentences list them ("none" before any reported). */
export function memberList(view: ScopeView | null): string {
  const names = (view?.members ?? []).map((m) => m.name as string).sort();
  return names.length === 0 ? "none yet" : names.join(", ");
}

export function isMember(view: ScopeView | null, name: string): boolean {
  return view?.members.some((m) => m.name === name) ?? false;
}

/** Null when `name` is a member; otherwise a sentence naming `key`, the scope and its members. */
export function unknownMemberProblem(view: ScopeView | null, key: string, name: string): string | null {
  if (isMember(view, name)) return null;
  return `${key} ${name} is not a member of the cluster${view === null ? "" : ` ${view.scope}`} (members: ${memberList(view)})`;
}
