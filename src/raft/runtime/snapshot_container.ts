/**
 * What a Raft snapshot carries: the exactly-once session table of the runtime and the state
 * machine's own bytes, with a format version so newer nodes can read older snapshots.
 */
import { deserialize, field, serialize } from "@dao-xyz/borsh";
import * as E from "fp-ts/lib/Either.js";
import { SessionTable } from "./proposals.js";

const FORMAT_VERSION = 1;

class WireContainer {
  @field({ type: "u8" }) version: number;
  @field({ type: Uint8Array }) sessions: Uint8Array;
  @field({ type: Uint8Array }) state: Uint8Array;
  constructor(version: number, sessions: Uint8Array, state: Uint8Array) {
    this.version = version;
    this.sessions = sessions;
    this.state = state;
  }
}

export function encodeSnapshotData(sessions: SessionTable, state: Uint8Array): Uint8Array {
  return serialize(new WireContainer(FORMAT_VERSION, sessions.encode(), state));
}

export function decodeSnapshotData(bytes: Uint8Array): E.Either<string, { sessions: SessionTable; state: Uint8Array }> {
  let wire: WireContainer;
  try {
    wire = deserialize(bytes, WireContainer);
  } catch (error: unknown) {
    return E.left(`malformed snapshot data: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (wire.version > FORMAT_VERSION) return E.left(`snapshot format ${wire.version} is newer than this raftgres understands (${FORMAT_VERSION}); upgrade this node`);
  return E.map((sessions: SessionTable) => ({ sessions, state: wire.state }))(SessionTable.decode(wire.sessions));
}
