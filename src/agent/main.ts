#!/usr/bin/env -S node --max-semi-space-size=4 --optimize-for-size
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
const [command, ...rest] = process.argv.slice(2);
if (command === "agent") {
  import("./run_agent.js").then(({ runAgent }) => runAgent(rest)).catch((error: unknown) => {
    process.stderr.write(`raftgres agent failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  });
} else {
  // Every other command line belongs to the CLI, --help and usage errors included.
  // The CLI's query command runs SQL through the PostgreSQL client of src/pg.
  Promise.all([import("../api/cli/main.js"), import("../pg/adhoc_query.js")]).then(([{ processIo, runCli }, { adhocQuery }]) => runCli(process.argv.slice(2), { ...processIo(), query: adhocQuery })).then((code) => {
    process.exitCode = code;
  }, (error: unknown) => {
    process.stderr.write(`raftgres: internal error (a bug): ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  });
}
