/**
 * Whether an operator's request to this member (the REST API's restart and reinitialize) may go
 * ahead, and from where a reinit clones (issue 17 item 1: the choice of clone source is a
 * decision, and it is taken here, not in the loop). Pure: the loop carries out what is allowed.
 */
import * as E from "fp-ts/lib/Either.js";
import type { MemberName } from "../../dcs/model.js";
import type { MemberView, ScopeView } from "../../dcs/views.js";
import type { PostgresActionKind, Upstream } from "../actions.js";
import type { StartFailure } from "../input.js";
import { startFailed, startWaitLeftMs } from "../start_backoff.js";

/** Why PostgreSQL cannot be restarted now, or null when it can. */
export function restartRefusal(busy: PostgresActionKind | null, postmasterRunning: boolean, failure: StartFailure | null, nowMs: number): string | null {
  if (busy !== null) return `cannot restart: ${busy} is in progress`;
  if (postmasterRunning) return null;
  if (!startFailed(failure)) return "cannot restart: PostgreSQL is not running";
  const leftS = Math.ceil(startWaitLeftMs(failure, nowMs) / 1000);
  return `cannot restart: PostgreSQL is not running, its last start failed (${failure!.reason}); the next start is in ${leftS} s`;
}

export interface ReinitRequest {
  readonly fromLeader: boolean;
  readonly from: string | null;
}

/**
 * Where a reinit of `me` clones from: `from` when named, the primary with `fromLeader`, otherwise
 * a running member tagged clonefrom (Patroni's choice), else the primary. Refused on the primary
 * itself, with no primary to clone from, or while another action runs.
 */
export function reinitSource(view: ScopeView | null, me: MemberName, busy: PostgresActionKind | null, request: ReinitRequest): E.Either<string, Upstream> {
  const lease = view?.lease ?? null;
  if (lease === null || lease.expired) return E.left("cannot reinitialize: the cluster has no primary to clone from");
  if (lease.holder === me) return E.left("cannot reinitialize: this member is the primary (it holds the lease)");
  if (busy !== null) return E.left(`cannot reinitialize: ${busy} is in progress`);
  const usable = (m: MemberView): boolean => m.name !== me && !m.gone && m.connUrl !== "" && (m.name === lease.holder || m.state === "streaming" || m.state === "running");
  let source: MemberView | undefined;
  if (request.from !== null) {
    source = view?.members.find((m) => m.name === request.from);
    if (source === undefined) return E.left(`cannot reinitialize from ${request.from}: it is not a member (members: ${view?.members.map((m) => m.name).join(", ")})`);
    if (!usable(source)) return E.left(`cannot reinitialize from ${request.from}: it is ${source.name === me ? "this member" : source.gone ? "gone" : `${source.state}, not running`}; name a running member or use from_leader`);
  } else {
    const clonefrom = request.fromLeader ? undefined : view?.members.find((m) => m.tags.clonefrom && m.name !== lease.holder && usable(m));
    source = clonefrom ?? view?.members.find((m) => m.name === lease.holder);
  }
  if (source === undefined || source.connUrl === "") return E.left(`cannot reinitialize: ${source?.name ?? lease.holder} has not published how to reach it`);
  return E.right({ member: source.name, connUrl: source.connUrl });
}

/** Where a restart requested through the API stands, looked at after the stop it began with. */
export type RestartProgress = { readonly kind: "restarted" } | { readonly kind: "failed"; readonly why: string } | { readonly kind: "waiting" };

/**
 * `fresh`: an observation begun after the stop saw a new postmaster (one from before the stop
 * would report the old one as running); `sinceMs`: when the restart was asked for.
 */
export function restartProgress(now: { readonly busy: PostgresActionKind | null; readonly fresh: boolean; readonly running: boolean; readonly failure: StartFailure | null; readonly sinceMs: number; readonly nowMs: number }): RestartProgress {
  if (now.busy !== null) return { kind: "waiting" };
  if (now.fresh && now.running) return { kind: "restarted" };
  const failure = now.failure;
  if (failure !== null && failure.runningSinceMs === null && failure.atMs >= now.sinceMs) {
    return { kind: "failed", why: `PostgreSQL did not start again: ${failure.reason} (the next start is in ${Math.ceil(startWaitLeftMs(failure, now.nowMs) / 1000)} s)` };
  }
  return { kind: "waiting" };
}
