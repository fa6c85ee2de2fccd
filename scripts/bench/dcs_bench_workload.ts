/**
 * The command streams of the DCS benchmark, shared by the in-process replay and the load process:
 * S scopes of M members each; per scope, member 0 is the primary. Every second of entry time each
 * member reports its status and each primary renews its lease (what a Patroni-style agent does on
 * a 1 s loop). Pure: no clock, no I/O; times and sequence numbers are passed in.
 */
import type { Command } from "../../src/dcs/commands.js";
import { DEFAULT_TAGS, type Lsn, type MemberName, type MemberStatus, type Scope } from "../../src/dcs/model.js";

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
