/**
 * The key layout of the Raft log store: one LevelDB (through `level`) per data directory, with
 * binary keys and values (the "view" encoding, Uint8Array).
 *
 * Fixed one-byte keys hold the identity, the incarnation, the hard state and the snapshot. An entry
 * lives under ENTRY_PREFIX followed by its index as 8 bytes big-endian, so LevelDB's bytewise key
 * order is index order and an iterator over [ENTRY_KEYS_START, ENTRY_KEYS_END) reads the log in
 * order. The prefixes are part of the on-disk format (LOG_STORE_FORMAT_VERSION): never renumber
 * them.
 */
import * as E from "fp-ts/lib/Either.js";
import type { Level } from "level";
import { assert } from "../../lib/assert.js";
import type { LogIndex } from "../types.js";

/** The database as the log store opens it: binary keys and values. */
export type LogDb = Level<Uint8Array, Uint8Array>;

export const IDENTITY_KEY: Uint8Array = Uint8Array.of(0x01);
export const INCARNATION_KEY: Uint8Array = Uint8Array.of(0x02);
export const HARD_STATE_KEY: Uint8Array = Uint8Array.of(0x03);
export const SNAPSHOT_KEY: Uint8Array = Uint8Array.of(0x04);
/** Format 2: the random id of this data directory, and the ids this node saw for its peers'. */
export const STORE_ID_KEY: Uint8Array = Uint8Array.of(0x05);
export const PEER_STORES_KEY: Uint8Array = Uint8Array.of(0x06);
/** Set when peers refused this directory as a replacement of one they knew: it never starts again. */
export const REPLACED_KEY: Uint8Array = Uint8Array.of(0x07);

const ENTRY_PREFIX = 0x10;
const ENTRY_KEY_BYTES = 9;
const TWO_POW_32 = 0x1_0000_0000;

/** Every entry key k satisfies ENTRY_KEYS_START <= k < ENTRY_KEYS_END. */
export const ENTRY_KEYS_START: Uint8Array = Uint8Array.of(ENTRY_PREFIX);
export const ENTRY_KEYS_END: Uint8Array = Uint8Array.of(ENTRY_PREFIX + 1);

export function entryKey(index: LogIndex): Uint8Array {
  assert(Number.isSafeInteger(index) && index > 0, () => `entry key for invalid index ${index}`);
  const key = new Uint8Array(ENTRY_KEY_BYTES);
  const view = new DataView(key.buffer);
  key[0] = ENTRY_PREFIX;
  view.setUint32(1, Math.floor(index / TWO_POW_32));
  view.setUint32(5, index % TWO_POW_32);
  return key;
}

/** The index an entry key names; left when the key is not a well-formed entry key. */
export function indexOfEntryKey(key: Uint8Array): E.Either<string, LogIndex> {
  if (key.length !== ENTRY_KEY_BYTES || key[0] !== ENTRY_PREFIX) {
    return E.left(`malformed entry key 0x${hex(key)}`);
  }
  const view = new DataView(key.buffer, key.byteOffset, key.byteLength);
  const high = view.getUint32(1);
  const low = view.getUint32(5);
  const index = high * TWO_POW_32 + low;
  if (!Number.isSafeInteger(index) || index === 0) {
    return E.left(`entry key 0x${hex(key)} names an invalid index`);
  }
  return E.right(index as LogIndex);
}

export function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex");
}
