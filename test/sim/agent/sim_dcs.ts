/**
 * The cluster state for whole-agent simulations, before the simulated Raft group carries it
 * (issue 17 item 4): one committed log, and on every member its own real DcsStateMachine that
 * applies that log in order while the member is connected. A member cut off from the group
 * (`connected` false) keeps the view it had, its proposals and linearizable reads fail after
 * their timeout, and a proposal whose answer was cut off may still have been committed — the
 * three things the HA loop must cope with. The agents use the real DcsClient on top.
 */
import { DcsClient, type ReplicatedLog } from "../../../src/dcs/client.js";
import type { Decision } from "../../../src/dcs/decide.js";
import type { Recorded } from "../../../src/dcs/events.js";
import type { MemberName, Scope } from "../../../src/dcs/model.js";
import { DcsStateMachine, type EntryContext } from "../../../src/dcs/state_machine.js";
import { type ScopeView, viewScope } from "../../../src/dcs/views.js";
import { assert } from "../../../src/lib/assert.js";
import type { EventQueue } from "../event_queue.js";

/** Virtual time 0 as wall-clock time (entries carry wall-clock times). */
export const WALL_BASE_MS = 1_800_000_000_000;
/** From a proposal to its commit, and from a commit to each connected member's apply. */
const LATENCY_MS = 2;
/** How often members that were cut off catch up, besides the delivery that follows each commit. */
const CATCH_UP_MS = 50;
/** How long a proposal or read waits when no timeout is given (the client's default is longer). */
const DEFAULT_TIMEOUT_MS = 5_000;

interface Replica {
  readonly machine: DcsStateMachine;
  applied: number;
  /** Proposals of this member waiting for their entry to be applied here, by index. */
  readonly waiting: Map<number, (decision: Decision) => void>;
  /** Reads waiting until this member applied up to an index. */
  readonly reads: { index: number; resolve: (index: number) => void }[];
}

class TimeoutError extends Error {
  readonly code = "timeout";
}

export class SimDcs {
  private readonly log: { readonly payload: Uint8Array; readonly context: EntryContext }[] = [];
  private readonly replicas = new Map<MemberName, Replica>();
  /**
   * Applies every entry as soon as it is committed, whoever is connected: the cluster state as
   * it is, for the checkers (who holds the lease, what is pending, what was recorded when).
   */
  private readonly witness = new DcsStateMachine();
  private witnessed = 0;

  constructor(
    private readonly queue: EventQueue,
    members: readonly MemberName[],
    /** Whether `member` is connected to the Raft group now. */
    private readonly connected: (member: MemberName) => boolean,
    /** Hands an answer to `member`'s agent: now, or once it runs again (a frozen agent, SimAgents). */
    private readonly toAgent: (member: MemberName, deliver: () => void) => void = (_member, deliver) => deliver(),
  ) {
    for (const m of members) this.replicas.set(m, { machine: new DcsStateMachine(), applied: 0, waiting: new Map(), reads: [] });
    this.queue.schedule(CATCH_UP_MS, () => this.catchUpTick());
  }

  /** The real DCS client of `member`, over this log. */
  client(member: MemberName): DcsClient {
    const replica = this.replica(member);
    const log: ReplicatedLog = {
      propose: (payload, timeoutMs) => this.propose(member, payload, timeoutMs ?? DEFAULT_TIMEOUT_MS),
      readIndex: (timeoutMs) => this.readIndex(member, timeoutMs ?? DEFAULT_TIMEOUT_MS),
    };
    return new DcsClient(log, replica.machine, member);
  }

  /** The committed cluster state of `scope` (not any member's view of it). */
  committedView(scope: Scope): ScopeView | null {
    this.witnessUpTo();
    const state = this.witness.state.scopes.get(scope);
    return state === undefined ? null : viewScope(state, this.witness.state.nowMs);
  }

  /** Calls `listener` with what each committed entry changed, in commit order. */
  onCommitted(listener: (changes: readonly Recorded[]) => void): () => void {
    return this.witness.subscribe(listener);
  }

  private witnessUpTo(): void {
    while (this.witnessed < this.log.length) {
      const entry = this.log[this.witnessed]!;
      this.witness.apply(entry.payload, entry.context);
      this.witnessed = entry.context.index;
    }
  }

  committed(): number {
    return this.log.length;
  }

  /** The state machine of `member` (what its agent sees). */
  machine(member: MemberName): DcsStateMachine {
    return this.replica(member).machine;
  }

  private replica(member: MemberName): Replica {
    const replica = this.replicas.get(member);
    assert(replica !== undefined, () => `${member} is not a member of the simulated DCS`);
    return replica;
  }

  private propose(member: MemberName, payload: Uint8Array, timeoutMs: number): Promise<{ index: number; result: Decision }> {
    return this.request(member, timeoutMs, "the proposal was not applied", (answer) => {
      const index = this.log.length + 1;
      this.log.push({ payload, context: { index, term: 1, timeMs: WALL_BASE_MS + this.queue.now } });
      this.replica(member).waiting.set(index, (result) => answer({ index, result }));
    });
  }

  private readIndex(member: MemberName, timeoutMs: number): Promise<number> {
    return this.request(member, timeoutMs, "the read was not confirmed", (answer) => {
      this.replica(member).reads.push({ index: this.log.length, resolve: answer });
    });
  }

  /**
   * One request of `member` to the group: it reaches the group after the latency if the member
   * is connected then, and `reach` arranges its answer; without an answer in `timeoutMs` it fails.
   */
  private request<T>(member: MemberName, timeoutMs: number, what: string, reach: (answer: (value: T) => void) => void): Promise<T> {
    return new Promise((resolve, reject) => {
      let settled = false;
      this.queue.schedule(timeoutMs, () => {
        if (settled) return;
        settled = true;
        this.toAgent(member, () => reject(new TimeoutError(`${what} within ${timeoutMs} ms`)));
      });
      if (!this.connected(member)) return;
      this.queue.schedule(LATENCY_MS, () => {
        if (!this.connected(member)) return;
        this.queue.schedule(LATENCY_MS, () => this.deliver());
        reach((value) => {
          if (settled) return;
          settled = true;
          this.toAgent(member, () => resolve(value));
        });
      });
    });
  }

  private catchUpTick(): void {
    this.queue.schedule(CATCH_UP_MS, () => this.catchUpTick());
    this.deliver();
  }

  /** Every connected member applies what was committed since it last did. */
  private deliver(): void {
    this.witnessUpTo();
    for (const [member, replica] of this.replicas) {
      if (!this.connected(member)) continue;
      while (replica.applied < this.log.length) {
        const entry = this.log[replica.applied]!;
        const decision = replica.machine.apply(entry.payload, entry.context);
        replica.applied = entry.context.index;
        const waiter = replica.waiting.get(entry.context.index);
        replica.waiting.delete(entry.context.index);
        waiter?.(decision);
      }
      const reads = replica.reads.splice(0);
      for (const r of reads) {
        if (r.index <= replica.applied) r.resolve(r.index);
        else replica.reads.push(r);
      }
    }
  }
}
