/**
 * Who this data directory is, and who its peers' directories were (issue 12: "a wiped Raft data
 * dir rejoins as a fresh voter").
 *
 * Every Raft data directory gets a random store id when it is created. Peers present it in the
 * handshake (handshake.ts) and each node remembers, durably, the store id it first saw for each
 * peer. A node whose directory was emptied comes back with a new store id: its peers, which
 * remember the old one, refuse it, and it stops with the way back (src/agent/recovery.ts) instead
 * of voting with a log that forgot what it acknowledged. Removing a node from the group forgets
 * its store id, so the same name can be added back with a new directory.
 */
import { randomBytes } from "node:crypto";
import * as E from "fp-ts/lib/Either.js";
import { isValidNodeId, type NodeId } from "../types.js";

const STORE_ID_BYTES = 16;
const STORE_ID_PATTERN = /^[0-9a-f]{32}$/;
/** Peers a node remembers; far above any Raft group's size. */
export const PEER_STORES_MAX = 256;

export function newStoreId(): string {
  return randomBytes(STORE_ID_BYTES).toString("hex");
}

export function isStoreId(value: string): boolean {
  return STORE_ID_PATTERN.test(value);
}

export function encodeStoreId(storeId: string): Uint8Array {
  return new TextEncoder().encode(storeId);
}

export function decodeStoreId(payload: Uint8Array): E.Either<string, string> {
  const text = new TextDecoder().decode(payload);
  return isStoreId(text) ? E.right(text) : E.left(`malformed store id (${payload.length} bytes)`);
}

/** The registry as canonical JSON text (sorted by node id). */
export function encodePeerStores(peers: ReadonlyMap<NodeId, string>): Uint8Array {
  const sorted = [...peers.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return new TextEncoder().encode(JSON.stringify(Object.fromEntries(sorted)));
}

export function decodePeerStores(payload: Uint8Array): E.Either<string, Map<NodeId, string>> {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder().decode(payload));
  } catch {
    return E.left("the peer store registry is not JSON");
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) return E.left("the peer store registry is not an object");
  const entries = Object.entries(value as Record<string, unknown>);
  if (entries.length > PEER_STORES_MAX) return E.left(`the peer store registry has ${entries.length} entries, over ${PEER_STORES_MAX}`);
  const peers = new Map<NodeId, string>();
  for (const [id, storeId] of entries) {
    if (!isValidNodeId(id) || typeof storeId !== "string" || !isStoreId(storeId)) return E.left(`the peer store registry has a malformed entry for ${JSON.stringify(id.slice(0, 70))}`);
    peers.set(id as NodeId, storeId);
  }
  return E.right(peers);
}
