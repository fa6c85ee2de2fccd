/**
 * The per-peer send queue of the transport: a FIFO ring buffer bounded in messages and in
 * estimated bytes. It never grows past its bounds: tryPush() refuses a message that does not fit,
 * and the caller accounts the drop (the transport drops the newest message; see transport.ts).
 * Each message keeps the time it was queued, and the queue counts what it holds of each type, so
 * the link can tell a stale message from one still worth sending (transport_freshness.ts).
 */
import { assert } from "../../lib/assert.js";
import type { Message, MessageType } from "../types.js";

const INITIAL_CAPACITY = 16;

export class MessageQueue {
  private messages: (Message | undefined)[] = new Array<Message | undefined>(INITIAL_CAPACITY);
  private sizes: number[] = new Array<number>(INITIAL_CAPACITY).fill(0);
  private queuedAt: number[] = new Array<number>(INITIAL_CAPACITY).fill(0);
  private readonly typeCounts = new Map<MessageType, number>();
  private head = 0;
  private count = 0;
  private bytes = 0;

  constructor(
    private readonly messagesMax: number,
    private readonly bytesMax: number,
  ) {
    assert(messagesMax > 0 && bytesMax > 0, "queue bounds must be positive");
  }

  get length(): number {
    return this.count;
  }

  get queuedBytes(): number {
    return this.bytes;
  }

  /** How many messages of this type are queued. */
  countOf(type: MessageType): number {
    return this.typeCounts.get(type) ?? 0;
  }

  /** Appends the message unless the queue is full in messages or bytes. `queuedAtMs` is monotonic. */
  tryPush(message: Message, sizeBytes: number, queuedAtMs: number): boolean {
    if (this.count >= this.messagesMax || this.bytes + sizeBytes > this.bytesMax) return false;
    if (this.count === this.messages.length) this.grow();
    const slot = (this.head + this.count) & (this.messages.length - 1);
    this.messages[slot] = message;
    this.sizes[slot] = sizeBytes;
    this.queuedAt[slot] = queuedAtMs;
    this.count++;
    this.bytes += sizeBytes;
    this.typeCounts.set(message.type, this.countOf(message.type) + 1);
    return true;
  }

  /** The oldest message, or undefined when empty. */
  peek(): Message | undefined {
    return this.count === 0 ? undefined : this.messages[this.head];
  }

  /** The estimated size of the oldest message (0 when empty). */
  peekSizeBytes(): number {
    return this.count === 0 ? 0 : this.sizes[this.head]!;
  }

  /** When the oldest message was queued (0 when empty). */
  peekQueuedAtMs(): number {
    return this.count === 0 ? 0 : this.queuedAt[this.head]!;
  }

  shift(): Message {
    assert(this.count > 0, "shift() from an empty queue");
    const message = this.messages[this.head]!;
    this.messages[this.head] = undefined;
    this.bytes -= this.sizes[this.head]!;
    this.head = (this.head + 1) & (this.messages.length - 1);
    this.count--;
    const left = this.countOf(message.type) - 1;
    assert(left >= 0, "the type counts cover the queue");
    this.typeCounts.set(message.type, left);
    return message;
  }

  /** Empties the queue; returns how many of the removed messages were snapshots. */
  clear(): number {
    let snapshots = 0;
    while (this.count > 0) if (this.shift().type === "snapshot") snapshots++;
    return snapshots;
  }

  /** Doubles the ring (capacity stays a power of two, so slots are found with a mask). */
  private grow(): void {
    const capacity = this.messages.length * 2;
    const messages = new Array<Message | undefined>(capacity);
    const sizes = new Array<number>(capacity).fill(0);
    const queuedAt = new Array<number>(capacity).fill(0);
    for (let i = 0; i < this.count; i++) {
      const slot = (this.head + i) & (this.messages.length - 1);
      messages[i] = this.messages[slot];
      sizes[i] = this.sizes[slot]!;
      queuedAt[i] = this.queuedAt[slot]!;
    }
    this.messages = messages;
    this.sizes = sizes;
    this.queuedAt = queuedAt;
    this.head = 0;
  }
}
