/**
 * raftgres witness: a node that runs Raft and the cluster state but no PostgreSQL, so two
 * database nodes and one witness keep a majority when one of them fails.
 *
 *   node dist/src/agent/witness_main.js --config witness.json
 *
 * The configuration (JSON for now; the YAML configuration of the agent arrives with the REST API
 * and CLI) names the node, the cluster, the shared secret, where to listen, the data directory
 * and either the initial members of a new cluster or existing members to join.
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import * as E from "fp-ts/lib/Either.js";
import { jsonLogger } from "../lib/json_logger.js";
import { type ConfMember, isValidNodeId, type NodeId } from "../raft/types.js";
import { startDcsNode } from "./dcs_node.js";

interface WitnessConfig {
  readonly name: string;
  readonly clusterId: string;
  readonly secret: string;
  readonly dataDir: string;
  readonly listen: string;
  readonly initialMembers?: readonly { readonly name: string; readonly address: string; readonly role?: "voter" | "learner" }[];
  readonly join?: readonly { readonly name: string; readonly address: string }[];
  readonly heartbeatMs?: number;
  readonly electionTimeoutMs?: number;
}

/** Reads and checks the configuration; a message naming the key and what is allowed otherwise. */
export function parseWitnessConfig(text: string, source: string): E.Either<string, WitnessConfig> {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error: unknown) {
    return E.left(`${source}: not valid JSON (${error instanceof Error ? error.message : String(error)})`);
  }
  if (typeof raw !== "object" || raw === null) return E.left(`${source}: the configuration must be a JSON object`);
  const config = raw as Record<string, unknown>;
  const known = ["name", "clusterId", "secret", "dataDir", "listen", "initialMembers", "join", "heartbeatMs", "electionTimeoutMs"];
  for (const key of Object.keys(config)) if (!known.includes(key)) return E.left(`${source}: unknown key "${key}" (known: ${known.join(", ")})`);
  for (const key of ["name", "clusterId", "secret", "dataDir", "listen"]) {
    if (typeof config[key] !== "string" || config[key] === "") return E.left(`${source}: "${key}" must be a non-empty string`);
  }
  if (!isValidNodeId(config["name"] as string)) return E.left(`${source}: "name" ${JSON.stringify(config["name"])} may hold letters, digits, '_', '.', '-' (at most 63)`);
  if (!/^[^:]+:\d{1,5}$/.test(config["listen"] as string)) return E.left(`${source}: "listen" must be host:port, got ${JSON.stringify(config["listen"])}`);
  if (config["initialMembers"] === undefined && config["join"] === undefined) return E.left(`${source}: give "initialMembers" (a new cluster) or "join" (an existing one)`);
  for (const key of ["initialMembers", "join"]) {
    const list = config[key];
    if (list === undefined) continue;
    if (!Array.isArray(list) || list.some((m) => typeof m !== "object" || m === null || !isValidNodeId(String((m as { name?: unknown }).name)) || typeof (m as { address?: unknown }).address !== "string")) {
      return E.left(`${source}: "${key}" must be a list of {"name", "address"} with valid names`);
    }
  }
  return E.right(config as unknown as WitnessConfig);
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { config: { type: "string" } } });
  if (values.config === undefined) throw new Error("usage: witness_main --config <file.json>");
  const parsed = parseWitnessConfig(readFileSync(values.config, "utf8"), values.config);
  if (E.isLeft(parsed)) throw new Error(parsed.left);
  const config = parsed.right;
  process.stdout.on("error", () => {});
  const logger = jsonLogger({ write: (line) => void process.stdout.write(line), now: Date.now, base: { node: config.name, role: "witness" } });
  const [host, port] = config.listen.split(":") as [string, string];
  const initialMembers: ConfMember[] | null = config.initialMembers?.map((m) => ({ id: m.name as NodeId, role: m.role ?? "voter", address: m.address })) ?? null;
  const started = await startDcsNode({
    nodeId: config.name as NodeId,
    clusterId: config.clusterId,
    secret: config.secret,
    dataDir: config.dataDir,
    listenHost: host,
    listenPort: Number(port),
    initialMembers,
    seedPeers: new Map((config.join ?? []).map((m) => [m.name as NodeId, m.address])),
    heartbeatMs: config.heartbeatMs ?? 250,
    electionTimeoutMs: config.electionTimeoutMs ?? 1000,
    snapshotEveryEntries: 10_000,
    logger,
    onFatal: (error) => {
      logger.error({ code: error.code }, `witness stopping: ${error.message}`);
      process.exit(1);
    },
  });
  if (E.isLeft(started)) throw new Error(started.left.message);
  const node = started.right;
  logger.info({ listen: config.listen }, "witness running: Raft and the cluster state, no PostgreSQL");
  const stop = (): void => {
    void node.raft.stop().then(() => process.exit(0));
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((error: unknown) => {
    process.stderr.write(`raftgres witness: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(2);
  });
}
