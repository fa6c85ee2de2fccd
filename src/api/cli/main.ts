/**
 * `raftgres <command>`: the operator's CLI, a client of the REST API only (patronictl's commands,
 * shared/reference/patroni-behaviour.md §2). runCli() takes its streams and environment as
 * arguments, so tests run it in-process; the binary (src/agent/main.ts) passes the process's.
 *
 * Exit codes: 0 success · 1 refused or failed · 2 usage error · 3 no node reachable (exit.ts).
 */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { Command, CommanderError } from "commander";
import { registerDsn } from "./commands/dsn.js";
import { registerEditConfig } from "./commands/edit_config.js";
import { registerFlush } from "./commands/flush.js";
import { registerQuery } from "./commands/query.js";
import { registerRemove } from "./commands/remove.js";
import { registerHistory } from "./commands/history.js";
import { registerList } from "./commands/list.js";
import { registerMaintenance } from "./commands/maintenance.js";
import { registerMemberActions } from "./commands/member_actions.js";
import { registerMembers } from "./commands/members.js";
import { registerPause } from "./commands/pause.js";
import { registerSecret } from "./commands/secret.js";
import { registerStandbyCluster } from "./commands/standby_cluster.js";
import { registerSwitchover } from "./commands/switchover.js";
import { registerVersion } from "./commands/version.js";
import { CliContext, type CliIo } from "./context.js";
import { CliExit, EXIT, type ExitCode } from "./exit.js";
import { CLI_VERSION } from "./version.js";

export function processIo(): CliIo {
  // A reader that went away (`raftgres list | head -3`) ends the command quietly, as other
  // command-line tools do, instead of an unhandled EPIPE.
  for (const stream of [process.stdout, process.stderr]) {
    stream.on("error", (error: NodeJS.ErrnoException) => {
      if (error.code === "EPIPE") process.exit(process.exitCode ?? 0);
      throw error;
    });
  }
  return {
    stdout: process.stdout,
    stderr: process.stderr,
    stdin: process.stdin,
    env: process.env,
    readFile: (path) => readFileSync(path === "-" ? 0 : path, "utf8"),
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    // The editor may carry arguments ("code --wait"): let the shell split it, the path stays one word.
    edit: (editor, path) => spawnSync("/bin/sh", ["-c", `${editor} "$1"`, "sh", path], { stdio: "inherit" }).status ?? 1,
  };
}

function buildProgram(ctx: CliContext): Command {
  const program = new Command("raftgres")
    .description("High availability for PostgreSQL over an embedded Raft log: the operator's commands.\nEach talks to the REST API of the agents (raftgres agent -c node.yml).")
    .version(CLI_VERSION, "-V, --cli-version", "print the CLI's version")
    .option("--url <url>", "an agent's REST API (http://host:port); repeat or comma-separate to try several", (value: string, previous: string[] | undefined) => [...(previous ?? []), value])
    .option("-c, --config <file>", "read restapi and ctl from this node.yml (or RAFTGRES_CONFIG)")
    .option("--username <name>", "REST API user (or RAFTGRES_USERNAME)")
    .option("--password <password>", "REST API password (or RAFTGRES_PASSWORD)")
    .option("-k, --insecure", "do not verify the server's TLS certificate")
    .configureHelp({ showGlobalOptions: true, sortSubcommands: false })
    .addHelpText("after", "\nThe agent itself: raftgres agent -c node.yml\nExit codes: 0 ok, 1 refused or failed, 2 usage error, 3 no node reachable.")
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureOutput({
      writeOut: (text) => ctx.io.stdout.write(text),
      writeErr: (text) => ctx.io.stderr.write(text),
    });
  program.hook("preAction", (_program, action) => ctx.setFlags(action.optsWithGlobals()));
  registerMaintenance(program, ctx);
  registerList(program, ctx);
  registerSwitchover(program, ctx);
  registerEditConfig(program, ctx);
  registerPause(program, ctx);
  registerStandbyCluster(program, ctx);
  registerMemberActions(program, ctx);
  registerFlush(program, ctx);
  registerQuery(program, ctx);
  registerRemove(program, ctx);
  registerHistory(program, ctx);
  registerDsn(program, ctx);
  registerMembers(program, ctx);
  registerVersion(program, ctx);
  registerSecret(program, ctx);
  // Every subcommand reports usage errors the same way and writes through ctx.io.
  for (const command of program.commands) {
    command.exitOverride().configureOutput({ writeOut: (text) => ctx.io.stdout.write(text), writeErr: (text) => ctx.io.stderr.write(text) }).showSuggestionAfterError(true);
    for (const sub of command.commands) sub.exitOverride().configureOutput({ writeOut: (text) => ctx.io.stdout.write(text), writeErr: (text) => ctx.io.stderr.write(text) });
  }
  return program;
}

/** Runs one command line (without "node raftgres") and returns the exit code. */
export async function runCli(args: readonly string[], io: CliIo): Promise<ExitCode> {
  const ctx = new CliContext(io);
  const program = buildProgram(ctx);
  try {
    if (args.length === 0) {
      program.outputHelp();
      return EXIT.usage;
    }
    await program.parseAsync([...args], { from: "user" });
    return EXIT.ok;
  } catch (error: unknown) {
    if (error instanceof CommanderError) return commanderExit(error);
    if (error instanceof CliExit) {
      io.stderr.write(`Error: ${error.message}\n`);
      return error.code;
    }
    throw error;
  } finally {
    ctx.prompt.close();
  }
}

/** Help and version end with 0; every other commander error is a usage error (its text is printed). */
function commanderExit(error: CommanderError): ExitCode {
  if (error.code === "commander.helpDisplayed" || error.code === "commander.version" || error.code === "commander.help") return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
  return EXIT.usage;
}
