/**
 * syncSlots: the physical replication slots of the members (names in slot_names.ts).
 * - On a primary: a slot for each listed member, created with immediately_reserve so WAL is kept
 *   from now on; inactive slots of the "rg_" prefix that belong to no listed member are dropped.
 * - On a replica: the same slots (cascading replicas use them), and each inactive one advanced
 *   to pg_last_wal_replay_lsn(), so a promoted replica has them in place without holding WAL
 *   from long ago.
 * This member never gets a slot on itself.
 */
import * as E from "fp-ts/lib/Either.js";
import { SLOTS_MAX } from "./constants.js";
import { isMemberSlot, slotName } from "./slot_names.js";
import type { SqlSession } from "./sql.js";
import type { MemberName } from "./types.js";

export interface SlotChanges {
  readonly created: readonly string[];
  readonly dropped: readonly string[];
  readonly advanced: readonly string[];
}

interface SlotRow {
  readonly [column: string]: unknown;
  readonly slot_name: string;
  readonly slot_type: string;
  readonly active: boolean;
}

export async function syncMemberSlots(session: SqlSession, self: MemberName, members: readonly MemberName[]): Promise<E.Either<string, SlotChanges>> {
  if (members.length > SLOTS_MAX) return E.left(`${members.length} members exceed the limit of ${SLOTS_MAX} slots`);
  const wanted = [...new Set(members.filter((m) => m !== self).map(slotName))];
  const recovery = await session.query<{ recovery: boolean }>("SELECT pg_is_in_recovery() AS recovery");
  if (E.isLeft(recovery)) return E.left(`cannot tell the server's role: ${recovery.left.message}`);
  const listed = await session.query<SlotRow>("SELECT slot_name, slot_type, active FROM pg_replication_slots");
  if (E.isLeft(listed)) return E.left(`cannot list replication slots: ${listed.left.message}`);
  const existing = new Map(listed.right.map((row) => [row.slot_name, row]));
  const created: string[] = [];
  for (const name of wanted.filter((n) => !existing.has(n))) {
    const done = await session.query("SELECT pg_create_physical_replication_slot($1, true)", [name]);
    if (E.isLeft(done)) return E.left(`cannot create replication slot ${name}: ${done.left.message}`);
    created.push(name);
  }
  const dropped: string[] = [];
  for (const row of listed.right) {
    if (!isMemberSlot(row.slot_name) || wanted.includes(row.slot_name) || row.slot_type !== "physical" || row.active) continue;
    const done = await session.query("SELECT pg_drop_replication_slot($1)", [row.slot_name]);
    if (E.isLeft(done)) return E.left(`cannot drop replication slot ${row.slot_name}: ${done.left.message}`);
    dropped.push(row.slot_name);
  }
  const advanced = recovery.right[0]?.recovery === true ? await advanceSlots(session, wanted) : E.right([]);
  if (E.isLeft(advanced)) return advanced;
  return E.right({ created, dropped, advanced: advanced.right });
}

/** Moves inactive physical slots up to the replayed position (a slot never moves back: PostgreSQL refuses). */
export async function advanceSlots(session: SqlSession, names: readonly string[]): Promise<E.Either<string, string[]>> {
  const done = await session.query<{ slot_name: string }>(
    `SELECT s.slot_name FROM pg_replication_slots s, LATERAL pg_replication_slot_advance(s.slot_name, pg_last_wal_replay_lsn()) a
     WHERE s.slot_name = ANY($1) AND s.slot_type = 'physical' AND NOT s.active
       AND s.restart_lsn IS NOT NULL AND s.restart_lsn < pg_last_wal_replay_lsn()`,
    [names],
  );
  if (E.isLeft(done)) return E.left(`cannot advance replication slots: ${done.left.message}`);
  return E.right(done.right.map((row) => row.slot_name));
}
