/**
 * Heartbeats and their answers that arrive while the loop is busy are stepped once per sender
 * (issue 14). After a partition heals, a connection delivers at once what its kernel buffered:
 * dozens of heartbeats, each of which the follower would answer, then dozens of answers, each of
 * which would make the leader probe again. Raft needs only the newest of them: a newer heartbeat
 * carries a commit index and read round at least as high, a newer answer a read round at least
 * as high. A merged heartbeat asks for an answer if any of those it replaces did.
 *
 * RaftNode queues a step per slot that admit() returns, and take() hands it the merged message
 * when the step runs; messages that arrive before then join the slot instead of queuing a step.
 */
import { assert } from "../../lib/assert.js";
import type { Message } from "../types.js";

export interface HeartbeatSlot {
  readonly key: string;
  message: Message;
}

export class InboundHeartbeats {
  private readonly waiting = new Map<string, HeartbeatSlot>();

  /**
   * A new slot, for which the caller queues a step; "merged" when the message joined a slot
   * that waits already; null for other kinds of messages, which are stepped as they come.
   */
  admit(message: Message): HeartbeatSlot | "merged" | null {
    if (message.type !== "heartbeat" && message.type !== "heartbeatResponse") return null;
    const key = `${message.from}|${message.type}`;
    const slot = this.waiting.get(key);
    if (slot !== undefined) {
      slot.message = merge(slot.message, message);
      return "merged";
    }
    const fresh = { key, message };
    this.waiting.set(key, fresh);
    return fresh;
  }

  /** The slot's step runs now: the newest message, merged. */
  take(slot: HeartbeatSlot): Message {
    assert(this.waiting.get(slot.key) === slot, "a heartbeat slot is taken once");
    this.waiting.delete(slot.key);
    return slot.message;
  }
}

function merge(older: Message, newer: Message): Message {
  assert(older.from === newer.from && older.type === newer.type, "only messages of one sender and kind merge");
  // A later term makes the older message irrelevant; within a term, newer fields dominate.
  if (newer.term !== older.term) return newer.term > older.term ? newer : older;
  if (newer.type === "heartbeat") return older.force && !newer.force ? { ...newer, force: true } : newer;
  return newer.context >= older.context ? newer : { ...newer, context: older.context };
}
