/**
 * What an operator does when this node's Raft data is damaged or lost entries it acknowledged
 * (src/raft/runtime/log_store_verify.ts): the node must not vote or count towards commitment with
 * that log, so it does not start. It comes back the way etcd brings back a member whose data is
 * gone: removed from the Raft group by the others, started again with an empty Raft directory as
 * a joining node, and added back — as a learner that receives a snapshot and becomes a voter once
 * it has caught up. PostgreSQL's data directory is not touched.
 */
import type { AgentConfig } from "./config.js";

/** The exact commands, for this node's configuration, as lines to print after the error. */
export function damagedLogProcedure(config: AgentConfig, configPath: string | null, nowMs: number): string {
  const name = config.name;
  const dir = config.raft.dataDir;
  const stamp = new Date(nowMs).toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z");
  const address = `${config.raft.listen.host}:${config.raft.listen.port}`;
  const others = [...(config.raft.join ?? config.raft.members).keys()].filter((member) => member !== name);
  const file = configPath ?? "node.yml";
  return [
    `To bring ${name} back safely (its PostgreSQL data is not affected):`,
    `  1. on a running member (${others.join(", ") || "another member"}), remove ${name} from the Raft group:`,
    `       raftgres --url http://<that member's REST address> members remove ${name} --force`,
    `  2. here, move the damaged Raft directory aside (keep it for analysis):`,
    `       mv ${dir} ${dir}.damaged-${stamp}`,
    `  3. start this node again with an empty Raft directory, as a joining node:`,
    `       raftgres agent -c ${file} --rejoin`,
    `  4. add it back; it catches up from a snapshot as a learner, then votes again:`,
    `       raftgres --url http://<that member's REST address> members add ${name} ${address}`,
    `If a majority of the members lost their Raft data, the group cannot remove anyone: restore from the surviving member instead.`,
  ].join("\n");
}

/**
 * `--rejoin`: the node starts as a joining node (raft.join) even though its file lists the
 * founding members, so an empty Raft directory is not bootstrapped as a new group.
 */
export function asRejoining(config: AgentConfig): AgentConfig {
  if (config.raft.join !== null) return config;
  const contacts = new Map([...config.raft.members].filter(([member]) => member !== config.name));
  return { ...config, raft: { ...config.raft, join: contacts, members: new Map() } };
}
