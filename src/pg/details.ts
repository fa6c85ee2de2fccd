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

/**
 * One round trip (issue 13: an idle agent runs few queries). pg_settings shows the running value
 * of a parameter, pg_file_settings the one a restart would apply.
 */
const DETAILS = `SELECT current_setting('server_version_num')::int AS server_version,
  (extract(epoch FROM pg_postmaster_start_time()) * 1000)::float8 AS started_ms,
  CASE WHEN pg_is_in_recovery() THEN (extract(epoch FROM pg_last_xact_replay_timestamp()) * 1000)::float8 END AS replayed_ms,
  CASE WHEN pg_is_in_recovery() THEN pg_is_wal_replay_paused() ELSE false END AS paused,
  (SELECT coalesce(json_agg(json_build_object('name', s.name, 'old_value', s.setting,
      'new_value', (SELECT f.setting FROM pg_file_settings f WHERE f.name = s.name ORDER BY f.seqno DESC LIMIT 1))), '[]'::json)
     FROM pg_settings s WHERE s.pending_restart) AS pending,
  (SELECT coalesce(json_agg(json_build_object('usename', usename::text, 'application_name', application_name,
      'client_addr', client_addr::text, 'state', state, 'sync_state', sync_state, 'sync_priority', sync_priority)
      ORDER BY application_name), '[]'::json)
     FROM pg_stat_replication) AS replication`;

interface DetailsRow {
  readonly [column: string]: unknown;
  readonly server_version: number;
  readonly started_ms: number;
  readonly replayed_ms: number | null;
  readonly paused: boolean;
  readonly pending: readonly { name: string; old_value: string; new_value: string }[];
  readonly replication: readonly { usename: string | null; application_name: string; client_addr: string | null; state: string | null; sync_state: string | null; sync_priority: number | null }[];
}

export async function readDetails(session: SqlSession): Promise<E.Either<string, ServerDetails>> {
  const read = await session.query<DetailsRow>(DETAILS);
  if (E.isLeft(read)) return E.left(read.left.message);
  const row = read.right[0];
  if (row === undefined) return E.left("the server returned no row");
  return E.right({
    serverVersion: row.server_version,
    postmasterStartMs: row.started_ms,
    replayedAtMs: row.replayed_ms,
    replayPaused: row.paused,
    pendingRestart: Object.fromEntries(row.pending.map((p) => [p.name, { oldValue: p.old_value, newValue: p.new_value }])),
    replication: row.replication.map((r) => ({ usename: r.usename ?? "", applicationName: r.application_name, clientAddr: r.client_addr, state: r.state ?? "", syncState: r.sync_state ?? "", syncPriority: r.sync_priority ?? 0 })),
  });
}
