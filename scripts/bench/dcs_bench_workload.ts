/**
 * The command streams of the DCS benchmark, shared by the in-process replay and the load process:
 * S scopes of M members each; per scope, member 0 is the primary. Every second of entry time each
 * member reports its status and each primary renews its lease (what a Patroni-style agent does on
 * a 1 s loop). Pure: no clock, no I/O; times and sequence numbers are passed in.
 */
import type { Command } from "../../src/dcs/commands.js";
import { DEFAULT_TAGS, type Lsn, type MemberName, type MemberStatus, type Scope } from "../../src/dcs/model.js";
import { KEEPALIVES_PER_TTL } from "../../src/ha/report_cadence.js";

/** Patroni's default ttl: a lease renewed every second has 29 s of slack. */
export const LEASE_TTL_MS = 30_000;
const WAL_BYTES_PER_SECOND = 4n * 1024n * 1024n;
const SYSTEM_ID = "7301234567890123456";

export interface Planned {
  readonly scope: Scope;
  readonly author: MemberName;
  readonly command: Command;
  /** Which node of the cluster serves this member (its local DCS node). */
  readonly host: number;
}

export interface Topology {
  readonly scopes: number;
  readonly membersPerScope: number;
  readonly nodes: number;
}

export function scopeName(scope: number): Scope {
  return `pg-cluster-${String(scope).padStart(4, "0")}` as Scope;
}

export function memberName(scope: number, member: number): MemberName {
  return `${scopeName(scope)}-pg${member + 1}` as MemberName;
}

/** Members are spread round-robin so every node hosts as many members and as many primaries. */
export function hostOf(topology: Topology, scope: number, member: number): number {
  return (scope + member) % topology.nodes;
}

/** A member's report at `second`: the primary writes WAL, replicas receive and replay it. */
export function memberStatus(scope: number, member: number, second: number): MemberStatus {
  const name = memberName(scope, member);
  const wal = (BigInt(second) * WAL_BYTES_PER_SECOND + 0x3000000n) as Lsn;
  const common = {
    name,
    apiUrl: `http://${name}.db.internal:8008/patroni`,
    connUrl: `postgres://${name}.db.internal:5432/postgres`,
    timeline: 1,
    tags: DEFAULT_TAGS,
    agentVersion: "0.1.0",
  };
  if (member === 0) return { ...common, role: "primary", state: "running", walWritten: wal, walReceived: null, walReplayed: null };
  const behind = BigInt(member) * 8192n;
  return { ...common, role: "replica", state: "streaming", walWritten: null, walReceived: (wal - behind) as Lsn, walReplayed: (wal - 2n * behind) as Lsn };
}

/** Bootstraps every scope: the primary reports, initializes the scope and takes the lease; the replicas report. */
export function setupCommands(topology: Topology): Planned[] {
  const planned: Planned[] = [];
  for (let s = 0; s < topology.scopes; s++) {
    const scope = scopeName(s);
    const primary = memberName(s, 0);
    const host = hostOf(topology, s, 0);
    planned.push({ scope, author: primary, host, command: { kind: "upsertMember", status: memberStatus(s, 0, 0) } });
    planned.push({ scope, author: primary, host, command: { kind: "initializeCluster", member: primary, systemId: SYSTEM_ID } });
    planned.push({ scope, author: primary, host, command: { kind: "acquireLease", member: primary, ttlMs: LEASE_TTL_MS } });
    for (let m = 1; m < topology.membersPerScope; m++) {
      planned.push({ scope, author: memberName(s, m), host: hostOf(topology, s, m), command: { kind: "upsertMember", status: memberStatus(s, m, 0) } });
    }
  }
  return planned;
}

/** The commands of one steady-state second, `membersPerScope + 1` per scope, in send order. */
export function steadySecond(topology: Topology, second: number, generations: readonly number[]): Planned[] {
  const planned: Planned[] = [];
  for (let s = 0; s < topology.scopes; s++) {
    const scope = scopeName(s);
    const primary = memberName(s, 0);
    const generation = generations[s];
    if (generation === undefined) throw new Error(`no lease generation for scope ${s}`);
    planned.push({ scope, author: primary, host: hostOf(topology, s, 0), command: { kind: "renewLease", member: primary, ttlMs: LEASE_TTL_MS, generation } });
    for (let m = 0; m < topology.membersPerScope; m++) {
      planned.push({ scope, author: memberName(s, m), host: hostOf(topology, s, m), command: { kind: "upsertMember", status: memberStatus(s, m, second) } });
    }
  }
  return planned;
}

export function commandsPerSecond(topology: Topology): number {
  return topology.scopes * (topology.membersPerScope + 1);
}

/**
 * A setConfig merge patch that rewrites one of `keys` keys with a `valueBytes` string: the config
 * stays at about keys × valueBytes while every version's patch (kept in the history) is valueBytes.
 */
export function configPatch(version: number, keys: number, valueBytes: number): Command {
  const key = `bench_setting_${version % keys}`;
  const stamp = `v${version}:`;
  const value = stamp + "x".repeat(Math.max(0, valueBytes - stamp.length));
  return { kind: "setConfig", expectedVersion: null, mode: "patch", value: { [key]: value } };
}

// ---- what real agents send (issue 13's capacity figure) --------------------------------------

/**
 * The cadence of an agent at rest (src/ha/rules/holder.ts renewalDue, src/ha/report_cadence.ts):
 * once per loop_wait the holder renews its lease; each member reports an unchanged status once
 * per ttl/KEEPALIVES_PER_TTL, on its loop's ticks. bench:idle measures the same on real agents:
 * 2.5 entries/s per cluster at loop_wait 1 / ttl 5, 0.4 at loop_wait 10 / ttl 30.
 */
export interface Cadence {
  readonly loopWaitS: number;
  readonly ttlS: number;
}

export function keepaliveEveryTicks(cadence: Cadence): number {
  return Math.max(1, Math.ceil(cadence.ttlS / KEEPALIVES_PER_TTL / cadence.loopWaitS));
}

/** Entries per second a cluster of `members` adds at rest. */
export function agentEntriesPerSecond(cadence: Cadence, members: number): number {
  return (1 + members / keepaliveEveryTicks(cadence)) / cadence.loopWaitS;
}

/** Who leads a scope now (a failover moves it) and its lease generation. */
export interface ScopeLive {
  primary: number;
  generation: number;
  timeline: number;
}

/** A member's report with the scope's current roles; at rest the WAL does not move. */
export function liveStatus(scope: number, member: number, live: ScopeLive): MemberStatus {
  const base = memberStatus(scope, member, 0);
  if (member === live.primary) return { ...base, role: "primary", state: "running", timeline: live.timeline, walWritten: base.walWritten ?? base.walReceived, walReceived: null, walReplayed: null };
  const position = (0x3000000n + BigInt(live.timeline)) as Lsn;
  return { ...base, role: "replica", state: "streaming", timeline: live.timeline, walWritten: null, walReceived: position, walReplayed: position };
}

/** The commands one scope's agents send at loop tick `tick`: the renewal, and the keepalives due. */
export function agentTick(topology: Topology, cadence: Cadence, scope: number, tick: number, live: ScopeLive): Planned[] {
  const name = scopeName(scope);
  const primary = memberName(scope, live.primary);
  const planned: Planned[] = [{ scope: name, author: primary, host: hostOf(topology, scope, live.primary), command: { kind: "renewLease", member: primary, ttlMs: cadence.ttlS * 1000, generation: live.generation } }];
  const every = keepaliveEveryTicks(cadence);
  for (let m = 0; m < topology.membersPerScope; m++) {
    // Members of a scope keep alive on different ticks, as agents started at different times do.
    if ((tick + m + scope) % every !== 0) continue;
    planned.push({ scope: name, author: memberName(scope, m), host: hostOf(topology, scope, m), command: { kind: "upsertMember", status: liveStatus(scope, m, live) } });
  }
  return planned;
}

/**
 * A failover of one scope as the agents carry it out: the old primary's lease goes (fenced by its
 * watchdog, or released), the replicas report what they have, one takes the lease, reports
 * itself primary and records the new timeline, the other follows it. `acquire` is the step whose
 * answer carries the new generation.
 */
export function failoverSteps(topology: Topology, scope: number, live: ScopeLive, ttlMs: number): { steps: Planned[]; acquire: number } {
  const name = scopeName(scope);
  const old = live.primary;
  const next = (old + 1) % topology.membersPerScope;
  const author = (m: number): MemberName => memberName(scope, m);
  const host = (m: number): number => hostOf(topology, scope, m);
  const gone: ScopeLive = { ...live, primary: -1 };
  const after: ScopeLive = { primary: next, generation: live.generation + 1, timeline: live.timeline + 1 };
  const steps: Planned[] = [{ scope: name, author: author(old), host: host(old), command: { kind: "releaseLease", member: author(old), generation: live.generation } }];
  for (let m = 0; m < topology.membersPerScope; m++) {
    if (m !== old) steps.push({ scope: name, author: author(m), host: host(m), command: { kind: "upsertMember", status: liveStatus(scope, m, gone) } });
  }
  const acquire = steps.length;
  steps.push({ scope: name, author: author(next), host: host(next), command: { kind: "acquireLease", member: author(next), ttlMs } });
  steps.push({ scope: name, author: author(next), host: host(next), command: { kind: "upsertMember", status: liveStatus(scope, next, after) } });
  steps.push({ scope: name, author: author(next), host: host(next), command: { kind: "recordTimeline", timeline: after.timeline, lsn: 0x3000000n as Lsn, reason: "failover", newPrimary: author(next) } });
  for (let m = 0; m < topology.membersPerScope; m++) {
    if (m !== next) steps.push({ scope: name, author: author(m), host: host(m), command: { kind: "upsertMember", status: liveStatus(scope, m, after) } });
  }
  return { steps, acquire };
}
