/**
 * What the config tests share: the smallest node.yml the agent accepts (one member; a test adds
 * the section it is about) and what parsing a text says.
 */
import { either as E } from "fp-ts";
import { parseAgentConfig } from "../../src/agent/config.js";

export const MINIMAL_NODE_YML = `
scope: main
name: pg1
restapi:
  listen: 127.0.0.1:8008
raft:
  listen: 127.0.0.1:7001
  data_dir: /var/lib/raftgres/raft
  cluster_id: demo
  secret: s3cret-s3cret
  members: { pg1: "127.0.0.1:7001" }
postgresql:
  listen: 127.0.0.1:5432
  data_dir: /var/lib/raftgres/pg
  authentication:
    superuser: { username: postgres, password: pw }
    replication: { username: replicator, password: rpw }
`;

/** The problems parsing `text` reports, or "accepted". */
export function problems(text: string): string {
  const parsed = parseAgentConfig(text, "node.yml");
  return E.isLeft(parsed) ? parsed.left : "accepted";
}
