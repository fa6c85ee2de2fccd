/**
 * The framing of every value in the Raft log store, and the encodings of the two records that
 * only the store knows (identity, incarnation). Entries, the hard state and the snapshot use the
 * shared codec (../codec.ts).
 *
 * A stored value is a 4-byte big-endian CRC-32C of the payload followed by the payload. LevelDB has
 * its own block checksums, but they are not verified on every read by default and they do not
 * cover a value damaged before it reached LevelDB; "checksum on write, verify on read" is the
 * house rule (shared/STYLE.md, "Assertions and limits").
 */
import { BinaryReader, deserialize, field, serialize } from "@dao-xyz/borsh";
import * as E from "fp-ts/lib/Either.js";
import { assert } from "../../lib/assert.js";
import { crc32c } from "../../lib/crc32c.js";

const CHECKSUM_BYTES = 4;

/**
 * The on-disk format of the store. Bump it for any change to keys or record layouts, and teach
 * the loader to read (or migrate) every older version. Version 1 is the first; version 2 adds the
 * acknowledged-bound file beside LevelDB's (log_store_bound.ts), created for a version-1
 * directory at its first open.
 */
export const LOG_STORE_FORMAT_VERSION = 2;

export function seal(payload: Uint8Array): Uint8Array {
  const record = new Uint8Array(CHECKSUM_BYTES + payload.length);
  new DataView(record.buffer).setUint32(0, crc32c(payload));
  record.set(payload, CHECKSUM_BYTES);
  return record;
}

/** The payload of a stored value, or what is wrong with it. */
export function unseal(record: Uint8Array): E.Either<string, Uint8Array> {
  if (record.length < CHECKSUM_BYTES) {
    const length = record.length;
    return E.left(`the record is ${length} bytes, shorter than its checksum (${CHECKSUM_BYTES})`);
  }
  const stored = new DataView(record.buffer, record.byteOffset, record.byteLength).getUint32(0);
  const payload = record.subarray(CHECKSUM_BYTES);
  const computed = crc32c(payload);
  if (stored !== computed) {
    return E.left(`stored checksum ${checksumText(stored)} but computed ${checksumText(computed)}`);
  }
  return E.right(payload);
}

function checksumText(value: number): string {
  return `0x${value.toString(16).padStart(8, "0")}`;
}

export interface StoredIdentity {
  readonly formatVersion: number;
  readonly clusterId: string;
  readonly nodeId: string;
}

/** The format version is the first field (u32 little-endian) in every version of this record. */
class WireIdentity {
  @field({ type: "u32" }) formatVersion: number;
  @field({ type: "string" }) clusterId: string;
  @field({ type: "string" }) nodeId: string;
  constructor(identity: StoredIdentity) {
    this.formatVersion = identity.formatVersion;
    this.clusterId = identity.clusterId;
    this.nodeId = identity.nodeId;
  }
}

export function encodeIdentity(identity: StoredIdentity): Uint8Array {
  return serialize(new WireIdentity(identity));
}

/** Reads only the format version, so a record written by a newer format is recognised as such. */
export function decodeFormatVersion(payload: Uint8Array): E.Either<string, number> {
  try {
    return E.right(new BinaryReader(payload).u32());
  } catch (error: unknown) {
    return E.left(`malformed identity (${payload.length} bytes): ${errorText(error)}`);
  }
}

/** Decodes an identity record of the current format version. */
export function decodeIdentity(payload: Uint8Array): E.Either<string, StoredIdentity> {
  try {
    const wire = deserialize(payload, WireIdentity);
    const { formatVersion, clusterId, nodeId } = wire;
    return E.right({ formatVersion, clusterId, nodeId });
  } catch (error: unknown) {
    return E.left(`malformed identity (${payload.length} bytes): ${errorText(error)}`);
  }
}

const INCARNATION_BYTES = 8;
const TWO_POW_32 = 0x1_0000_0000;

/** The incarnation: a u64 big-endian counter, read back as a safe integer. */
export function encodeIncarnation(incarnation: number): Uint8Array {
  assert(Number.isSafeInteger(incarnation) && incarnation > 0, () =>
    `invalid incarnation ${incarnation}`);
  const payload = new Uint8Array(INCARNATION_BYTES);
  const view = new DataView(payload.buffer);
  view.setUint32(0, Math.floor(incarnation / TWO_POW_32));
  view.setUint32(4, incarnation % TWO_POW_32);
  return payload;
}

export function decodeIncarnation(payload: Uint8Array): E.Either<string, number> {
  if (payload.length !== INCARNATION_BYTES) {
    return E.left(`malformed incarnation: ${payload.length} bytes instead of ${INCARNATION_BYTES}`);
  }
  const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  const incarnation = view.getUint32(0) * TWO_POW_32 + view.getUint32(4);
  if (!Number.isSafeInteger(incarnation) || incarnation === 0) {
    return E.left(`invalid incarnation ${incarnation}`);
  }
  return E.right(incarnation);
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
