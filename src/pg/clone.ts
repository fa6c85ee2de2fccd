/**
 * clone: pg_basebackup from a running member into the empty data directory, then the
 * configuration of a replica of that member. The server is not started (decide() asks for it).
 */
import * as E from "fp-ts/lib/Either.js";
import type { Upstream } from "../ha/actions.js";
import type { PgResult } from "../ha/ports.js";
import { writeServerFiles } from "./conf.js";
import { formatConninfo, parseConnectionString, withParams } from "./conninfo.js";
import { checkDataDir, ensureOwnedDirectory, wipeDirectoryContents } from "./files.js";
import type { ProgressReporter } from "./progress.js";
import { passfileEnv, writePassfile } from "./passfile.js";
import { describeOutcome, runProgram, succeeded } from "./programs.js";
import { DONE, failure } from "./results.js";
import type { ResolvedSettings } from "./settings.js";

export async function cloneFrom(s: ResolvedSettings, source: Upstream, progress: ProgressReporter): Promise<PgResult> {
  const dir = await checkDataDir(s.dataDir, s.osUser);
  if (dir.state !== "empty") {
    return failure("wrongState", `cannot clone from ${source.member}: the data directory ${s.dataDir} is ${dir.state}${dir.problem === null ? "" : ` (${dir.problem})`}; clone needs an empty one (reinit wipes it)`);
  }
  const parsed = parseConnectionString(source.connUrl);
  if (E.isLeft(parsed)) return failure("failed", `cannot clone from ${source.member}: ${parsed.left}`);
  // The password is in the password file: a command line is visible to every local user.
  const conninfo = formatConninfo(withParams(parsed.right, { user: s.replication.username, password: undefined, dbname: undefined, application_name: `${s.memberName}_clone` }));
  await ensureOwnedDirectory(s.dataDir, s.osUser);
  await writePassfile(s);
  const timeoutMs = s.timeouts.basebackupTimeoutMs;
  progress.begin("clone");
  s.logger.info({ source: source.member }, `cloning from ${source.member} with pg_basebackup`);
  const outcome = await runProgram(s.binDir, s.osUser, {
    program: "pg_basebackup",
    args: ["-D", s.dataDir, "-X", "stream", "-c", "fast", "-d", conninfo, "--progress", "--verbose"],
    timeoutMs,
    env: passfileEnv(s),
    onLine: (line) => progress.line(line),
  }).finally(() => progress.end());
  if (!succeeded(outcome)) {
    await wipeDirectoryContents(s.dataDir);
    return failure("failed", `clone from ${source.member} failed: ${describeOutcome("pg_basebackup", outcome, timeoutMs)}\nThe partial copy was removed. Check that ${source.member} runs and accepts replication connections from this host.`);
  }
  const written = await writeServerFiles(s, { role: "replica", upstream: source });
  if (E.isLeft(written)) return failure("failed", `clone from ${source.member} copied the data but ${written.left}`);
  await ensureOwnedDirectory(s.dataDir, s.osUser);
  s.logger.info({ source: source.member }, `cloned from ${source.member}`);
  return DONE;
}
