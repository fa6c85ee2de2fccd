/**
 * A lock-step in-memory cluster for unit and transcript tests (etcd-raft's `network`, our way):
 * nodes are RawNodes whose Ready is "persisted" at once; messages wait in a queue until a test
 * delivers them, so every interleaving is explicit. Partitions drop messages between groups.
 */
import { createRecordingLogger, type LoggedLine, SILENT_LOGGER } from "../../src/lib/logger.js";
import { createPrng } from "../../src/lib/prng.js";
import { DEFAULT_TUNABLES, type RaftConfig, type RaftTunables } from "../../src/raft/config.js";
import { bootstrapState, EMPTY_STATE, type InitialState, RawNode, type Ready } from "../../src/raft/raw_node.js";
import type { ConfMember, Entry, Message, NodeId, Snapshot } from "../../src/raft/types.js";
import { nodeId } from "../../src/raft/types.js";

export interface HarnessNode {
  readonly id: NodeId;
  node: RawNode;
  /** Everything this node applied, in order (entries and snapshot restores). */
  readonly applied: Entry[];
  readonly readStates: { requestId: number; index: number }[];
  /** The durable state, as a runtime would have written it. */
  durable: InitialState;
  appliedSnapshot: Snapshot | null;
}

export interface HarnessOptions {
  readonly tunables?: Partial<RaftTunables>;
  readonly seed?: number;
  readonly learners?: readonly string[];
  readonly logLines?: LoggedLine[];
}

export class Harness {
  readonly nodes = new Map<NodeId, HarnessNode>();
  readonly queue: Message[] = [];
  private readonly blocked = new Set<string>();
  /** Crashed nodes: no ticks, no messages in or out, unpersisted state lost. */
  readonly down = new Set<string>();
  private readonly options: HarnessOptions;
  private seedCounter: number;

  constructor(ids: readonly string[], options: HarnessOptions = {}) {
    this.options = options;
    this.seedCounter = options.seed ?? 1;
    const members: ConfMember[] = ids.map((id) => ({
      id: nodeId(id),
      role: options.learners?.includes(id) === true ? "learner" : "voter",
      address: `${id}:7000`,
    }));
    for (const member of members) this.addNode(member.id, bootstrapState(members));
  }

  config(id: NodeId): RaftConfig {
    const logger = this.options.logLines === undefined ? SILENT_LOGGER : createRecordingLogger(this.options.logLines, { node: id });
    return { ...DEFAULT_TUNABLES, ...this.options.tunables, id, prng: createPrng(this.seedCounter++), logger };
  }

  addNode(id: NodeId, initial: InitialState = EMPTY_STATE): HarnessNode {
    const node: HarnessNode = { id, node: new RawNode(this.config(id), initial), applied: [], readStates: [], durable: initial, appliedSnapshot: null };
    this.nodes.set(id, node);
    return node;
  }

  get(id: string): HarnessNode {
    const node = this.nodes.get(id as NodeId);
    if (node === undefined) throw new Error(`no node ${id}`);
    return node;
  }

  /** Restarts a node from its durable state (what a crash and restart would load). */
  restart(id: string): void {
    const old = this.get(id);
    this.down.delete(id);
    this.nodes.set(old.id, { ...old, node: new RawNode(this.config(old.id), old.durable), applied: [], readStates: [] });
  }

  crash(id: string): void {
    this.down.add(id);
  }

  isolate(id: string): void {
    for (const other of this.nodes.keys()) {
      if (other === id) continue;
      this.blocked.add(`${id}>${other}`);
      this.blocked.add(`${other}>${id}`);
    }
  }

  cut(from: string, to: string): void {
    this.blocked.add(`${from}>${to}`);
  }

  heal(): void {
    this.blocked.clear();
  }

  /** Processes every node's Ready until none has one; returns the messages queued. */
  processReady(only?: string): Message[] {
    const out: Message[] = [];
    for (const h of this.nodes.values()) {
      if ((only !== undefined && h.id !== only) || this.down.has(h.id)) continue;
      while (h.node.hasReady()) out.push(...this.handleReady(h, h.node.ready()));
    }
    return out;
  }

  applyReady(h: HarnessNode, ready: Ready): Message[] {
    return this.handleReady(h, ready);
  }

  private handleReady(h: HarnessNode, ready: Ready): Message[] {
    let entries = [...h.durable.entries];
    let snapshot = h.durable.snapshot;
    if (ready.snapshot !== null) {
      snapshot = ready.snapshot;
      entries = [];
      h.appliedSnapshot = ready.snapshot;
    }
    if (ready.entries.length > 0) {
      const first = ready.entries[0]!.index;
      entries = entries.filter((e) => e.index < first).concat(ready.entries);
    }
    h.durable = { hardState: ready.hardState ?? h.durable.hardState, snapshot, entries };
    h.applied.push(...ready.committedEntries);
    h.readStates.push(...ready.readStates);
    h.node.advance();
    for (const m of ready.messages) this.queue.push(m);
    return [...ready.messages];
  }

  /** Delivers queued messages (optionally only some) in order; returns those delivered. */
  deliver(filter: (m: Message) => boolean = () => true): Message[] {
    const delivered: Message[] = [];
    const keep: Message[] = [];
    for (const m of this.queue.splice(0)) {
      if (!filter(m)) {
        keep.push(m);
        continue;
      }
      if (this.blocked.has(`${m.from}>${m.to}`) || !this.nodes.has(m.to) || this.down.has(m.to) || this.down.has(m.from)) continue;
      this.nodes.get(m.to)!.node.step(m);
      delivered.push(m);
    }
    this.queue.push(...keep);
    return delivered;
  }

  /** Queues each matching message `times` times in all (the network duplicated it); returns the originals. */
  duplicate(filter: (m: Message) => boolean, times: number): Message[] {
    const matched: Message[] = [];
    const queued = this.queue.splice(0);
    for (const m of queued) {
      this.queue.push(m);
      if (!filter(m)) continue;
      matched.push(m);
      for (let i = 1; i < times; i++) this.queue.push(m);
    }
    return matched;
  }

  /** Removes queued messages that match; returns them. */
  dropWhere(filter: (m: Message) => boolean): Message[] {
    const dropped = this.queue.filter(filter);
    const kept = this.queue.filter((m) => !filter(m));
    this.queue.splice(0, this.queue.length, ...kept);
    return dropped;
  }

  /** Ready and deliver until quiet. */
  stabilize(maxRounds = 1000): void {
    for (let round = 0; round < maxRounds; round++) {
      this.processReady();
      if (this.queue.length === 0) return;
      this.deliver();
    }
    throw new Error("cluster did not stabilize");
  }

  tick(id: string, times = 1): void {
    for (let i = 0; i < times; i++) this.get(id).node.tick();
  }

  tickAll(times = 1): void {
    for (let i = 0; i < times; i++) for (const h of this.nodes.values()) if (!this.down.has(h.id)) h.node.tick();
  }

  /** Elects `id`: campaign and stabilize. */
  elect(id: string): void {
    this.get(id).node.campaign();
    this.stabilize();
  }

  leaders(): NodeId[] {
    return [...this.nodes.values()].filter((h) => h.node.status().role === "leader").map((h) => h.id);
  }

  appliedData(id: string): string[] {
    return this.get(id).applied.filter((e) => e.type === "normal" && e.data.length > 0).map((e) => new TextDecoder().decode(e.data));
  }
}

export const text = (s: string): Uint8Array => new TextEncoder().encode(s);
