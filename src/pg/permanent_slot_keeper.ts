/**
 * What PostgresInstance remembers about the permanent slots between cycles: their last state
 * (for GET /patroni and /metrics), the logical slots being created in the background, when a
 * failed creation may be tried again, and which warnings were already logged — a lost slot or a
 * bad config entry is logged once when it appears, not every cycle.
 */
import * as E from "fp-ts/lib/Either.js";
import type { PermanentSlotsPlan } from "../ha/permanent_slots.js";
import type { PgResult } from "../ha/ports.js";
import { LOGICAL_SLOT_RETRY_MS } from "./constants.js";
import { sqlTarget } from "./lifecycle.js";
import { formatLsn } from "./lsn.js";
import { createLogicalSlot, type LogicalSlot, type PermanentSlotState, readPermanentSlots, syncPermanentSlots } from "./permanent_slots.js";
import { DONE, failure } from "./results.js";
import type { ResolvedSettings } from "./settings.js";
import type { SqlSession } from "./sql.js";

const AFTER_FAILOVER = "PostgreSQL 15 cannot keep logical slots on a standby, so the slot starts here, not where its " +
  "consumer stopped on the old primary: changes committed in between are not decoded through it. Resynchronize the " +
  "consumer if it needs them (PostgreSQL 16+ can keep logical slots on standbys)";

export class PermanentSlotKeeper {
  private states: readonly PermanentSlotState[] = [];
  private creating: Promise<void> | null = null;
  private readonly lastAttemptMs = new Map<string, number>();
  /** This server was seen in recovery since the last time every logical slot existed on it. */
  private sawRecovery = false;
  private reported = new Set<string>();

  constructor(private readonly settings: ResolvedSettings, private readonly session: SqlSession) {}

  /** The declared slots as this server had them at the last sync. */
  current(): readonly PermanentSlotState[] {
    return this.states;
  }

  async sync(plan: PermanentSlotsPlan): Promise<PgResult> {
    const logger = this.settings.logger;
    const synced = await syncPermanentSlots(this.session, plan);
    if (E.isLeft(synced)) return failure("failed", `${synced.left}; the next sync tries again`);
    const { recovery, created, dropped, advanced, logicalMissing, problems } = synced.right;
    if (created.length + dropped.length > 0) logger.info({ created, dropped, advanced }, "permanent replication slots synced");
    if (recovery) this.sawRecovery = true;
    else if (logicalMissing.length === 0 && this.creating === null) this.sawRecovery = false;
    if (logicalMissing.length > 0) this.createInBackground(logicalMissing);
    const read = await readPermanentSlots(this.session, plan.slots, recovery);
    if (E.isLeft(read)) return failure("failed", read.left);
    this.states = read.right;
    const trouble = read.right.filter((s) => s.walStatus === "lost" || s.walStatus === "unreserved").map((s) => `permanent slot ${s.name} is ${s.note ?? s.walStatus}`);
    this.report([...plan.problems.map((p) => `the config's permanent slots: ${p}`), ...problems, ...trouble]);
    return DONE;
  }

  /** Logs each sentence once, when it first appears; one that went away and comes back is logged again. */
  private report(sentences: readonly string[]): void {
    for (const sentence of sentences) if (!this.reported.has(sentence)) this.settings.logger.warn({}, sentence);
    this.reported = new Set(sentences);
  }

  private createInBackground(slots: readonly LogicalSlot[]): void {
    if (this.creating !== null) return;
    const now = performance.now();
    const due = slots.filter((s) => now - (this.lastAttemptMs.get(s.name) ?? -Infinity) >= LOGICAL_SLOT_RETRY_MS);
    if (due.length === 0) return;
    for (const slot of due) this.lastAttemptMs.set(slot.name, now);
    const afterFailover = this.sawRecovery;
    this.creating = this.createAll(due, afterFailover).finally(() => {
      this.creating = null;
    });
  }

  private async createAll(slots: readonly LogicalSlot[], afterFailover: boolean): Promise<void> {
    const logger = this.settings.logger;
    for (const slot of slots) {
      const made = await createLogicalSlot(sqlTarget(this.settings, { database: slot.database }), slot);
      if (E.isLeft(made)) {
        logger.warn({ slot: slot.name }, `${made.left} Trying again in ${LOGICAL_SLOT_RETRY_MS / 1000} s.`);
        continue;
      }
      this.lastAttemptMs.delete(slot.name);
      const at = made.right === null ? "an unknown position" : formatLsn(made.right);
      const fields = { slot: slot.name, database: slot.database, plugin: slot.plugin, lsn: at };
      if (afterFailover) logger.warn(fields, `recreated logical slot ${slot.name} on this new primary at ${at}: ${AFTER_FAILOVER}`);
      else logger.info(fields, `created logical slot ${slot.name} at ${at}`);
    }
  }
}
