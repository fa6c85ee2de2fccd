/**
 * The file of pgbouncer database definitions raftgres keeps pointed at the primary: pgbouncer.ini
 * includes it in its [databases] section (`%include FILE`, pgbouncer(5)), and a RELOAD makes
 * pgbouncer use it — a database whose connection string changed closes its server connections
 * once they are released and opens new ones to the new host (pgbouncer(1), RELOAD).
 *
 * Each line is `name = host=H port=P <the settings node.yml gives>`; the agent owns host and
 * port, so the settings may not name them (checked in src/agent/config_pgbouncer.ts).
 */
import { readFileSync, renameSync, writeFileSync } from "node:fs";
import * as E from "fp-ts/lib/Either.js";

/** The primary the databases point at, from its member record. */
export interface PgbouncerPrimary {
  readonly member: string;
  readonly host: string;
  readonly port: number;
}

/** The host and port of a member's connection URL (postgres://host:port/db), or null. */
export function primaryAddress(member: string, connUrl: string): PgbouncerPrimary | null {
  let url: URL;
  try {
    url = new URL(connUrl);
  } catch {
    return null;
  }
  if (url.protocol !== "postgres:" && url.protocol !== "postgresql:") return null;
  const host = url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname;
  const port = url.port === "" ? 5432 : Number(url.port);
  if (host === "" || !Number.isInteger(port) || port < 1 || port > 65535) return null;
  return { member, host, port };
}

/** The file's text: a header saying who wrote it and why, then one definition per database. */
export function renderDatabases(scope: string, primary: PgbouncerPrimary, databases: ReadonlyMap<string, string>): string {
  const lines = [
    `; Written by raftgres (scope ${scope}): every database points at the primary, ${primary.member}.`,
    "; pgbouncer.ini includes this file in its [databases] section; raftgres rewrites it when the primary changes.",
  ];
  for (const [name, settings] of databases) {
    lines.push(`${name} = host=${primary.host} port=${primary.port}${settings === "" ? "" : ` ${settings}`}`);
  }
  return `${lines.join("\n")}\n`;
}

/**
 * Writes `text` to `path` unless it holds it already: a new file beside it, then a rename, so
 * pgbouncer never reads half a file. Right(true) when written, Right(false) when unchanged.
 */
export function writeDatabasesFile(path: string, text: string): E.Either<string, boolean> {
  try {
    if (readFileSync(path, "utf8") === text) return E.right(false);
  } catch {
    // Missing or unreadable: written below (and a write error says what is wrong).
  }
  const temporary = `${path}.raftgres-${process.pid}`;
  try {
    // pgbouncer runs as its own user: the file must be readable by it (it holds no password).
    writeFileSync(temporary, text, { mode: 0o644 });
    renameSync(temporary, path);
    return E.right(true);
  } catch (error: unknown) {
    return E.left(`cannot write the pgbouncer databases file ${path}: ${error instanceof Error ? error.message : String(error)} (the agent's user must be able to write its directory)`);
  }
}
