/**
 * A node of the replicated cluster state: a Raft node whose state machine is the DCS, and the
 * client the HA loop and the REST API use. A witness is exactly this, with no PostgreSQL: it
 * votes and stores the state, so two database nodes and one witness keep a majority.
 */
import * as E from "fp-ts/lib/Either.js";
import { DcsClient } from "../dcs/client.js";
import type { Decision } from "../dcs/decide.js";
import { DEFAULT_LIMITS, type DcsLimits } from "../dcs/model.js";
import { DcsStateMachine } from "../dcs/state_machine.js";
import { RaftNode } from "../raft/runtime/raft_node.js";
import type { RaftNodeError, RaftNodeOptions } from "../raft/runtime/raft_node_types.js";

export interface DcsNode {
  readonly raft: RaftNode<Decision>;
  readonly machine: DcsStateMachine;
  readonly client: DcsClient;
}

export type DcsNodeOptions = Omit<RaftNodeOptions<Decision>, "stateMachine"> & {
  readonly limits?: DcsLimits;
};

export async function startDcsNode(options: DcsNodeOptions): Promise<E.Either<RaftNodeError, DcsNode>> {
  // The state machine logs an entry it cannot apply (a bug) and a snapshot it cannot restore.
  const machine = new DcsStateMachine(options.limits ?? DEFAULT_LIMITS, options.logger.child({ component: "dcs" }));
  const started = await RaftNode.start<Decision>({ ...options, stateMachine: machine });
  if (E.isLeft(started)) return started;
  const raft = started.right;
  return E.right({ raft, machine, client: new DcsClient(raft, machine, options.nodeId) });
}
