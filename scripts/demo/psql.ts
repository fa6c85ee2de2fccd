/**
 * The demo's client side: real `psql` (libpq) over the multi-host connection string, as an
 * application would connect, and the "how long until a write succeeds again" measurement.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { waitFor } from "../../lab/pg_cluster.js";

const PSQL = "/usr/lib/postgresql/15/bin/psql";
/** One psql run may take this long; with connect_timeout=2 per host it normally takes far less. */
const PSQL_TIMEOUT_MS = 10_000;
/** Between two write attempts while the cluster recovers (an application's retry loop). */
export const RETRY_EVERY_MS = 50;

const run = promisify(execFile);

/** Runs `sql` through psql (no psqlrc, stop on error, unaligned tuples only); its stdout lines. */
export async function psql(dsn: string, sql: string): Promise<string[]> {
  const args = ["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", dsn, "-c", sql];
  try {
    const { stdout } = await run(PSQL, args, { timeout: PSQL_TIMEOUT_MS, killSignal: "SIGKILL" });
    return stdout.split("\n").filter((line) => line !== "");
  } catch (error: unknown) {
    // libpq's message for a multi-host string has one line per host it tried.
    const stderr = ((error as { stderr?: string }).stderr ?? "").replace(/^psql: error: /, "");
    const message = error instanceof Error ? error.message : String(error);
    throw new Error(stderr.trim() !== "" ? stderr.trim() : `psql: ${message}`);
  }
}

export interface Recovered {
  /** From `sinceMs` to the end of the first successful write. */
  readonly elapsedMs: number;
  readonly attempts: number;
  /** The PostgreSQL port that took the write (inet_server_port()). */
  readonly port: number;
  /** The first and the last error seen before the write succeeded. */
  readonly errors: readonly string[];
}

/** Retries one INSERT through the DSN until it succeeds; bounded by `timeoutMs`. */
export async function writeUntilAccepted(
  dsn: string,
  note: string,
  sinceMs: number,
  timeoutMs: number,
): Promise<Recovered> {
  let attempts = 0;
  const errors: string[] = [];
  const sql = `INSERT INTO demo (note) VALUES ('${note}') RETURNING inet_server_port()`;
  const port = await waitFor("a write through the multi-host DSN", timeoutMs, async () => {
    attempts += 1;
    try {
      return Number((await psql(dsn, sql))[0]);
    } catch (error: unknown) {
      const message = error instanceof Error ? error.message : String(error);
      if (errors.length < 2) errors.push(message);
      else errors[1] = message;
      return undefined;
    }
  }, RETRY_EVERY_MS);
  return { elapsedMs: Date.now() - sinceMs, attempts, port, errors };
}

/** libpq's multi-host error on one line: "pg2: Connection refused; pg1: session is read-only". */
export function hostErrors(message: string, memberOfPort: (port: number) => string): string {
  const lines = message.split("\n").map((line) => line.trim());
  return lines.filter((line) => line !== "" && !line.startsWith("Is the server")).map((line) => {
    const host = /port (\d+) failed: (.*)$/.exec(line);
    return host === null ? line : `${memberOfPort(Number(host[1]))}: ${host[2]}`;
  }).join("; ");
}
