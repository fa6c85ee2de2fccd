/**
 * The permanent slots of the cluster's config on this server (src/dcs/permanent_slots.ts says
 * which; syncSlots in postgres_instance.ts runs this after the member slots):
 * - on a primary: a missing physical slot is created with immediately_reserve; a missing logical
 *   slot is handed back to be created in the background (createLogicalSlot: it needs a
 *   connection to its database and may wait for running transactions, which the HA cycle must
 *   not wait for);
 * - on a replica: physical slots are kept too and advanced to the replayed position like the
 *   member slots, so a promoted replica already has them. PostgreSQL 15 cannot keep a logical
 *   slot on a standby (logical decoding needs a primary before PostgreSQL 16), so a new primary
 *   creates its logical slots after a failover, at its own position (see README, "Permanent
 *   replication slots"), and a stale logical slot left on a former primary that now replicates
 *   is dropped;
 * - a slot of the right name but the wrong kind (physical for logical, another database or
 *   plugin) is dropped and made again when inactive;
 * - retired slots (declared in an earlier config version, not now) are dropped when inactive,
 *   unless ignore_slots matches them. No other slot is ever dropped.
 */
import * as E from "fp-ts/lib/Either.js";
import { isIgnored, type PermanentSlot, type PermanentSlotsPlan } from "../ha/permanent_slots.js";
import { assert } from "../lib/assert.js";
import { lsnOrNull } from "./lsn.js";
import { advanceSlots } from "./slots.js";
import { queryOnce, type SqlSession, type SqlTarget } from "./sql.js";
import type { Lsn } from "./types.js";

export type LogicalSlot = Extract<PermanentSlot, { type: "logical" }>;

/** A permanent slot as this server has it, for GET /patroni and /metrics. */
export interface PermanentSlotState {
  readonly name: string;
  readonly type: "physical" | "logical";
  readonly database: string | null;
  readonly plugin: string | null;
  /** The slot exists on this server. */
  readonly present: boolean;
  readonly active: boolean;
  /** pg_replication_slots.wal_status: reserved, extended, unreserved or lost; null when absent. */
  readonly walStatus: string | null;
  readonly restartLsn: Lsn | null;
  readonly confirmedFlushLsn: Lsn | null;
  /** WAL the slot holds back: the current (replica: replayed) position minus restart_lsn. */
  readonly retainedBytes: number | null;
  /** Why the slot is not here, or what is wrong with it; null when all is well. */
  readonly note: string | null;
}

export interface PermanentSlotChanges {
  readonly recovery: boolean;
  readonly created: readonly string[];
  readonly dropped: readonly string[];
  readonly advanced: readonly string[];
  /** Logical slots missing on this primary: the caller creates them with createLogicalSlot. */
  readonly logicalMissing: readonly LogicalSlot[];
  /** Slots left as they are, and why (in use with the wrong kind, retired but in use). */
  readonly problems: readonly string[];
}

interface SlotRow {
  readonly [column: string]: unknown;
  readonly slot_name: string;
  readonly slot_type: string;
  readonly database: string | null;
  readonly plugin: string | null;
  readonly active: boolean;
  readonly temporary: boolean;
}

export const LOGICAL_ON_STANDBY_NOTE = "PostgreSQL 15 keeps logical slots on the primary only: a new primary creates it after a failover, at its own position";

function sameKind(row: SlotRow, slot: PermanentSlot): boolean {
  if (slot.type === "physical") return row.slot_type === "physical";
  return row.slot_type === "logical" && row.database === slot.database && row.plugin === slot.plugin;
}

function describe(slot: PermanentSlot): string {
  return slot.type === "physical" ? "a physical slot" : `a logical slot (database ${slot.database}, plugin ${slot.plugin})`;
}

async function drop(session: SqlSession, name: string): Promise<E.Either<string, void>> {
  const done = await session.query("SELECT pg_drop_replication_slot($1)", [name]);
  return E.isLeft(done) ? E.left(`cannot drop replication slot ${name}: ${done.left.message}`) : E.right(undefined);
}

async function createPhysical(session: SqlSession, name: string): Promise<E.Either<string, void>> {
  const done = await session.query("SELECT pg_create_physical_replication_slot($1, true)", [name]);
  return E.isLeft(done) ? E.left(`cannot create replication slot ${name}: ${done.left.message}`) : E.right(undefined);
}

export async function syncPermanentSlots(session: SqlSession, plan: PermanentSlotsPlan): Promise<E.Either<string, PermanentSlotChanges>> {
  assert(plan.slots.every((s) => !plan.retired.includes(s.name)), "a retired permanent slot is declared too");
  const recovery = await session.query<{ recovery: boolean }>("SELECT pg_is_in_recovery() AS recovery");
  if (E.isLeft(recovery)) return E.left(`cannot tell the server's role: ${recovery.left.message}`);
  const standby = recovery.right[0]?.recovery === true;
  const listed = await session.query<SlotRow>("SELECT slot_name, slot_type, database, plugin, active, temporary FROM pg_replication_slots");
  if (E.isLeft(listed)) return E.left(`cannot list replication slots: ${listed.left.message}`);
  const existing = new Map(listed.right.map((row) => [row.slot_name, row]));
  const created: string[] = [];
  const dropped: string[] = [];
  const logicalMissing: LogicalSlot[] = [];
  const problems: string[] = [];
  for (const slot of plan.slots) {
    const row = existing.get(slot.name);
    if (row !== undefined && !sameKind(row, slot)) {
      if (row.active) {
        problems.push(`slot ${slot.name} is a ${row.slot_type} slot in use, but the config declares ${describe(slot)}: it is replaced once its consumer disconnects`);
        continue;
      }
      const done = await drop(session, slot.name);
      if (E.isLeft(done)) return done;
      dropped.push(slot.name);
    }
    if (row !== undefined && sameKind(row, slot) && standby && slot.type === "logical" && !row.active) {
      // A logical slot on a PostgreSQL 15 standby is a stale copy (a former primary rewound into
      // a replica): it cannot be advanced here, holds WAL and, through hot_standby_feedback, the
      // primary's vacuum. Dropped; a promotion makes it again at the new primary's position.
      const done = await drop(session, slot.name);
      if (E.isLeft(done)) return done;
      dropped.push(slot.name);
      continue;
    }
    if (row !== undefined && sameKind(row, slot)) continue;
    if (slot.type === "logical") {
      if (!standby) logicalMissing.push(slot);
      continue;
    }
    const done = await createPhysical(session, slot.name);
    if (E.isLeft(done)) return done;
    created.push(slot.name);
  }
  for (const name of plan.retired) {
    const row = existing.get(name);
    if (row === undefined || row.temporary) continue;
    if (isIgnored(plan.ignore, { name, type: row.slot_type, database: row.database, plugin: row.plugin })) continue;
    if (row.active) {
      problems.push(`slot ${name} is no longer in the config but is in use: it is dropped once its consumer disconnects`);
      continue;
    }
    const done = await drop(session, name);
    if (E.isLeft(done)) return done;
    dropped.push(name);
  }
  const physical = plan.slots.filter((s) => s.type === "physical").map((s) => s.name);
  const advanced = standby && physical.length > 0 ? await advanceSlots(session, physical) : E.right([]);
  if (E.isLeft(advanced)) return advanced;
  return E.right({ recovery: standby, created, dropped, advanced: advanced.right, logicalMissing, problems });
}

/**
 * Creates a logical slot on a connection to its database (`target` names it); Right with the
 * position it starts at. It waits for the transactions running at the time to end, up to the
 * target's statement timeout.
 */
export async function createLogicalSlot(target: SqlTarget, slot: LogicalSlot): Promise<E.Either<string, Lsn | null>> {
  assert(target.database === slot.database, () => `logical slot ${slot.name} must be created in ${slot.database}, not ${target.database}`);
  const done = await queryOnce<{ lsn: string | null }>(target, "SELECT lsn::text AS lsn FROM pg_create_logical_replication_slot($1, $2)", [slot.name, slot.plugin]);
  if (E.isRight(done)) return E.right(lsnOrNull(done.right[0]?.lsn));
  const hint = /wal_level/.test(done.left.message)
    ? " Set wal_level to logical (raftgres sets it unless postgresql.parameters asks for replica) and restart."
    : done.left.sqlState === "3D000" ? ` Create the database ${slot.database} or fix the slot's database in the config.` : "";
  return E.left(`cannot create logical slot ${slot.name} in database ${slot.database} with plugin ${slot.plugin}: ${done.left.message}.${hint}`);
}

interface StateRow {
  readonly [column: string]: unknown;
  readonly slot_name: string;
  readonly slot_type: string;
  readonly database: string | null;
  readonly plugin: string | null;
  readonly active: boolean;
  readonly wal_status: string | null;
  readonly restart_lsn: string | null;
  readonly confirmed_flush_lsn: string | null;
  readonly retained_bytes: string | null;
}

/** The declared slots as this server has them (absent ones included, with why). */
export async function readPermanentSlots(session: SqlSession, slots: readonly PermanentSlot[], standby: boolean): Promise<E.Either<string, PermanentSlotState[]>> {
  if (slots.length === 0) return E.right([]);
  const read = await session.query<StateRow>(
    `SELECT slot_name, slot_type, database, plugin, active, wal_status, restart_lsn::text AS restart_lsn,
            confirmed_flush_lsn::text AS confirmed_flush_lsn,
            pg_wal_lsn_diff(CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END, restart_lsn)::bigint::text AS retained_bytes
       FROM pg_replication_slots WHERE slot_name = ANY($1)`,
    [slots.map((s) => s.name)],
  );
  if (E.isLeft(read)) return E.left(`cannot read the permanent replication slots: ${read.left.message}`);
  const rows = new Map(read.right.map((row) => [row.slot_name, row]));
  return E.right(slots.map((slot) => slotState(slot, rows.get(slot.name) ?? null, standby)));
}

function slotState(slot: PermanentSlot, row: StateRow | null, standby: boolean): PermanentSlotState {
  const database = slot.type === "logical" ? slot.database : null;
  const plugin = slot.type === "logical" ? slot.plugin : null;
  const base = { name: slot.name, type: slot.type, database, plugin };
  if (row === null) {
    const note = slot.type === "logical" && standby ? LOGICAL_ON_STANDBY_NOTE : "missing: it is created in the next cycles (see the agent's log if it is not)";
    return { ...base, present: false, active: false, walStatus: null, restartLsn: null, confirmedFlushLsn: null, retainedBytes: null, note };
  }
  const retained = row.retained_bytes === null ? null : Math.max(0, Number(row.retained_bytes));
  const note = row.wal_status === "lost"
    ? "lost: the WAL it needs was removed (max_slot_wal_keep_size); its consumer must start over from a new copy"
    : row.wal_status === "unreserved" ? "unreserved: the WAL it needs is about to be removed (max_slot_wal_keep_size)" : null;
  return {
    ...base,
    present: true,
    active: row.active,
    walStatus: row.wal_status,
    restartLsn: lsnOrNull(row.restart_lsn),
    confirmedFlushLsn: lsnOrNull(row.confirmed_flush_lsn),
    retainedBytes: retained,
    note,
  };
}
