/**
 * The node file's raft section, the part that replaces etcd: where this node's Raft listens, the
 * directory of its log, the group's name and shared secret, the founding voters (or members to
 * join) and Raft's two intervals. Patroni's spellings of these keys were turned into ours before
 * (config_patroni_raft.ts).
 */
import { isValidName } from "../dcs/model.js";
import type { ConfigReader, HostPort } from "./config_reader.js";

export interface RaftSettings {
  readonly listen: HostPort;
  readonly dataDir: string;
  readonly clusterId: string;
  readonly secret: string;
  /** Initial voters of a new Raft group, name → host:port (this node included). */
  readonly members: ReadonlyMap<string, string>;
  /**
   * Instead of `members`: existing members to contact, for a node joining a running group.
   * It starts with an empty log and waits until an operator adds it (`raftgres members add`).
   */
  readonly join: ReadonlyMap<string, string> | null;
  readonly heartbeatMs: number;
  readonly electionTimeoutMs: number;
}

export interface MsRange {
  readonly min: number;
  readonly max: number;
  readonly fallback: number;
}

/**
 * 250 ms: a quarter of the election timeout; an idle group sends 4 heartbeats a second per
 * follower (issue 13). Commits do not wait for heartbeats (the leader sends them at once).
 */
export const RAFT_HEARTBEAT_MS: MsRange = { min: 10, max: 10_000, fallback: 250 };
export const RAFT_ELECTION_TIMEOUT_MS: MsRange = { min: 100, max: 60_000, fallback: 1000 };

export function readRaft(raft: ConfigReader, name: string): RaftSettings {
  raft.require("data_dir", "the directory of this node's Raft log and snapshots, e.g. /var/lib/raftgres/raft (Patroni's default, the working directory, is not assumed)");
  raft.require("listen", "the host:port this node's Raft listens on, e.g. 10.0.0.1:7001 (Patroni's self_addr or bind_addr are read as it too)");
  raft.require("cluster_id", "the Raft group's name, the same on every member (Patroni has none; the scope's name does well): a peer of another group is refused");
  if (raft.has("members") === raft.has("join")) raft.fail("members", "give either members (the voters of a new group, this node included) or join (members of a running group to join)");
  const join = raft.has("join") ? raft.members("join") : null;
  const members = join === null ? raft.members("members") : new Map<string, string>();
  if (join === null && isValidName(name) && members.size > 0 && !members.has(name)) raft.fail("members", `must include this node (${name})`);
  if (join?.has(name) === true) raft.fail("join", `names this node (${name}); list the members to contact`);
  const heartbeatMs = raft.integer("heartbeat_ms", RAFT_HEARTBEAT_MS.fallback, RAFT_HEARTBEAT_MS.min, RAFT_HEARTBEAT_MS.max);
  const electionTimeoutMs = raft.integer("election_timeout_ms", RAFT_ELECTION_TIMEOUT_MS.fallback, RAFT_ELECTION_TIMEOUT_MS.min, RAFT_ELECTION_TIMEOUT_MS.max);
  const intervals = intervalsProblem(heartbeatMs, electionTimeoutMs);
  if (intervals !== null && !raft.hasProblem("heartbeat_ms")) raft.fail("election_timeout_ms", intervals);
  return {
    listen: raft.hostPort("listen"),
    dataDir: raft.path("data_dir"),
    clusterId: raft.name("cluster_id"),
    secret: raft.secret("secret", "secret_file"),
    members,
    join,
    heartbeatMs,
    electionTimeoutMs,
  };
}

/**
 * The Raft runtime counts time in ticks that divide both intervals, so the election timeout is a
 * whole multiple of the heartbeat interval, at least twice it (src/raft/runtime/raft_node.ts
 * asserts it; a file that breaks it is refused here instead). Null when the two agree.
 */
export function intervalsProblem(heartbeatMs: number, electionTimeoutMs: number): string | null {
  if (electionTimeoutMs >= 2 * heartbeatMs && electionTimeoutMs % heartbeatMs === 0) return null;
  const below = Math.floor(electionTimeoutMs / heartbeatMs) * heartbeatMs;
  const fits = [below, below + heartbeatMs].filter((ms) => ms >= 2 * heartbeatMs && ms >= RAFT_ELECTION_TIMEOUT_MS.min && ms <= RAFT_ELECTION_TIMEOUT_MS.max);
  const advice = fits.length === 0 ? "" : `: ${fits.join(" or ")} ms would do`;
  return `the election timeout (${electionTimeoutMs} ms) must be a whole multiple, at least 2, of the heartbeat interval (${heartbeatMs} ms)${advice}`;
}
