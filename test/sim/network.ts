/**
 * The simulated network: every message is delivered after a random delay (so messages reorder),
 * or dropped, or delivered twice, as the seed's fault settings say. Links can be cut one way or
 * both ways (partitions). Nothing is delivered to a node that is down.
 */
import type { Prng } from "../../src/lib/prng.js";
import type { Message, NodeId } from "../../src/raft/types.js";
import type { EventQueue } from "./event_queue.js";

export interface NetworkFaults {
  dropRate: number;
  duplicateRate: number;
  delayMinMs: number;
  delayMaxMs: number;
}

export const CALM_NETWORK: NetworkFaults = { dropRate: 0, duplicateRate: 0, delayMinMs: 1, delayMaxMs: 3 };

export class SimNetwork {
  faults: NetworkFaults = { ...CALM_NETWORK };
  private readonly cut = new Set<string>();
  sent = 0;
  dropped = 0;

  constructor(
    private readonly queue: EventQueue,
    private readonly prng: Prng,
    private readonly deliver: (m: Message) => void,
  ) {}

  send(messages: readonly Message[]): void {
    for (const m of messages) {
      this.sent++;
      if (this.cut.has(`${m.from}>${m.to}`) || this.prng.chance(this.faults.dropRate)) {
        this.dropped++;
        continue;
      }
      const copies = this.prng.chance(this.faults.duplicateRate) ? 2 : 1;
      for (let i = 0; i < copies; i++) {
        const delay = this.faults.delayMinMs + this.prng.next() * (this.faults.delayMaxMs - this.faults.delayMinMs);
        this.queue.schedule(delay, () => {
          // A partition that starts while a message is in flight also stops it.
          if (this.cut.has(`${m.from}>${m.to}`)) this.dropped++;
          else this.deliver(m);
        });
      }
    }
  }

  cutLink(from: NodeId, to: NodeId): void {
    this.cut.add(`${from}>${to}`);
  }

  /** Splits the nodes into groups that cannot talk to each other. */
  partition(groups: readonly (readonly NodeId[])[]): void {
    for (const a of groups) for (const b of groups) {
      if (a === b) continue;
      for (const x of a) for (const y of b) this.cut.add(`${x}>${y}`);
    }
  }

  heal(): void {
    this.cut.clear();
  }

  describeCuts(): string {
    return [...this.cut].sort().join(" ");
  }
}
