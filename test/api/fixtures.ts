/**
 * A NodeApi for the REST API tests: the cluster state is a real DcsStateMachine driven by
 * commands (test/dcs/fixtures.ts Driver), the local snapshot plain data the test sets.
 */
import { either as E } from "fp-ts";
import type { FastifyInstance } from "fastify";
import type { Command } from "../../src/dcs/commands.js";
import type { DcsFailure, Executed } from "../../src/dcs/client.js";
import { DEFAULT_TAGS, type Lsn, type MemberName, type Scope } from "../../src/dcs/model.js";
import { type ScopeView, viewScope } from "../../src/dcs/views.js";
import type { LocalStatus, MembershipChange, NodeApi, NodeFailure, RaftMember, RaftMembership, ReinitializeRequest, RestartRequest } from "../../src/api/node_api.js";
import { buildApiServer, type ApiServerOptions } from "../../src/api/server.js";
import { parameterProblems } from "../../src/pg/parameter_check.js";
import { SILENT_LOGGER } from "../../src/lib/logger.js";
import { Driver, m, SCOPE } from "../dcs/fixtures.js";

export const PRIMARY_LOCAL: LocalStatus = {
  process: "running",
  busy: null,
  progress: null,
  role: "primary",
  timeline: 1,
  walWritten: 1000n as Lsn,
  walReceived: null,
  walReplayed: null,
  replayedAtMs: null,
  replayPaused: false,
  streaming: false,
  systemId: "7301234567890123456",
  serverVersion: 150018,
  postmasterStartMs: 1_700_000_000_000,
  pendingRestart: {},
  tags: DEFAULT_TAGS,
  lease: { generation: 1, msLeft: 20_000 },
  decision: { reason: "holding the lease as the primary", detail: "pg2, pg3 streaming" },
  haLoopAgeMs: 500,
  dcsLastSeenMs: 1_700_000_000_000,
  raft: { role: "leader", term: 3, leader: "pg1", commitIndex: 42, appliedIndex: 41, lastIndex: 42, storageWrites: 40, entriesWritten: 42, loopStallMaxMs: 180, loopStallRecentMaxMs: 35, peers: [{ id: "pg2", matchIndex: 42, lastContactMs: 12 }, { id: "pg3", matchIndex: 40, lastContactMs: 15 }] },
  watchdogOk: true,
  replication: [{ usename: "replicator", applicationName: "pg2", clientAddr: "10.0.0.2", state: "streaming", syncState: "async", syncPriority: 0 }],
  problem: null,
};

export const REPLICA_LOCAL: LocalStatus = {
  ...PRIMARY_LOCAL,
  role: "replica",
  walWritten: null,
  walReceived: 1000n as Lsn,
  walReplayed: 1000n as Lsn,
  replayedAtMs: 1_700_000_000_000,
  streaming: true,
  lease: null,
  raft: { ...PRIMARY_LOCAL.raft, role: "follower", peers: [] },
  replication: [],
};

export class TestNode implements NodeApi {
  readonly driver = new Driver();
  readonly scope = SCOPE;
  readonly version = "0.1.0";
  readonly name: MemberName;
  status: LocalStatus;
  /** When set, readView fails with this message. */
  readFailure: string | null = null;
  /** When set, execute fails with this (the Raft log unavailable). */
  executeFailure: DcsFailure | null = null;
  /** Runs between the read and the execution of a command: a concurrent writer. */
  beforeExecute: ((command: Command) => void) | null = null;
  /** Runs on wake(): the HA loop's part (a switchover carried out …). */
  onWake: (() => void) | null = null;
  readonly executed: { command: Command; author: string }[] = [];
  readonly calls: string[] = [];
  restartAnswer: E.Either<NodeFailure, string> = E.right("restarted PostgreSQL");
  reinitAnswer: E.Either<NodeFailure, string> = E.right("reinitialize started");
  lastRestart: RestartRequest | null = null;
  lastReinit: ReinitializeRequest | null = null;
  /** The Raft group: pg1..pg3 voters, pg1 the leader (this node leads when it is pg1). */
  raft: RaftMembership;
  /** The match index a node added as a learner reports (its catch-up), or null for "never heard". */
  learnerMatch: number | null = 42;
  /** When set, changeMembership fails with this. */
  membershipFailure: NodeFailure | null = null;
  /** Whether a transfer moves the leadership (the leader steps down at once in this fixture). */
  transferMoves = true;
  readonly membershipChanges: MembershipChange[] = [];

  constructor(name = "pg1", status: LocalStatus = PRIMARY_LOCAL) {
    this.name = m(name);
    this.status = status;
    const voter = (id: string, matchIndex: number): RaftMember => ({ id, address: `127.0.0.1:700${id.slice(-1)}`, role: "voter", isLeader: id === "pg1", matchIndex: name === "pg1" ? matchIndex : null, lastContactMs: id === name ? null : 10 });
    this.raft = { self: name, role: name === "pg1" ? "leader" : "follower", term: 3, leader: "pg1", commitIndex: 42, members: [voter("pg1", 42), voter("pg2", 42), voter("pg3", 40)] };
  }

  local(): LocalStatus {
    return this.status;
  }

  view(): ScopeView | null {
    const scope = this.driver.machine.state.scopes.get(SCOPE);
    return scope === undefined ? null : viewScope(scope, this.driver.machine.state.nowMs);
  }

  async readView(): Promise<E.Either<{ message: string }, ScopeView | null>> {
    return this.readFailure === null ? E.right(this.view()) : E.left({ message: this.readFailure });
  }

  async execute(command: Command, author: string): Promise<E.Either<DcsFailure, Executed>> {
    return this.executeIn(SCOPE, command, author);
  }

  async executeIn(scope: Scope, command: Command, author: string): Promise<E.Either<DcsFailure, Executed>> {
    this.beforeExecute?.(command);
    if (this.executeFailure !== null) return E.left(this.executeFailure);
    this.executed.push({ command, author });
    const decision = this.driver.run(author, command, scope);
    return E.map((events: Executed["events"]) => ({ index: this.driver.index, events }))(decision);
  }

  async restart(request: RestartRequest): Promise<E.Either<NodeFailure, string>> {
    this.calls.push("restart");
    this.lastRestart = request;
    return this.restartAnswer;
  }

  async reload(): Promise<E.Either<NodeFailure, string>> {
    this.calls.push("reload");
    return E.right("reload scheduled");
  }

  async reinitialize(request: ReinitializeRequest): Promise<E.Either<NodeFailure, string>> {
    this.calls.push("reinitialize");
    this.lastReinit = request;
    return this.reinitAnswer;
  }

  wake(): void {
    this.calls.push("wake");
    this.onWake?.();
  }

  raftMembers(): RaftMembership {
    return this.raft;
  }

  /** The agent's own check (src/pg/parameter_check.ts), not a stand-in. */
  postgresParameterProblems(parameters: Readonly<Record<string, unknown>>): readonly string[] {
    return parameterProblems(parameters, "postgresql.parameters");
  }

  /** Applies the change to `raft` as the core would (learners report `learnerMatch`). */
  async changeMembership(change: MembershipChange): Promise<E.Either<NodeFailure, string>> {
    this.membershipChanges.push(change);
    if (this.membershipFailure !== null) return E.left(this.membershipFailure);
    const others = this.raft.members.filter((x) => x.id !== change.id);
    const role = change.kind === "addVoter" ? "voter" : "learner";
    const added: RaftMember[] = change.kind === "remove" ? [] : [{ id: change.id, address: change.address, role, isLeader: false, matchIndex: this.learnerMatch, lastContactMs: 10 }];
    this.raft = { ...this.raft, members: [...others, ...added].sort((a, b) => a.id.localeCompare(b.id)) };
    return E.right(`${change.kind} ${change.id} committed`);
  }

  transferLeadership(to: string): E.Either<NodeFailure, string> {
    this.calls.push(`transfer ${to}`);
    if (this.transferMoves) {
      const members = this.raft.members.map((x) => ({ ...x, isLeader: x.id === to }));
      this.raft = { ...this.raft, term: this.raft.term + 1, leader: to, role: to === this.name ? "leader" : "follower", members };
    }
    return E.right(`asked for ${to}`);
  }
}

/** A bootstrapped scope (pg1 primary holding the lease, pg2 and pg3 streaming) seen from `name`. */
export function cluster(name = "pg1", status?: LocalStatus): TestNode {
  const node = new TestNode(name, status ?? (name === "pg1" ? PRIMARY_LOCAL : REPLICA_LOCAL));
  node.driver.bootstrap();
  return node;
}

export function server(node: NodeApi, options: Partial<ApiServerOptions> = {}): FastifyInstance {
  return buildApiServer({ node, logger: SILENT_LOGGER, timing: { switchoverWaitMs: 400, pollIntervalMs: 20 }, ...options });
}

export function basic(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;
}
