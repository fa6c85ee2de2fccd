/**
 * The vocabulary of the Raft core: identifiers, log entries, hard state, membership, snapshots and
 * messages. Plain data only; the wire and disk encodings live in codec.ts.
 *
 * Words follow shared/STYLE.md: leader, follower, candidate, term, index and entry are Raft words.
 */
import { assert } from "../lib/assert.js";

export type NodeId = string & { readonly __brand: "NodeId" };
export type Term = number & { readonly __brand: "Term" };
export type LogIndex = number & { readonly __brand: "LogIndex" };

/** Node ids appear in logs, file names and URLs: keep them short and plain. */
const NODE_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;

export function nodeId(value: string): NodeId {
  assert(NODE_ID_PATTERN.test(value), () => `invalid node id ${JSON.stringify(value)}`);
  return value as NodeId;
}

export function isValidNodeId(value: string): boolean {
  return NODE_ID_PATTERN.test(value);
}

export function term(value: number): Term {
  assert(Number.isSafeInteger(value) && value >= 0, () => `invalid term ${value}`);
  return value as Term;
}

export function logIndex(value: number): LogIndex {
  assert(Number.isSafeInteger(value) && value >= 0, () => `invalid log index ${value}`);
  return value as LogIndex;
}

/** "normal" entries carry application data (empty data for the leader's no-op); "config" a ConfChange. */
export type EntryType = "normal" | "config";

export interface Entry {
  readonly term: Term;
  readonly index: LogIndex;
  readonly type: EntryType;
  /**
   * Wall-clock milliseconds stamped by the leader that appended the entry. Never decreasing along
   * the log, also across leader changes (a new leader stamps max(its clock, last entry's time)).
   * The layer above uses it as the time of its commands, so every node computes the same expiry.
   */
  readonly timeMs: number;
  readonly data: Uint8Array;
}

export interface HardState {
  readonly term: Term;
  readonly vote: NodeId | null;
  readonly commit: LogIndex;
}

export type MemberRole = "voter" | "learner";

export interface ConfMember {
  readonly id: NodeId;
  readonly role: MemberRole;
  /** Where peers reach this node's Raft transport, e.g. "127.0.0.1:7001". Opaque to the core. */
  readonly address: string;
}

/** The membership: sorted by id, ids unique. */
export interface ConfState {
  readonly members: readonly ConfMember[];
}

export type ConfChangeKind = "addVoter" | "addLearner" | "remove";

export interface ConfChange {
  readonly kind: ConfChangeKind;
  readonly id: NodeId;
  /** Required for additions; ignored for removals. */
  readonly address: string;
}

export interface SnapshotMeta {
  readonly index: LogIndex;
  readonly term: Term;
  /** Time of the entry at `index`, so entry times stay monotonic after compaction. */
  readonly timeMs: number;
  readonly confState: ConfState;
}

export interface Snapshot {
  readonly meta: SnapshotMeta;
  readonly data: Uint8Array;
}

export type MessageType =
  | "append"
  | "appendResponse"
  | "vote"
  | "voteResponse"
  | "preVote"
  | "preVoteResponse"
  | "heartbeat"
  | "heartbeatResponse"
  | "snapshot"
  | "propose"
  | "readIndex"
  | "readIndexResponse"
  | "timeoutNow"
  | "transferLeader";

export const MESSAGE_TYPES: readonly MessageType[] = [
  "append",
  "appendResponse",
  "vote",
  "voteResponse",
  "preVote",
  "preVoteResponse",
  "heartbeat",
  "heartbeatResponse",
  "snapshot",
  "propose",
  "readIndex",
  "readIndexResponse",
  "timeoutNow",
  "transferLeader",
];

/**
 * One flat message shape for every type (as etcd's raftpb.Message): cheap to encode and to
 * build. Field meaning by type:
 * - append: index/logTerm = the entry preceding `entries`; commit = leader's commit.
 * - appendResponse: index = last index now matching (success) or the rejected index (reject);
 *   rejectHint/logTerm = where the follower suggests to probe next (reject only).
 * - vote/preVote: index/logTerm = candidate's last entry; `force` = leadership transfer.
 * - heartbeat: commit = min(follower match, leader commit); context = read round; `force` = the
 *   leader asks for an answer (followers answer only those, and new read rounds).
 * - heartbeatResponse: context = echoed read round.
 * - snapshot: snapshot.
 * - propose: entries (data only; the leader assigns term, index and time).
 * - readIndex: context = request id of the asking node; readIndexResponse adds index.
 * - transferLeader: index unused; `to` is the leader, `from` the requester, target in `context`
 *   is not used: the target is the requester's chosen node, carried in `transferTarget`.
 */
export interface Message {
  readonly type: MessageType;
  readonly from: NodeId;
  readonly to: NodeId;
  readonly term: Term;
  readonly logTerm: Term;
  readonly index: LogIndex;
  readonly commit: LogIndex;
  readonly reject: boolean;
  readonly rejectHint: LogIndex;
  readonly force: boolean;
  readonly context: number;
  readonly transferTarget: NodeId | null;
  readonly entries: readonly Entry[];
  readonly snapshot: Snapshot | null;
}

export type Role = "follower" | "preCandidate" | "candidate" | "leader";

export interface ReadState {
  /** The request id passed to readIndex(). */
  readonly requestId: number;
  /** Once the local applied index reaches this, a read reflects every write acknowledged before it. */
  readonly index: LogIndex;
}

export const EMPTY_DATA: Uint8Array = new Uint8Array(0);

export function makeMessage(
  fields: Pick<Message, "type" | "from" | "to" | "term"> & Partial<Message>,
): Message {
  return {
    logTerm: 0 as Term,
    index: 0 as LogIndex,
    commit: 0 as LogIndex,
    reject: false,
    rejectHint: 0 as LogIndex,
    force: false,
    context: 0,
    transferTarget: null,
    entries: [],
    snapshot: null,
    ...fields,
  };
}

/** Approximate in-memory/wire size of an entry, used by flow control and batching limits. */
export function entrySizeBytes(entry: Entry): number {
  return entry.data.length + 32;
}

export function messageSizeBytes(message: Message): number {
  let size = 64;
  for (const entry of message.entries) size += entrySizeBytes(entry);
  if (message.snapshot !== null) size += message.snapshot.data.length + 64 * (message.snapshot.meta.confState.members.length + 1);
  return size;
}
