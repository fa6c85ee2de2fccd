/**
 * What the REST API shows beyond the HA observation (Patroni's GET /patroni): server version,
 * postmaster start time, replay timestamp and pause, parameters waiting for a restart, and the
 * replication connections of a primary. Read with the same bounded SQL session; a failure leaves
 * the previous details in place (the caller keeps them), never throws.
 */
import * as E from "fp-ts/lib/Either.js";
import type { SqlSession } from "./sql.js";

export interface ReplicationRow {
  readonly usename: string;
  readonly applicationName: string;
  readonly clientAddr: string | null;
  readonly state: string;
  readonly syncState: string;
  readonly syncPriority: number;
}

export interface ServerDetails {
  readonly serverVersion: number;
  readonly postmasterStartMs: number;
  readonly replayedAtMs: number | null;
  readonly replayPaused: boolean;
  /** Parameters whose new value waits for a restart: name → the running value and the new one. */
  readonly pendingRestart: Readonly<Record<string, { readonly oldValue: string; readonly newValue: string }>>;
  readonly replication: readonly ReplicationRow[];
}

const SERVER = `SELECT current_setting('server_version_num')::int AS server_version,
  (extract(epoch FROM pg_postmaster_start_time()) * 1000)::float8 AS started_ms,
  CASE WHEN pg_is_in_recovery() THEN (extract(epoch FROM pg_last_xact_replay_timestamp()) * 1000)::float8 END AS replayed_ms,
  CASE WHEN pg_is_in_recovery() THEN pg_is_wal_replay_paused() ELSE false END AS paused`;

// pg_settings shows the running value; pg_file_settings the one a restart would apply.
const PENDING = `SELECT s.name, s.setting AS old_value,
    (SELECT f.setting FROM pg_file_settings f WHERE f.name = s.name ORDER BY f.seqno DESC LIMIT 1) AS new_value
  FROM pg_settings s WHERE s.pending_restart`;

const REPLICATION = `SELECT usename::text, application_name, client_addr::text, state, sync_state, sync_priority
  FROM pg_stat_replication ORDER BY application_name`;

export async function readDetails(session: SqlSession): Promise<E.Either<string, ServerDetails>> {
  const server = await session.query<{ server_version: number; started_ms: number; replayed_ms: number | null; paused: boolean }>(SERVER);
  if (E.isLeft(server)) return E.left(server.left.message);
  const pending = await session.query<{ name: string; old_value: string; new_value: string }>(PENDING);
  const replication = await session.query<{ usename: string | null; application_name: string; client_addr: string | null; state: string | null; sync_state: string | null; sync_priority: number | null }>(REPLICATION);
  const row = server.right[0];
  if (row === undefined) return E.left("the server returned no row");
  return E.right({
    serverVersion: row.server_version,
    postmasterStartMs: row.started_ms,
    replayedAtMs: row.replayed_ms,
    replayPaused: row.paused,
    pendingRestart: E.isRight(pending) ? Object.fromEntries(pending.right.map((p) => [p.name, { oldValue: p.old_value, newValue: p.new_value }])) : {},
    replication: E.isRight(replication)
      ? replication.right.map((r) => ({ usename: r.usename ?? "", applicationName: r.application_name, clientAddr: r.client_addr, state: r.state ?? "", syncState: r.sync_state ?? "", syncPriority: r.sync_priority ?? 0 }))
      : [],
  });
}
