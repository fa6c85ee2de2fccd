/**
 * One statement on one member's PostgreSQL for `raftgres query` (patronictl's query): its own
 * connection, bounded in time, rows as text. The CLI gets it through its IO (src/api/cli keeps no
 * PostgreSQL client of its own); the agent's binary passes it in.
 */
import pg from "pg";

export interface AdhocTarget {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string | undefined;
  readonly database: string;
}

export interface AdhocResult {
  readonly columns: readonly string[];
  readonly rows: readonly (readonly (string | null)[])[];
}

export const ADHOC_TIMEOUT_MS = 60_000;
const ROWS_MAX = 100_000;

/** Runs `statement`; throws an Error whose message is PostgreSQL's (or the connection's) on failure. */
export async function adhocQuery(target: AdhocTarget, statement: string, timeoutMs = ADHOC_TIMEOUT_MS): Promise<AdhocResult> {
  const client = new pg.Client({
    host: target.host,
    port: target.port,
    user: target.user,
    ...(target.password === undefined ? {} : { password: target.password }),
    database: target.database,
    connectionTimeoutMillis: 5_000,
    statement_timeout: timeoutMs,
    query_timeout: timeoutMs + 1_000,
    application_name: "raftgres query",
    types: { getTypeParser: () => (value: string) => value },
  });
  client.on("error", () => {});
  await client.connect();
  try {
    const result = await client.query({ text: statement, rowMode: "array" });
    const last = Array.isArray(result) ? result[result.length - 1] : result;
    const columns = (last?.fields ?? []).map((f: { name: string }) => f.name);
    const rows = ((last?.rows ?? []) as unknown[][]).slice(0, ROWS_MAX).map((row) => row.map((v) => (v === null || v === undefined ? null : String(v))));
    return { columns, rows };
  } finally {
    await client.end().catch(() => {});
  }
}
