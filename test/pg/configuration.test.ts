/**
 * The cluster's parameters on real PostgreSQL 15 (issue 12 item 4): what PostgreSQL would refuse
 * never reaches its files, so later changes still apply; a bad line that got there anyway (an
 * older agent wrote it) is found in pg_file_settings after the reload and reported; a start
 * PostgreSQL refuses returns its FATAL line.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { either as E } from "fp-ts";
import t from "tap";
import type { PgResult } from "../../src/ha/ports.js";
import { DYNAMIC_CONF_FILE } from "../../src/pg/conf.js";
import { createRecordingLogger, eventually, pgRoot, sql } from "./support.js";

const logger = createRecordingLogger();
const root = await pgRoot(t, logger);
const pg1 = await root.make("pg1");
const bootstrapped = await pg1.run({ kind: "bootstrap" });
if (E.isLeft(bootstrapped)) throw new Error(bootstrapped.left.message);
const dynamicConf = join(pg1.settings.dataDir, DYNAMIC_CONF_FILE);

function ok(result: PgResult): true {
  if (E.isLeft(result)) throw new Error(`${result.left.code}: ${result.left.message}`);
  return true;
}

async function workMem(): Promise<string> {
  return (await sql<{ work_mem: string }>(pg1, "SHOW work_mem"))[0]!.work_mem;
}

const errors = (pattern: RegExp): number => logger.lines.filter((l) => l.level === "error" && pattern.test(l.message)).length;

t.test("the issue's reproduction: a bad parameter is left out, and the change beside it applies", async (t) => {
  t.ok(ok(await pg1.applyParameters({ no_such_param: "1", checkpoint_timeout: "1s\nfsync = off", work_mem: "8MB" })));
  const text = readFileSync(dynamicConf, "utf8");
  t.match(text, /^work_mem = '8MB'$/m);
  t.notMatch(text, /no_such_param|fsync|checkpoint_timeout/, "nothing PostgreSQL would refuse is written");
  t.equal(await eventually(async () => ((await workMem()) === "8MB" ? "8MB" : undefined), 10_000, "work_mem 8MB"), "8MB", "the reload applied the rest");
  t.match(pg1.configurationProblems(), [/checkpoint_timeout = "1s\\nfsync = off": control characters/, /no_such_param is not a PostgreSQL 15 parameter: did you mean/]);
  t.equal(errors(/left out of PostgreSQL's configuration/), 1, "logged once at error level");
  t.ok(ok(await pg1.applyParameters({ no_such_param: "1", checkpoint_timeout: "1s\nfsync = off", work_mem: "8MB" })));
  t.equal(errors(/left out of PostgreSQL's configuration/), 1, "not again for the same parameters");
  t.ok(ok(await pg1.applyParameters({ work_mem: "16MB" })));
  t.same(pg1.configurationProblems(), [], "fixed: no problem left");
  t.equal(await eventually(async () => ((await workMem()) === "16MB" ? "16MB" : undefined), 10_000, "work_mem 16MB"), "16MB");
});

t.test("a line PostgreSQL refuses that got into a file anyway is reported after the reload", async (t) => {
  writeFileSync(dynamicConf, "work_mem = '32MB'\nwork_mem_typo = '1'\n");
  t.ok(ok(await pg1.reload()));
  t.match(pg1.configurationProblems(), [new RegExp(`${DYNAMIC_CONF_FILE} line 2 \\(work_mem_typo = "1"\\): `)]);
  t.equal(errors(/PostgreSQL refuses lines of its configuration files/), 1, "logged at error level");
  t.equal(await workMem(), "16MB", "PostgreSQL applied nothing of the file: this is what used to go unnoticed");
  t.ok(ok(await pg1.applyParameters({ work_mem: "4MB" })), "the agent rewrites the file");
  t.same(pg1.configurationProblems(), []);
  t.equal(await eventually(async () => ((await workMem()) === "4MB" ? "4MB" : undefined), 10_000, "work_mem 4MB"), "4MB");
});

t.test("a postmaster parameter waiting for a restart is no problem", async (t) => {
  t.ok(ok(await pg1.applyParameters({ work_mem: "4MB", shared_buffers: "32MB" })));
  t.same(pg1.configurationProblems(), [], "pending_restart, not an error");
});

t.test("a start PostgreSQL refuses returns its FATAL line; the next start with a fixed config succeeds", async (t) => {
  t.ok(ok(await pg1.applyParameters({ shared_preload_libraries: "raftgres_missing_library" })));
  t.ok(ok(await pg1.run({ kind: "stop", mode: "fast" })));
  const failed = await pg1.run({ kind: "start", as: "primary", upstream: null });
  t.ok(E.isLeft(failed));
  const failure = E.isLeft(failed) ? failed.left : null;
  t.match(failure?.serverErrors, [/^FATAL: could not access file "raftgres_missing_library": No such file or directory$/]);
  t.ok(ok(await pg1.applyParameters({})));
  t.ok(ok(await pg1.run({ kind: "start", as: "primary", upstream: null })));
  t.match(await pg1.observe(), { process: "running", role: "primary" });
});
