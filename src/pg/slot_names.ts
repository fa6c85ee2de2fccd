/**
 * Names of the physical replication slots raftgres keeps for members.
 *
 * Decision: a prefix, "rg_". syncSlots() drops inactive slots whose name starts with the prefix
 * and that belong to no listed member; every other slot (an operator's, a backup tool's) is left
 * alone. A prefix needs no record of what was created, so it survives clones, rewinds and
 * promotions, which copy the slots' owner but no such record.
 */
import { crc32c } from "../lib/crc32c.js";
import { SLOT_NAME_CHARS_MAX } from "./constants.js";
import type { MemberName } from "./types.js";

export const SLOT_PREFIX = "rg_";

/**
 * The slot of `member`: "rg_" + the name in lowercase with every character outside [a-z0-9_]
 * replaced by "_". When that changed the name (or it is too long for NAMEDATALEN), eight hex
 * digits of a CRC-32C of the exact member name are appended, so "pg-1", "pg_1" and "PG_1" keep
 * distinct slots.
 */
export function slotName(member: MemberName): string {
  const plain = member.toLowerCase().replace(/[^a-z0-9_]/g, "_");
  const name = `${SLOT_PREFIX}${plain}`;
  if (plain === member && name.length <= SLOT_NAME_CHARS_MAX) return name;
  const hash = crc32c(new TextEncoder().encode(member)).toString(16).padStart(8, "0");
  return `${name.slice(0, SLOT_NAME_CHARS_MAX - 9)}_${hash}`;
}

export function isMemberSlot(name: string): boolean {
  return name.startsWith(SLOT_PREFIX);
}
