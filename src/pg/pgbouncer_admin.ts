/**
 * pgbouncer's admin console: the virtual database `pgbouncer`, reached with a user listed in
 * pgbouncer's admin_users. It speaks the PostgreSQL protocol, simple queries only (pgbouncer(1),
 * "Admin console"), so the `pg` client works with a plain query text and no parameters.
 *
 * Every command has its own connection and a time limit; an expected failure comes back as a
 * result with a code, never as a thrown library error. The commands used (pgbouncer(1)):
 * - PAUSE db: waits until every server connection of db is released (the transactions in flight
 *   end, in transaction pooling), then closes them; new queries wait until RESUME.
 * - RESUME db: the waiting queries go on, over new server connections.
 * - RELOAD: re-reads the configuration; a database whose connection string changed closes its
 *   server connections once released and opens new ones to the new destination.
 */
import * as E from "fp-ts/lib/Either.js";
import pg from "pg";
import { assert, assertNever } from "../lib/assert.js";

/** Where one pgbouncer listens and the admin user it lets in. */
export interface PgbouncerTarget {
  /** For logs and metrics: the name node.yml gives it, or host:port. */
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly username: string;
  readonly password: string;
}

export type PgbouncerCommand =
  | { readonly kind: "pause"; readonly database: string }
  | { readonly kind: "resume"; readonly database: string }
  | { readonly kind: "reload" };

/**
 * unreachable: no connection (nothing listens, a timeout connecting); refused: pgbouncer turned
 * the login down (not an admin user, a wrong password); timeout: the command did not end in time
 * (a PAUSE waiting on a long transaction); notPaused: RESUME of a database that is not paused
 * (someone resumed it already); failed: pgbouncer answered with another error.
 */
export type PgbouncerFailureCode = "unreachable" | "refused" | "timeout" | "notPaused" | "failed";

export interface PgbouncerFailure {
  readonly code: PgbouncerFailureCode;
  /** What failed, on which pgbouncer, and what to do. */
  readonly message: string;
}

/** pgbouncer's database names as raftgres accepts them: no quoting needed in a console command. */
export const PGBOUNCER_DATABASE_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,62}$/;

/** Connecting to a pgbouncer on the same network takes milliseconds; this bounds a dead host. */
export const PGBOUNCER_CONNECT_TIMEOUT_MS_MAX = 5_000;

function commandText(command: PgbouncerCommand): string {
  switch (command.kind) {
    case "pause":
      return `PAUSE ${command.database}`;
    case "resume":
      return `RESUME ${command.database}`;
    case "reload":
      return "RELOAD";
    default:
      return assertNever(command, "pgbouncer command");
  }
}

/**
 * Runs one admin command on one pgbouncer within `timeoutMs` (connection included). On a
 * timeout the connection is dropped: pgbouncer goes on with the command it was given (a PAUSE
 * keeps pausing), and says so in the message.
 */
export async function pgbouncerCommand(target: PgbouncerTarget, command: PgbouncerCommand, timeoutMs: number): Promise<E.Either<PgbouncerFailure, void>> {
  assert(timeoutMs > 0 && Number.isFinite(timeoutMs), "a pgbouncer command needs a positive time limit");
  if (command.kind !== "reload") assert(PGBOUNCER_DATABASE_PATTERN.test(command.database), "database names are checked at the edge");
  const text = commandText(command);
  const where = `pgbouncer ${target.name} (${target.host}:${target.port})`;
  const client = new pg.Client({
    host: target.host,
    port: target.port,
    user: target.username,
    password: target.password,
    database: "pgbouncer",
    connectionTimeoutMillis: Math.min(timeoutMs, PGBOUNCER_CONNECT_TIMEOUT_MS_MAX),
  });
  client.on("error", () => {});
  let timer: NodeJS.Timeout | null = null;
  const expired = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), timeoutMs);
  });
  let connected = false;
  const work = (async (): Promise<E.Either<PgbouncerFailure, void>> => {
    try {
      await client.connect();
      connected = true;
      await client.query(text);
      return E.right(undefined);
    } catch (error: unknown) {
      return E.left(classify(error, connected, text, where));
    }
  })();
  try {
    const outcome = await Promise.race([work, expired]);
    if (outcome !== "timeout") return outcome;
    const what = connected ? `${text} did not finish within ${timeoutMs} ms` : `could not connect within ${timeoutMs} ms`;
    const after = command.kind === "pause" && connected ? "; pgbouncer goes on pausing (new queries wait) until it is resumed" : "";
    return E.left({ code: connected ? "timeout" : "unreachable", message: `${where}: ${what}${after}` });
  } finally {
    if (timer !== null) clearTimeout(timer);
    void client.end().catch(() => {});
  }
}

/** The failure's code from pgbouncer's answer (its SQLSTATE and text) or the socket's error. */
function classify(error: unknown, connected: boolean, text: string, where: string): PgbouncerFailure {
  const message = error instanceof Error ? error.message : String(error);
  const sqlState = typeof error === "object" && error !== null && "code" in error ? String((error as { code: unknown }).code) : "";
  if (!connected) {
    // 28P01/28000: authentication; 08P01 at login: "not allowed" (not in admin_users) and others.
    const refused = sqlState.startsWith("28") || /password|not allowed|no such user|authentication/i.test(message);
    if (refused) return { code: "refused", message: `${where} refused the admin login: ${message} (the user must be in its admin_users and its auth_file)` };
    return { code: "unreachable", message: `${where} is unreachable: ${message}` };
  }
  if (/is not paused|not paused\/suspended/i.test(message)) return { code: "notPaused", message: `${where}: ${text}: ${message}` };
  return { code: "failed", message: `${where}: ${text} failed: ${message}` };
}
