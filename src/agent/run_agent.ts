/**
 * `raftgres agent -c node.yml [--rejoin]`: one node — Raft, the cluster state, HA and the control
 * of its PostgreSQL — until SIGTERM/SIGINT (a primary stops PostgreSQL and releases its lease
 * first, so a replica takes over at once); SIGHUP re-reads node.yml. Loaded only for `agent`, so
 * the CLI's modules (commander, diff …) are not in an agent's memory, nor the agent's in the CLI's.
 */
import { parseArgs } from "node:util";
import * as E from "fp-ts/lib/Either.js";
import { jsonLogger } from "../lib/json_logger.js";
import { startAgent } from "./agent.js";
import { type AgentConfig, loadAgentConfig } from "./config.js";
import { asRejoining } from "./recovery.js";

const USAGE = "usage: raftgres agent -c <node.yml> [--rejoin]";

function parseAgentArgs(args: string[]): { config: string; rejoin: boolean } {
  let parsed;
  try {
    parsed = parseArgs({ args, options: { config: { type: "string", short: "c" }, rejoin: { type: "boolean" } } });
  } catch (error: unknown) {
    fail(`${error instanceof Error ? error.message : String(error)}\n${USAGE}`);
  }
  const { values } = parsed;
  if (values.config === undefined) fail(`${USAGE}\n(-c names the node's YAML configuration; --rejoin starts a node whose Raft data was lost as a joining node)`);
  return { config: values.config, rejoin: values.rejoin === true };
}

export async function runAgent(args: string[]): Promise<void> {
  const values = parseAgentArgs(args);
  const loaded = loadAgentConfig(values.config);
  if (E.isLeft(loaded)) fail(loaded.left);
  const config: AgentConfig = values.rejoin ? asRejoining(loaded.right) : loaded.right;
  // A log reader that went away must not take the agent down with it.
  process.stdout.on("error", () => {});
  const logger = jsonLogger({ write: (line) => void process.stdout.write(line), now: Date.now, base: { member: config.name, scope: config.scope } });
  const agent = await startAgent(config, logger, (message) => {
    logger.error({}, `stopping: ${message}`);
    process.exit(1);
  }, values.config);
  if (E.isLeft(agent)) fail(`the agent did not start: ${agent.left}`);
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, "stopping the agent");
    void agent.right.stop().then(() => process.exit(0), (error: unknown) => {
      logger.error({ err: error }, "the agent did not stop cleanly");
      process.exit(1);
    });
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
  // SIGHUP re-reads node.yml, as Patroni does (and POST /reload).
  process.on("SIGHUP", () => {
    void agent.right.reload().then((reloaded) => {
      if (E.isLeft(reloaded)) logger.error({}, reloaded.left);
    });
  });
}

function fail(message: string): never {
  process.stderr.write(`raftgres: ${message}\n`);
  process.exit(2);
}

