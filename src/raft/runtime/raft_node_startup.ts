/**
 * What a Raft node starts from: its stored log, or — on an empty data directory — the bootstrap
 * log of a new cluster or nothing (a node that joins and waits for the leader).
 */
import * as E from "fp-ts/lib/Either.js";
import { bootstrapState, type InitialState } from "../raw_node.js";
import type { LogStore, StoredState } from "./log_store.js";
import { SessionTable } from "./proposals.js";
import type { RaftNodeError, RaftNodeOptions } from "./raft_node_types.js";
import { decodeSnapshotData } from "./snapshot_container.js";

export async function initialState<Result>(options: RaftNodeOptions<Result>, store: LogStore, state: StoredState): Promise<E.Either<RaftNodeError, InitialState>> {
  const empty = state.entries.length === 0 && state.snapshot === null && state.hardState.term === 0;
  if (!empty) return E.right(state);
  if (options.initialMembers === null || options.initialMembers.length === 0) {
    if ((options.seedPeers?.size ?? 0) > 0) return E.right(state);
    return E.left({ code: "startup", message: `the Raft data directory ${options.dataDir} is empty and neither initial members nor peers to join were given; configure the initial members for a new cluster or the peers to join for an existing one` });
  }
  if (!options.initialMembers.some((m) => m.id === options.nodeId)) {
    return E.left({ code: "startup", message: `node ${options.nodeId} is not among the initial members (${options.initialMembers.map((m) => m.id).join(", ")}); add it there or join the cluster instead` });
  }
  const bootstrap = bootstrapState(options.initialMembers);
  const written = await store.write({ hardState: bootstrap.hardState, entries: bootstrap.entries, snapshot: null });
  if (E.isLeft(written)) return E.left({ code: "startup", message: `cannot write the initial Raft log: ${written.left.message}` });
  return E.right(bootstrap);
}

/** Restores the state machine from the stored snapshot, if any; returns the session table. */
export function restoreStateMachine<Result>(options: RaftNodeOptions<Result>, initial: InitialState): E.Either<RaftNodeError, SessionTable> {
  if (initial.snapshot === null) return E.right(new SessionTable());
  const decoded = decodeSnapshotData(initial.snapshot.data);
  if (E.isLeft(decoded)) return E.left({ code: "damagedLog", message: `the stored snapshot in ${options.dataDir} cannot be read: ${decoded.left}` });
  const restored = options.stateMachine.restore(decoded.right.state);
  if (restored !== undefined && E.isLeft(restored)) return E.left({ code: "damagedLog", message: `the stored snapshot in ${options.dataDir} does not hold a valid state: ${restored.left}` });
  return E.right(decoded.right.sessions);
}
