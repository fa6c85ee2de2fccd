/**
 * bootstrap: initdb (checksums on, so pg_rewind always works), our configuration, a start as the
 * primary, and the replication role. The server is left running.
 */
import { join } from "node:path";
import * as E from "fp-ts/lib/Either.js";
import type { PgResult } from "../ha/ports.js";
import { checkDataDir, ensureOwnedDirectory, removeIfPresent, wipeDirectoryContents, writeFileAtomic } from "./files.js";
import { scramVerifier } from "./passfile.js";
import { describeOutcome, runProgram, succeeded } from "./programs.js";
import { DONE, failure } from "./results.js";
import type { ResolvedSettings } from "./settings.js";
import { quoteIdent, quoteLiteral, type SqlSession } from "./sql.js";

export async function initializeDataDir(s: ResolvedSettings): Promise<PgResult> {
  const dir = await checkDataDir(s.dataDir, s.osUser);
  if (dir.state !== "empty") {
    return failure("wrongState", `cannot bootstrap: the data directory ${s.dataDir} is ${dir.state}${dir.problem === null ? "" : ` (${dir.problem})`}; bootstrap needs an empty one`);
  }
  await ensureOwnedDirectory(s.dataDir, s.osUser);
  await ensureOwnedDirectory(s.logDir, s.osUser, 0o750);
  // initdb reads the password from a file: never on the command line, removed at once.
  const pwfile = join(s.logDir, `.initdb-pwfile-${process.pid}`);
  await writeFileAtomic(pwfile, `${s.superuser.password}\n`, s.osUser, 0o600);
  try {
    const args = [
      ["-D", s.dataDir],
      ["--data-checksums", "-U", s.superuser.username, `--pwfile=${pwfile}`],
      ["--auth-host=scram-sha-256", "--auth-local=peer", "-E", "UTF8", "--locale=C"],
    ].flat();
    const outcome = await runProgram(s.binDir, s.osUser, { program: "initdb", args, timeoutMs: s.timeouts.initdbTimeoutMs });
    if (succeeded(outcome)) return DONE;
    await wipeDirectoryContents(s.dataDir);
    return failure("failed", `initdb failed: ${describeOutcome("initdb", outcome, s.timeouts.initdbTimeoutMs)}\nThe data directory was emptied; fix the cause and bootstrap again.`);
  } finally {
    await removeIfPresent(pwfile);
  }
}

/** Creates the replication role, or resets its password and attributes when it exists. */
export async function ensureReplicationRole(s: ResolvedSettings, session: SqlSession): Promise<PgResult> {
  const { username, password } = s.replication;
  const found = await session.query("SELECT 1 FROM pg_roles WHERE rolname = $1", [username]);
  if (E.isLeft(found)) return failure("failed", `cannot look up role "${username}": ${found.left.message}`);
  const verb = found.right.length === 0 ? "CREATE" : "ALTER";
  // Utility statements take no parameters: the name and the password are quoted here. The
  // password goes as its SCRAM verifier when it can, so that a logged statement (log_statement,
  // an error report) never shows it; otherwise this session logs no statements.
  const verifier = scramVerifier(password);
  if (verifier === null) {
    const quiet = await session.query("SELECT set_config('log_statement', 'none', false), set_config('log_min_error_statement', 'panic', false)");
    if (E.isLeft(quiet)) return failure("failed", `cannot set the replication role's password without logging it: ${quiet.left.message}`);
  }
  const created = await session.query(`${verb} ROLE ${quoteIdent(username)} WITH REPLICATION LOGIN PASSWORD ${quoteLiteral(verifier ?? password)}`);
  if (E.isLeft(created)) return failure("failed", `cannot ${verb.toLowerCase()} the replication role "${username}": ${created.left.message}`);
  s.logger.info({ role: username }, verb === "CREATE" ? "replication role created" : "replication role updated");
  return DONE;
}
