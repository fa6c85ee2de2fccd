/**
 * Rebuilds src/pg/pg15_parameters.ts, the catalogue of PostgreSQL 15's parameters that
 * src/pg/parameter_check.ts checks every parameter against, from a real PostgreSQL 15 server.
 *
 *   node --import tsx scripts/gen_pg_parameters.ts            # as root: writes the module
 *   node --import tsx scripts/gen_pg_parameters.ts --check    # exit 1 when the module is stale
 *   options: --bin-dir /usr/lib/postgresql/15/bin  --os-user postgres  --out <file>
 *
 * It runs initdb into a temporary directory as the OS user (PostgreSQL refuses root), starts the
 * server on a free port of 127.0.0.1 (trust authentication, no Unix socket) and reads
 *   SELECT name, vartype, unit, min_val, max_val, enumvals, context FROM pg_settings
 * then learns what pg_settings does not say, from the server itself:
 * - hidden enum spellings (synchronous_commit accepts "true", wal_level "hot_standby"): each
 *   candidate of HIDDEN_ENUM_CANDIDATES is tried with `postgres -C <name> -c <name>=<value>`;
 * - parameters a configuration file may not set (internal ones, role, transaction_deferrable …):
 *   every parameter is written with its current value into an included file; `postgres -C`
 *   (which reads the files as a start does) and pg_file_settings (as a reload does) say which
 *   lines they refuse;
 * - the GUCs pg_settings hides (GUC_NO_SHOW_ALL: role, seed …), listed in HIDDEN_GUCS and
 *   checked to exist with current_setting(): none may be set in a file, so they are kept only
 *   to answer "raftgres cannot set it" rather than "unknown parameter".
 * The server is stopped and the directory removed at the end, whatever happens.
 */
import { spawnSync } from "node:child_process";
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, appendFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import pg from "pg";
import { either as E } from "fp-ts";
import { lookupOsUser, type OsUser } from "../src/pg/os_user.js";

/** Spellings PostgreSQL accepts for some enums without listing them in pg_settings.enumvals. */
const HIDDEN_ENUM_CANDIDATES = ["on", "off", "true", "false", "yes", "no", "1", "0", "archive", "hot_standby"];
/** GUC_NO_SHOW_ALL parameters of PostgreSQL 15 (guc.c): invisible in pg_settings. */
const HIDDEN_GUCS = ["is_superuser", "role", "seed", "session_authorization"];
const PROBE_FILE = "raftgres_probe.conf";
const PROGRAM_TIMEOUT_MS = 120_000;

interface Options {
  readonly binDir: string;
  readonly osUser: string;
  readonly out: string;
  readonly check: boolean;
}

interface Row {
  name: string;
  vartype: "bool" | "integer" | "real" | "string" | "enum";
  unit: string | null;
  min_val: string | null;
  max_val: string | null;
  enumvals: string[] | null;
  context: string;
  setting: string | null;
}

function parseOptions(argv: readonly string[]): Options {
  const options = { binDir: "/usr/lib/postgresql/15/bin", osUser: "postgres", out: resolve("src/pg/pg15_parameters.ts"), check: false };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = (): string => {
      const next = argv[++i];
      if (next === undefined) throw new Error(`${flag} needs a value`);
      return next;
    };
    if (flag === "--bin-dir") options.binDir = value();
    else if (flag === "--os-user") options.osUser = value();
    else if (flag === "--out") options.out = resolve(value());
    else if (flag === "--check") options.check = true;
    else throw new Error(`unknown option ${flag} (see the header of scripts/gen_pg_parameters.ts)`);
  }
  return options;
}

/** Runs a PostgreSQL program as the OS user; throws with its output when it fails. */
function run(options: Options, user: OsUser, program: string, args: readonly string[], allowFailure = false): { ok: boolean; output: string } {
  const result = spawnSync(join(options.binDir, program), args, {
    cwd: "/",
    uid: user.uid,
    gid: user.gid,
    env: { PATH: `${options.binDir}:/usr/bin:/bin`, HOME: user.home, LC_ALL: "C", LANG: "C" },
    encoding: "utf8",
    timeout: PROGRAM_TIMEOUT_MS,
  });
  const output = `${result.stdout ?? ""}${result.stderr ?? ""}`;
  const ok = result.status === 0;
  if (!ok && !allowFailure) throw new Error(`${program} ${args.join(" ")} failed (${result.status ?? result.signal}): ${output}`);
  return { ok, output };
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done, fail) => {
    server.once("error", fail);
    server.listen(0, "127.0.0.1", done);
  });
  const address = server.address();
  await new Promise<void>((done) => server.close(() => done()));
  if (address === null || typeof address === "string") throw new Error("the OS gave no port");
  return address.port;
}

/** The enum spellings of HIDDEN_ENUM_CANDIDATES that the server accepts for `row` beyond enumvals. */
function hiddenEnumValues(options: Options, user: OsUser, dataDir: string, row: Row): string[] {
  const listed = new Set((row.enumvals ?? []).map((v) => v.toLowerCase()));
  const hidden: string[] = [];
  for (const candidate of HIDDEN_ENUM_CANDIDATES) {
    if (listed.has(candidate)) continue;
    if (run(options, user, "postgres", ["-D", dataDir, "-C", row.name, "-c", `${row.name}=${candidate}`], true).ok) hidden.push(candidate);
  }
  return hidden;
}

function quote(value: string): string {
  return `'${value.replace(/\\/g, "\\\\").replace(/'/g, "''")}'`;
}

/** The probe file's lines: every parameter with its current value, and the hidden GUCs. */
function probeLines(rows: readonly Row[]): Map<string, string> {
  const lines = new Map(rows.map((row) => [row.name, `${row.name} = ${quote(row.setting ?? "")}`]));
  for (const name of HIDDEN_GUCS) lines.set(name, `${name} = ${quote(name === "seed" ? "0" : name === "is_superuser" ? "off" : "postgres")}`);
  return lines;
}

function writeProbe(dataDir: string, user: OsUser, lines: ReadonlyMap<string, string>): void {
  const path = join(dataDir, PROBE_FILE);
  writeFileSync(path, `${[...lines.values()].join("\n")}\n`);
  chownSync(path, user.uid, user.gid);
}

/**
 * Names a server start refuses in a configuration file: `postgres -C` reads the files as a start
 * does and names every refused line, one phase at a time (names, then values), so the refused
 * lines are removed and the files read again until it passes.
 */
function refusedAtStart(options: Options, user: OsUser, dataDir: string, lines: Map<string, string>): Set<string> {
  const refused = new Set<string>();
  for (let round = 0; round < 10; round++) {
    writeProbe(dataDir, user, lines);
    const probe = run(options, user, "postgres", ["-D", dataDir, "-C", "port"], true);
    if (probe.ok) return refused;
    const named = [...probe.output.matchAll(/LOG: +[^\n]*?parameter "([^"]+)"/g)].map((m) => m[1]!).filter((name) => lines.has(name));
    if (named.length === 0) throw new Error(`postgres -C refuses the probe file without naming a parameter: ${probe.output}`);
    for (const name of named) {
      refused.add(name);
      lines.delete(name);
    }
  }
  throw new Error("postgres -C kept refusing the probe file after 10 rounds");
}

/**
 * Names a reload refuses (pg_file_settings reads the files as a reload does). A postmaster
 * parameter whose line differs from the running value shows as an error there too ("setting
 * could not be applied": it needs a restart), so only the start probe speaks for those.
 */
async function refusedAtReload(client: pg.Client, rows: readonly Row[]): Promise<Set<string>> {
  const postmaster = new Set(rows.filter((row) => row.context === "postmaster").map((row) => row.name));
  const found = await client.query<{ name: string; error: string | null }>("SELECT name, error FROM pg_file_settings WHERE sourcefile LIKE $1", [`%/${PROBE_FILE}`]);
  return new Set(found.rows.filter((r) => r.error !== null && !postmaster.has(r.name)).map((r) => r.name));
}

interface Entry {
  readonly name: string;
  readonly text: string;
}

function entryFor(row: Row, hidden: readonly string[], inFile: boolean): Entry {
  const parts = [`type: "${row.vartype}"`];
  if (row.unit !== null) parts.push(`unit: "${row.unit}"`);
  if (row.vartype === "integer" || row.vartype === "real") parts.push(`min: ${Number(row.min_val)}`, `max: ${Number(row.max_val)}`);
  if (row.vartype === "enum") parts.push(`values: ${JSON.stringify(row.enumvals ?? [])}`);
  if (hidden.length > 0) parts.push(`hidden: ${JSON.stringify(hidden)}`);
  parts.push(`context: "${row.context}"`);
  if (!inFile) parts.push("inFile: false");
  return { name: row.name, text: `  ${row.name}: { ${parts.join(", ")} },` };
}

function render(version: string, entries: readonly Entry[]): string {
  const sorted = [...entries].sort((a, b) => (a.name < b.name ? -1 : 1));
  return `/**
 * PostgreSQL ${version}'s parameters as the server defines them (pg_settings, the hidden enum
 * spellings, which ones a configuration file may set): the catalogue parameter_check.ts checks
 * against. Generated — do not edit. Rebuild it from a real PostgreSQL 15 with
 *   node --import tsx scripts/gen_pg_parameters.ts        (as root; --check tells whether it is stale)
 * One line per parameter; \`hidden\` lists enum spellings the server takes but pg_settings omits,
 * \`inFile: false\` marks what a configuration file may not set.
 */
import type { PgParameter } from "./parameter_types.js";

export const PG_SERVER_VERSION = "${version}";

export const PG_PARAMETERS: Readonly<Record<string, PgParameter>> = {
${sorted.map((e) => e.text).join("\n")}
};
`;
}

async function generate(options: Options): Promise<string> {
  const user = lookupOsUser(options.osUser);
  if (E.isLeft(user)) throw new Error(user.left);
  const root = mkdtempSync(join(tmpdir(), "raftgres-gen-"));
  chmodSync(root, 0o711);
  const dataDir = join(root, "data");
  mkdirSync(dataDir, { mode: 0o700 });
  chownSync(dataDir, user.right.uid, user.right.gid);
  const port = await freePort();
  let started = false;
  try {
    run(options, user.right, "initdb", ["-D", dataDir, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C"]);
    appendFileSync(join(dataDir, "postgresql.conf"), `\ninclude_if_exists = '${PROBE_FILE}'\n`);
    const serverOptions = `-c port=${port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=''`;
    run(options, user.right, "pg_ctl", ["-D", dataDir, "-l", join(dataDir, "server.log"), "-o", serverOptions, "-w", "start"]);
    started = true;
    const client = new pg.Client({ host: "127.0.0.1", port, user: "postgres", database: "postgres" });
    await client.connect();
    try {
      const version = (await client.query<{ server_version: string }>("SHOW server_version")).rows[0]!.server_version;
      if (!version.startsWith("15")) throw new Error(`the server is PostgreSQL ${version}: the catalogue is for 15`);
      const rows = (await client.query<Row>("SELECT name, vartype, unit, min_val, max_val, enumvals, context, setting FROM pg_settings ORDER BY name")).rows;
      for (const name of HIDDEN_GUCS) {
        const found = await client.query<{ value: string | null }>("SELECT current_setting($1, true) AS value", [name]);
        if (found.rows[0]?.value === null) throw new Error(`hidden GUC ${name} does not exist on this server: update HIDDEN_GUCS`);
      }
      // The enum probes read the configuration files: they run before the probe file exists.
      const hidden = new Map(rows.filter((row) => row.vartype === "enum").map((row) => [row.name, hiddenEnumValues(options, user.right, dataDir, row)]));
      const refused = refusedAtStart(options, user.right, dataDir, probeLines(rows));
      for (const name of await refusedAtReload(client, rows)) refused.add(name);
      const entries = rows.map((row) => entryFor(row, hidden.get(row.name) ?? [], !refused.has(row.name)));
      for (const name of HIDDEN_GUCS) entries.push({ name, text: `  ${name}: { type: "string", context: "hidden", inFile: false },` });
      return render(version.split(" ")[0]!, entries);
    } finally {
      await client.end();
    }
  } finally {
    if (started) run(options, user.right, "pg_ctl", ["-D", dataDir, "-m", "immediate", "-w", "stop"], true);
    rmSync(root, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const text = await generate(options);
  if (options.check) {
    const current = readFileSync(options.out, "utf8");
    if (current !== text) {
      process.stderr.write(`${options.out} is stale: run node --import tsx scripts/gen_pg_parameters.ts\n`);
      process.exit(1);
    }
    process.stdout.write(`${options.out} matches the server\n`);
    return;
  }
  writeFileSync(options.out, text);
  process.stdout.write(`wrote ${options.out}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
