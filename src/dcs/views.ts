/**
 * Read-only views of a scope for the HA loop, the REST API and the CLI: plain data, with what
 * depends on time (a member gone, the lease expired) worked out at the DCS's notion of now.
 */
import { isGone, lagBytes } from "./candidates.js";
import type { Config, ConfigVersion, Initialization, Lease, MemberRecord, PendingSwitchover, PrimaryChange, Scope, ScopeState, SyncState, Takeover } from "./model.js";

export interface MemberView extends MemberRecord {
  readonly gone: boolean;
  readonly maintenance: boolean;
  /** Bytes behind the primary's written WAL, when both positions are known. */
  readonly lagBytes: number | null;
}

export interface LeaseView extends Lease {
  readonly expired: boolean;
}

export interface ScopeView {
  readonly scope: Scope;
  readonly nowMs: number;
  readonly initialization: Initialization | null;
  readonly lease: LeaseView | null;
  readonly members: readonly MemberView[];
  readonly config: Config;
  readonly configHistory: readonly ConfigVersion[];
  readonly primaryHistory: readonly PrimaryChange[];
  /** Where the last lease holder's WAL stood when it was granted the lease (model.ts Takeover). */
  readonly takeover: Takeover | null;
  readonly pending: PendingSwitchover | null;
  readonly sync: SyncState;
  readonly paused: boolean;
}

export function viewScope(scope: ScopeState, nowMs: number): ScopeView {
  const members = [...scope.members.values()]
    .sort((a, b) => (a.name < b.name ? -1 : 1))
    .map((member): MemberView => ({ ...member, gone: isGone(member, scope, nowMs), maintenance: scope.maintenance.has(member.name), lagBytes: lagBytes(scope, member) }));
  return {
    scope: scope.scope,
    nowMs,
    initialization: scope.initialization,
    lease: scope.lease === null ? null : { ...scope.lease, expired: scope.lease.expiresAtMs <= nowMs },
    members,
    config: scope.config,
    configHistory: [...scope.configHistory],
    primaryHistory: [...scope.primaryHistory],
    takeover: scope.takeover,
    pending: scope.pending,
    sync: scope.sync,
    paused: scope.paused,
  };
}
