#!/usr/bin/env -S node --max-semi-space-size=4
/**
 * raftgres — the command a node runs:
 *
 *   raftgres agent -c node.yml     Raft + cluster state + HA + PostgreSQL control on this node
 *   raftgres <command> …           the operator's commands (list, switchover, edit-config …),
 *                                  a client of the agents' REST API (src/api/cli; raftgres --help)
 *
 * SIGTERM/SIGINT stop the agent: a primary stops PostgreSQL and releases its lease first, so a
 * replica takes over at once. SIGHUP re-reads node.yml.
 */
import { parseArgs } from "node:util";
import { either as E } from "fp-ts";
import { pino } from "pino";
import type { Logger } from "../lib/logger.js";
import { startAgent } from "./agent.js";
import { type AgentConfig, loadAgentConfig } from "./config.js";
import { asRejoining } from "./recovery.js";
import { processIo, runCli } from "../api/cli/main.js";

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

async function runAgent(args: string[]): Promise<void> {
  const values = parseAgentArgs(args);
  const loaded = loadAgentConfig(values.config);
  if (E.isLeft(loaded)) fail(loaded.left);
  const config: AgentConfig = values.rejoin ? asRejoining(loaded.right) : loaded.right;
  const logger = pino({ base: { member: config.name, scope: config.scope } }) as unknown as Logger;
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

const [command, ...rest] = process.argv.slice(2);
if (command === "agent") {
  runAgent(rest).catch((error: unknown) => {
    process.stderr.write(`raftgres agent failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  });
} else {
  // Every other command line belongs to the CLI, --help and usage errors included.
  runCli(process.argv.slice(2), processIo()).then((code) => {
    process.exitCode = code;
  }, (error: unknown) => {
    process.stderr.write(`raftgres: internal error (a bug): ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  });
}
