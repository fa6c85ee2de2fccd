/**
 * SQL to the local server with a time limit on everything: connecting (connectTimeoutMs), each
 * statement on the server (statement_timeout) and on the client (a timer, for a server that no
 * longer answers at all). One persistent connection, thrown away on any error and opened again
 * on the next query; one-off connections for start polling and for promote.
 */
import pg, { type Client } from "pg";
import * as E from "fp-ts/lib/Either.js";

export interface SqlTarget {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  readonly database: string;
  readonly connectTimeoutMs: number;
  readonly queryTimeoutMs: number;
  /** A walsender session that also takes SQL (IDENTIFY_SYSTEM and the like); needs a replication role. */
  readonly replication?: "database";
}

export interface SqlError {
  readonly message: string;
  /** The server's SQLSTATE when the server answered with an error; null for network/timeouts. */
  readonly sqlState: string | null;
}

export type Row = Record<string, unknown>;

function toSqlError(error: unknown): SqlError {
  const code = (error as { code?: unknown }).code;
  const message = error instanceof Error ? error.message : String(error);
  return { message, sqlState: typeof code === "string" && /^[0-9A-Z]{5}$/.test(code) ? code : null };
}

function newClient(target: SqlTarget, onError: (error: Error) => void): Client {
  const client = new pg.Client({
    host: target.host,
    port: target.port,
    user: target.user,
    password: target.password,
    database: target.database,
    application_name: "raftgres",
    ...(target.replication === undefined ? {} : { replication: target.replication }),
    connectionTimeoutMillis: target.connectTimeoutMs,
    statement_timeout: target.queryTimeoutMs,
    query_timeout: target.queryTimeoutMs + 1_000,
  });
  // Without a listener, a connection lost between queries would crash the process.
  client.on("error", onError);
  return client;
}

export class SqlSession {
  private pending: Promise<E.Either<SqlError, Client>> | null = null;
  private current: Client | null = null;

  constructor(private readonly target: SqlTarget) {}

  async query<R extends Row>(text: string, values: readonly unknown[] = []): Promise<E.Either<SqlError, R[]>> {
    const connected = await this.connection();
    if (E.isLeft(connected)) return connected;
    try {
      const result = await connected.right.query<R>(text, [...values]);
      return E.right(result.rows);
    } catch (error) {
      this.discard(connected.right);
      return E.left(toSqlError(error));
    }
  }

  /** Closes the connection (the next query opens a new one). */
  close(): void {
    if (this.current !== null) this.discard(this.current);
  }

  private connection(): Promise<E.Either<SqlError, Client>> {
    if (this.pending !== null) return this.pending;
    const client = newClient(this.target, () => this.discard(client));
    this.current = client;
    const pending = client.connect().then(
      () => E.right(client),
      (error: unknown) => {
        this.discard(client);
        return E.left(toSqlError(error));
      },
    );
    this.pending = pending;
    return pending;
  }

  /** Forgets `client` if it is still the current one (a newer one may have replaced it). */
  private discard(client: Client): void {
    if (this.current === client) {
      this.current = null;
      this.pending = null;
    }
    client.end().catch(() => {});
  }
}

/** One query on a connection of its own, closed afterwards. */
export async function queryOnce<R extends Row>(target: SqlTarget, text: string, values: readonly unknown[] = []): Promise<E.Either<SqlError, R[]>> {
  const client = newClient(target, () => {});
  try {
    await client.connect();
    const result = await client.query<R>(text, [...values]);
    return E.right(result.rows);
  } catch (error) {
    return E.left(toSqlError(error));
  } finally {
    client.end().catch(() => {});
  }
}

/** "name" with embedded quotes doubled: an SQL identifier. */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** 'text' with embedded quotes doubled (standard_conforming_strings is on since 9.1). */
export function quoteLiteral(text: string): string {
  return `'${text.replace(/'/g, "''")}'`;
}
