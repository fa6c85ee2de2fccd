/**
 * The agent's side of the REST API: src/api's NodeApi over the HA loop, the PostgreSQL adapter,
 * the Raft node and the watchdog. Server details (version, pending restart, replication) are
 * read in the background every loop_wait so that the health checks stay synchronous and cheap.
 */
import * as E from "fp-ts/lib/Either.js";
import type { LocalStatus, MembershipChange, NodeApi, NodeFailure, RaftMembership } from "../api/node_api.js";
import type { HaLoop } from "../ha/io/ha_loop.js";
import type { HaproxySocketStatus } from "../ha/io/haproxy_push.js";
import { memberRole } from "../ha/member_status.js";
import type { PgbouncerInstanceStatus } from "./pgbouncer_switchover.js";
import { startFailureOf } from "../ha/start_backoff.js";
import type { PostgresInstance } from "../pg/postgres_instance.js";
import type { ServerDetails } from "../pg/details.js";
import { parameterProblems } from "../pg/parameter_check.js";
import { RaftNodeFailure, type RaftNodeErrorCode } from "../raft/runtime/raft_node_types.js";
import { isValidNodeId, type NodeId } from "../raft/types.js";
import type { AgentConfig } from "./config.js";
import type { DcsNode } from "./dcs_node.js";

/**
 * How often the server details (version, pending restarts, replication connections: one query)
 * are read again while PostgreSQL runs: what GET /patroni shows is at most this old.
 */
const DETAILS_EVERY_MS = 2000;

export interface NodeApiParts {
  readonly config: () => AgentConfig;
  readonly version: string;
  readonly dcs: DcsNode;
  readonly ha: HaLoop;
  readonly postgres: PostgresInstance;
  readonly watchdogOk: () => boolean;
  readonly reload: () => Promise<E.Either<string, string>>;
  readonly clock: () => number;
  /** The pgbouncer instances paused through a switchover, or null without a pgbouncer section. */
  readonly pgbouncer?: () => readonly PgbouncerInstanceStatus[] | null;
  /** The HAProxy pushes per admin socket, or null without a haproxy section. */
  readonly haproxy?: () => readonly HaproxySocketStatus[] | null;
}

export class AgentNodeApi implements NodeApi {
  readonly scope;
  readonly name;
  readonly version: string;
  private details: ServerDetails | null = null;
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly parts: NodeApiParts) {
    this.scope = parts.config().scope;
    this.name = parts.config().name;
    this.version = parts.version;
    this.timer = setInterval(() => void this.refreshDetails(), DETAILS_EVERY_MS);
    this.timer.unref();
  }

  close(): void {
    clearInterval(this.timer);
  }

  private async refreshDetails(): Promise<void> {
    const read = await this.parts.postgres.details();
    this.details = E.isRight(read) ? read.right : null;
  }

  local(): LocalStatus {
    const { ha, dcs, clock } = this.parts;
    const s = ha.status();
    const pg = s.postgres;
    const running = pg?.process === "running";
    const raft = dcs.raft.status();
    const details = running ? this.details : null;
    const view = dcs.client.local(this.scope);
    return {
      process: pg?.process ?? null,
      busy: s.busy,
      progress: this.parts.postgres.progress(),
      role: pg === null ? null : memberRole(pg, s.standbyLeader),
      timeline: pg?.timeline ?? null,
      walWritten: pg?.walWritten ?? null,
      walReceived: pg?.walReceived ?? null,
      walReplayed: pg?.walReplayed ?? null,
      replayedAtMs: details?.replayedAtMs ?? null,
      replayPaused: details?.replayPaused ?? false,
      streaming: pg?.streaming ?? false,
      systemId: pg?.systemId ?? null,
      serverVersion: details?.serverVersion ?? null,
      postmasterStartMs: details?.postmasterStartMs ?? null,
      pendingRestart: details?.pendingRestart ?? {},
      tags: this.parts.config().tags,
      lease: s.lease === null ? null : { generation: s.lease.generation, msLeft: Math.max(0, Math.round(s.lease.deadlineMs - clock())) },
      decision: s.decision === null ? null : { reason: s.decision.reason, detail: s.decision.detail },
      haLoopAgeMs: Math.max(0, clock() - s.lastCycleMs),
      dcsLastSeenMs: view?.nowMs ?? null,
      raft: {
        role: raft.role,
        term: raft.term,
        leader: raft.leader,
        commitIndex: raft.commit,
        appliedIndex: raft.applied,
        lastIndex: raft.lastIndex,
        storageWrites: raft.writes,
        entriesWritten: raft.entriesWritten,
        loopStallMaxMs: raft.loopStallMaxMs,
        loopStallRecentMaxMs: raft.loopStallRecentMaxMs,
        peers: raft.contacts.map((c) => ({ id: c.id, matchIndex: raft.peers.find((p) => p.id === c.id)?.match ?? 0, lastContactMs: sinceMs(c.lastContactMs) })),
      },
      watchdogOk: this.parts.watchdogOk(),
      replication: details?.replication ?? [],
      problem: pg?.problem ?? null,
      startFailure: startFailureOf(s.startFailure, clock()),
      diverged: s.diverged,
      configurationProblems: s.configurationProblems,
      ...(running ? { permanentSlots: this.parts.postgres.permanentSlotStates() } : {}),
      ...pgbouncerOf(this.parts.pgbouncer?.() ?? null),
      ...haproxyOf(this.parts.haproxy?.() ?? null),
    };
  }

  view() {
    return this.parts.dcs.client.local(this.scope);
  }

  async readView() {
    const read = await this.parts.dcs.client.read(this.scope, this.parts.ha.status().settings.retryTimeoutMs);
    return E.isLeft(read) ? E.left({ message: read.left.message }) : E.right(read.right);
  }

  execute(command: Parameters<NodeApi["execute"]>[0], author: string) {
    return this.executeIn(this.scope, command, author);
  }

  executeIn(scope: Parameters<NodeApi["executeIn"]>[0], command: Parameters<NodeApi["executeIn"]>[1], author: string) {
    return this.parts.dcs.client.execute(scope, command, { author, timeoutMs: this.parts.ha.status().settings.retryTimeoutMs });
  }

  async restart(request: Parameters<NodeApi["restart"]>[0]): Promise<E.Either<NodeFailure, string>> {
    const timeoutMs = request.timeoutMs ?? this.parts.ha.status().settings.primaryStartTimeoutMs;
    const done = await this.parts.ha.restart(Math.max(1000, timeoutMs));
    return E.mapLeft((message: string) => failure(message))(done);
  }

  async reload(): Promise<E.Either<NodeFailure, string>> {
    const done = await this.parts.reload();
    return E.mapLeft((message: string) => failure(message))(done);
  }

  async reinitialize(request: Parameters<NodeApi["reinitialize"]>[0]): Promise<E.Either<NodeFailure, string>> {
    return E.mapLeft((message: string) => failure(message))(this.parts.ha.reinitialize({ fromLeader: request.fromLeader, from: request.from }));
  }

  wake(): void {
    this.parts.ha.trigger();
  }

  /** PostgreSQL 15's rules (src/pg/parameter_check.ts), the ones this node's server applies. */
  postgresParameterProblems(parameters: Readonly<Record<string, unknown>>): readonly string[] {
    return parameterProblems(parameters, "postgresql.parameters");
  }

  raftMembers(): RaftMembership {
    const raft = this.parts.dcs.raft.status();
    const leading = raft.role === "leader";
    return {
      self: raft.id,
      role: raft.role,
      term: raft.term,
      leader: raft.leader,
      commitIndex: raft.commit,
      members: raft.confState.members.map((m) => {
        const contact = raft.contacts.find((c) => c.id === m.id)?.lastContactMs ?? null;
        const match = m.id === raft.id ? raft.lastIndex : raft.peers.find((p) => p.id === m.id)?.match ?? null;
        return { id: m.id, address: m.address, role: m.role, isLeader: m.id === raft.leader, matchIndex: leading ? match : null, lastContactMs: m.id === raft.id ? null : sinceMs(contact) };
      }),
    };
  }

  async changeMembership(change: MembershipChange, timeoutMs: number): Promise<E.Either<NodeFailure, string>> {
    if (!isValidNodeId(change.id)) return E.left({ code: "refused", message: `${JSON.stringify(change.id)} is not a valid Raft node id` });
    try {
      const index = await this.parts.dcs.raft.proposeConfChange({ kind: change.kind, id: change.id as NodeId, address: change.address }, timeoutMs);
      return E.right(`the membership change (${change.kind} ${change.id}) committed at index ${index}`);
    } catch (error: unknown) {
      if (!(error instanceof RaftNodeFailure)) throw error;
      return E.left({ code: CONF_CHANGE_FAILURES[error.code], message: error.message });
    }
  }

  transferLeadership(to: string): E.Either<NodeFailure, string> {
    if (!isValidNodeId(to)) return E.left({ code: "refused", message: `${JSON.stringify(to)} is not a valid Raft node id` });
    this.parts.dcs.raft.transferLeadership(to as NodeId);
    return E.right(`asked the Raft leader to hand its leadership to ${to}`);
  }
}

/** How each refusal of the Raft node reads for the API. */
const CONF_CHANGE_FAILURES: Record<RaftNodeErrorCode, NodeFailure["code"]> = {
  noLeader: "unavailable",
  notLeader: "unavailable",
  transferring: "unavailable",
  stopped: "unavailable",
  startup: "unavailable",
  overloaded: "busy",
  pendingConfChange: "busy",
  invalidConfChange: "refused",
  tooLarge: "refused",
  timeout: "failed",
  outcomeUnknown: "failed",
  storage: "failed",
  damagedLog: "failed",
  applyFailed: "failed",
};

/** Milliseconds since a wall-clock time (the Raft transport stamps contacts with Date.now()). */
function sinceMs(atMs: number | null): number | null {
  return atMs === null ? null : Math.max(0, Date.now() - atMs);
}

function failure(message: string): NodeFailure {
  const code = /in progress/.test(message) ? "busy" : /cannot/.test(message) ? "refused" : "failed";
  return { code, message };
}

/** The pushes as LocalStatus restates them (src/api imports nothing of src/ha). */
function haproxyOf(sockets: readonly HaproxySocketStatus[] | null): Pick<LocalStatus, "haproxy"> {
  return sockets === null ? {} : { haproxy: sockets.map((socket) => ({ ...socket })) };
}

/** The pgbouncer instances as LocalStatus restates them. */
function pgbouncerOf(instances: readonly PgbouncerInstanceStatus[] | null): Pick<LocalStatus, "pgbouncer"> {
  return instances === null ? {} : { pgbouncer: instances.map((instance) => ({ ...instance })) };
}
