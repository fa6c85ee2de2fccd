/**
 * The permanent slots of the config (src/dcs/permanent_slots.ts) as the PostgreSQL adapter needs
 * them: src/pg may import src/ha and src/lib only (scripts/import_rules.ts).
 */
export { isIgnored, type PermanentSlot, type PermanentSlotsPlan, type SlotMatcher } from "../dcs/permanent_slots.js";
