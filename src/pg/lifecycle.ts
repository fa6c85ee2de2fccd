/**
 * Starting and stopping the server: configuration files for the role, the postmaster, and the
 * wait until it accepts connections.
 */
import { setTimeout as sleep } from "node:timers/promises";
import * as E from "fp-ts/lib/Either.js";
import type { StopMode } from "../ha/actions.js";
import type { PgResult } from "../ha/ports.js";
import { type ServerRole, writeServerFiles } from "./conf.js";
import { OUTPUT_TAIL_LINES, START_POLL_MS } from "./constants.js";
import { checkDataDir, ensureOwnedDirectory } from "./files.js";
import type { Postmaster } from "./postmaster.js";
import { quoteLines } from "./programs.js";
import { DONE, failure } from "./results.js";
import type { ResolvedSettings } from "./settings.js";
import { queryOnce, type SqlTarget } from "./sql.js";

/** SQLSTATEs of a login the server refused: waiting longer will not help. */
const AUTH_FAILURES = new Set(["28P01", "28000"]);

export function sqlTarget(s: ResolvedSettings, overrides: Partial<SqlTarget> = {}): SqlTarget {
  return {
    host: s.connectHost,
    port: s.port,
    user: s.superuser.username,
    password: s.superuser.password,
    database: "postgres",
    connectTimeoutMs: s.timeouts.connectTimeoutMs,
    queryTimeoutMs: s.timeouts.queryTimeoutMs,
    ...overrides,
  };
}

export function serverLogFile(s: ResolvedSettings): string {
  return `${s.logDir}/postgresql.log`;
}

/** Writes the files for `role`, spawns the postmaster and waits until `SELECT 1` works. */
export async function startServer(s: ResolvedSettings, postmaster: Postmaster, role: ServerRole): Promise<PgResult> {
  if (postmaster.pid !== null) {
    return failure("wrongState", `PostgreSQL is already ${postmaster.state} (postmaster pid ${postmaster.pid}): stop it first`);
  }
  const dir = await checkDataDir(s.dataDir, s.osUser);
  if (dir.state !== "initialized") {
    return failure("wrongState", `cannot start PostgreSQL: the data directory ${s.dataDir} is ${dir.state}${dir.problem === null ? "" : ` (${dir.problem})`}`);
  }
  await ensureOwnedDirectory(s.logDir, s.osUser, 0o750);
  const written = await writeServerFiles(s, role);
  if (E.isLeft(written)) return failure("failed", `cannot start PostgreSQL: ${written.left}`);
  const spawned = postmaster.spawn();
  if (E.isLeft(spawned)) return failure("failed", `cannot start PostgreSQL: ${spawned.left}`);
  s.logger.info({ pid: postmaster.pid, role: role.role }, "postmaster spawned, waiting until it accepts connections");
  postmaster.expectExit(true);
  try {
    return await waitUntilAccepting(s, postmaster, spawned.right);
  } finally {
    postmaster.expectExit(false);
  }
}

async function waitUntilAccepting(s: ResolvedSettings, postmaster: Postmaster, logOffset: number): Promise<PgResult> {
  const pid = postmaster.pid;
  const deadline = Date.now() + s.timeouts.startTimeoutMs;
  const logTail = (): string => `; server log ${serverLogFile(s)}${quoteLines(postmaster.logTail(logOffset, OUTPUT_TAIL_LINES))}`;
  // Every wait below also ends when the postmaster exits: a failed start is reported at once.
  const exited = postmaster.waitForExit(s.timeouts.startTimeoutMs).then(() => "exited" as const);
  let lastError = "no attempt yet";
  while (Date.now() < deadline && postmaster.pid === pid) {
    const remaining = Math.max(1, deadline - Date.now());
    const target = sqlTarget(s, { connectTimeoutMs: Math.min(s.timeouts.connectTimeoutMs, remaining) });
    const probe = await Promise.race([queryOnce(target, "SELECT 1"), exited]);
    if (probe === "exited") break;
    if (E.isRight(probe)) {
      postmaster.markRunning();
      s.logger.info({ pid }, "PostgreSQL accepts connections");
      return DONE;
    }
    lastError = probe.left.message;
    if (probe.left.sqlState !== null && AUTH_FAILURES.has(probe.left.sqlState)) {
      return failure("failed", `PostgreSQL runs (pid ${pid}) but refuses the superuser "${s.superuser.username}": ${lastError}. Check the superuser password and pg_hba.conf.`);
    }
    await Promise.race([sleep(START_POLL_MS), exited]);
  }
  const serverErrors = fatalLines(postmaster.logTail(logOffset, SERVER_ERROR_SCAN_LINES));
  if (postmaster.pid !== pid) {
    const exit = postmaster.lastExit;
    const how = exit === null ? "" : exit.signal !== null ? ` (${exit.signal})` : ` (exit code ${exit.code})`;
    return E.left({ code: "failed", message: `PostgreSQL exited during start${how}${logTail()}\nFix the cause shown in the log, then start again.`, serverErrors });
  }
  return E.left({
    code: "timeout",
    message:
      `PostgreSQL (pid ${pid}) did not accept connections within ${s.timeouts.startTimeoutMs} ms (last error: ${lastError})${logTail()}\n` +
      "It is left running: a long crash recovery may still finish; stop it to give up.",
    serverErrors,
  });
}

/** Lines of this start's server log searched for PostgreSQL's own reason. */
const SERVER_ERROR_SCAN_LINES = 50;
/** FATAL and PANIC lines kept as the reason of a failed start. */
const SERVER_ERRORS_MAX = 5;

/** PostgreSQL's FATAL and PANIC lines, from the severity on (log_line_prefix's time and pid dropped). */
export function fatalLines(lines: readonly string[]): string[] {
  const found: string[] = [];
  for (const line of lines) {
    const at = line.search(/\b(FATAL|PANIC): /);
    if (at >= 0) found.push(line.slice(at).replace(/\s+/g, " ").trim());
  }
  return found.slice(-SERVER_ERRORS_MAX);
}

export async function stopServer(s: ResolvedSettings, postmaster: Postmaster, mode: StopMode): Promise<PgResult> {
  const pid = postmaster.pid;
  if (pid === null) return DONE;
  s.logger.info({ pid, mode }, "stopping PostgreSQL");
  const { killed } = await postmaster.stop(mode, s.timeouts.stopTimeoutMs);
  if (killed) s.logger.warn({ pid, mode }, `PostgreSQL did not stop within ${s.timeouts.stopTimeoutMs} ms: its process group was killed`);
  return DONE;
}
