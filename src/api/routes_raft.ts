/**
 * The Raft group, raftgres's own endpoints (Patroni has none: its DCS is someone else's):
 *   GET    /raft                 the members as this node sees them, the leader, term, commit
 *   POST   /raft/members         {name, address, role?}: add a node (default: as a voter)
 *   DELETE /raft/members/:name   remove a node
 *   POST   /raft/transfer        {to}: hand the Raft leadership to a voter
 *
 * Changes go one server at a time (Raft thesis §4.1). A new voter is first added as a learner,
 * which receives the log without counting for the quorum, and is promoted once its match index
 * is within RAFT_CATCH_UP_ENTRIES_MAX of the leader's commit (thesis §4.2.1: a new server that
 * votes before it caught up can leave the cluster unavailable for as long as it takes). A learner
 * that does not catch up in time is removed again, so nothing half-done is left behind.
 *
 * Removals are refused for the Raft leader itself (transfer the leadership first: the CLI's
 * `members transfer`), for the last voter, and when the voters left would not hold a majority of
 * nodes the leader heard from recently. Membership changes are proposed on the Raft leader: other
 * nodes forward them (raft_forward.ts). A transfer is handed to Raft on any node, which passes it
 * to its leader; the route then waits for the new leader to show.
 */
import type { FastifyInstance, FastifyReply } from "fastify";
import * as E from "fp-ts/lib/Either.js";
import { isJsonObject, type JsonObject } from "../dcs/json.js";
import { isValidName } from "../dcs/model.js";
import { type BodySchema, type FieldRule, noKeys, readBody, shown } from "./body.js";
import { authorOf, type ApiContext } from "./context.js";
import { apiError, type ApiError, sendError, sendMessage } from "./errors.js";
import type { MembershipChange, NodeFailure, RaftMember, RaftMembership } from "./node_api.js";
import { forwardToLeader } from "./raft_forward.js";

/** A learner this close to the leader's commit index is promoted (the commit moves meanwhile). */
export const RAFT_CATCH_UP_ENTRIES_MAX = 64;
/** How long one membership change may take to commit. */
export const RAFT_CONF_CHANGE_TIMEOUT_MS = 10_000;
/** A voter heard from within this counts as reachable when a removal's quorum is checked. */
export const RAFT_RECENT_CONTACT_MS = 5_000;
/** How long a forwarded request may take on the leader, beyond the catch-up wait. */
const FORWARD_MARGIN_MS = 2 * RAFT_CONF_CHANGE_TIMEOUT_MS + 5_000;

const bad = (message: string): ApiError => apiError("badRequest", message);

/** GET /raft: snake_case like the rest of the API; api_url where the member publishes one. */
export function raftJson(raft: RaftMembership, apiUrls: ReadonlyMap<string, string>): JsonObject {
  const leaderUrl = raft.leader === null ? undefined : apiUrls.get(raft.leader);
  return {
    node: raft.self,
    role: raft.role,
    term: raft.term,
    leader: raft.leader,
    ...(leaderUrl === undefined ? {} : { leader_api_url: leaderUrl }),
    commit_index: raft.commitIndex,
    members: raft.members.map((m) => ({
      id: m.id,
      address: m.address,
      role: m.role,
      is_leader: m.isLeader,
      match_index: m.matchIndex,
      last_contact_ms: m.lastContactMs,
      ...(apiUrls.has(m.id) ? { api_url: apiUrls.get(m.id)! } : {}),
    })),
  };
}

function names(raft: RaftMembership): string {
  return raft.members.map((m) => (m.role === "voter" ? m.id : `${m.id} (learner)`)).join(", ");
}

function voterIds(raft: RaftMembership): string[] {
  return raft.members.filter((m) => m.role === "voter").map((m) => m.id);
}

/** A Raft node id is its member name. */
const nodeName: FieldRule = (value, key) => {
  if (typeof value !== "string" || value === "") return `${key} must be a node name (a string), not ${shown(value ?? null)}`;
  if (!isValidName(value)) return `${key} ${shown(value)} is not a valid node name (letters, digits, '_', '.', '-', at most 63)`;
  return null;
};

const RAFT_ADDRESS = /^(?:\[[0-9A-Fa-f:.]{2,45}\]|[A-Za-z0-9_.-]{1,253}):(\d{1,5})$/;

const raftAddress: FieldRule = (value, key) => {
  const port = typeof value === "string" ? RAFT_ADDRESS.exec(value)?.[1] : undefined;
  if (port === undefined || Number(port) < 1 || Number(port) > 65535) return `${key} must be the node's Raft address as host:port, not ${shown(value ?? null)}`;
  return null;
};

const ADD_SCHEMA: BodySchema = {
  route: "POST /raft/members",
  optional: false,
  fields: { name: nodeName, address: raftAddress, role: (value, key) => (value === "voter" || value === "learner" ? null : `${key} must be "voter" or "learner", not ${shown(value)}`) },
};

const TRANSFER_SCHEMA: BodySchema = { route: "POST /raft/transfer", optional: false, fields: { to: nodeName } };

/** A name the schema requires: present and valid, else a 400 naming the key. */
function readName(body: JsonObject, key: string): E.Either<ApiError, string> {
  const problem = nodeName(body[key], key);
  return problem === null ? E.right(body[key] as string) : E.left(bad(problem));
}

interface AddRequest {
  readonly name: string;
  readonly address: string;
  readonly role: "voter" | "learner";
}

function readAddRequest(body: JsonObject): E.Either<ApiError, AddRequest> {
  const name = readName(body, "name");
  if (E.isLeft(name)) return name;
  const address = raftAddress(body["address"], "address");
  if (address !== null) return E.left(bad(address));
  const role = body["role"] === "learner" ? "learner" : "voter";
  return E.right({ name: name.right, address: body["address"] as string, role });
}

function fromNodeFailure(failure: NodeFailure, what: string): ApiError {
  const message = `${what}: ${failure.message}`;
  switch (failure.code) {
    case "busy":
      return apiError("conflict", message);
    case "refused":
      return apiError("badRequest", message);
    case "unavailable":
      return apiError("dcsUnavailable", message);
    case "failed":
      return apiError("actionFailed", message);
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function propose(ctx: ApiContext, change: MembershipChange, what: string): Promise<ApiError | null> {
  const done = await ctx.node.changeMembership(change, RAFT_CONF_CHANGE_TIMEOUT_MS);
  return E.isLeft(done) ? fromNodeFailure(done.left, what) : null;
}

function caughtUp(raft: RaftMembership, name: string): RaftMember | undefined {
  const member = raft.members.find((m) => m.id === name);
  if (member?.matchIndex === null || member?.matchIndex === undefined) return undefined;
  return member.matchIndex + RAFT_CATCH_UP_ENTRIES_MAX >= raft.commitIndex ? member : undefined;
}

/** Waits until the learner caught up; null when it did, else why not. */
async function awaitCatchUp(ctx: ApiContext, request: AddRequest): Promise<string | null> {
  const deadline = Date.now() + ctx.timing.raftCatchUpWaitMs;
  for (;;) {
    const raft = ctx.node.raftMembers();
    if (raft.role !== "leader") return `${ctx.node.name} lost the Raft leadership (the leader is ${raft.leader ?? "unknown"}) while ${request.name} caught up`;
    if (caughtUp(raft, request.name) !== undefined) return null;
    if (Date.now() >= deadline) {
      const match = raft.members.find((m) => m.id === request.name)?.matchIndex ?? 0;
      return `${request.name} did not catch up within ${Math.round(ctx.timing.raftCatchUpWaitMs / 1000)} s (its match index is ${match}, the commit index ${raft.commitIndex}): is it running and is ${request.address} its Raft address?`;
    }
    await sleep(ctx.timing.pollIntervalMs);
  }
}

async function addMember(ctx: ApiContext, request: AddRequest): Promise<{ status: number; message: string } | ApiError> {
  const before = ctx.node.raftMembers();
  const existing = before.members.find((m) => m.id === request.name);
  if (existing?.role === "voter") return apiError("conflict", `${request.name} is already a voter of the Raft group (members: ${names(before)})`);
  if (existing !== undefined && request.role === "learner") return apiError("conflict", `${request.name} is already a learner of the Raft group (members: ${names(before)})`);
  if (existing !== undefined && existing.address !== request.address) {
    return bad(`${request.name} is already a learner at ${existing.address}, not ${request.address}: remove it first to change its address`);
  }
  if (existing === undefined) {
    const added = await propose(ctx, { kind: "addLearner", id: request.name, address: request.address }, `cannot add ${request.name} as a learner`);
    if (added !== null) return added;
    if (request.role === "learner") return { status: 200, message: `${request.name} (${request.address}) is a learner of the Raft group: it receives the log and does not vote` };
  }
  const late = await awaitCatchUp(ctx, request);
  if (late !== null) {
    if (existing !== undefined || ctx.node.raftMembers().role !== "leader") return apiError("actionFailed", `${late}; it stays a learner`);
    const removed = await propose(ctx, { kind: "remove", id: request.name, address: "" }, "removing it again failed");
    return apiError("actionFailed", removed === null ? `${late}; it was removed again` : `${late}; ${removed.message}, so it stays a learner`);
  }
  const promoted = await propose(ctx, { kind: "addVoter", id: request.name, address: request.address }, `${request.name} caught up as a learner but was not promoted to voter`);
  if (promoted !== null) return promoted;
  return { status: 200, message: `${request.name} (${request.address}) is a voter of the Raft group: it caught up as a learner and was promoted (voters: ${voterIds(ctx.node.raftMembers()).join(", ")})` };
}

/** Why removing `name` is refused, naming the state; null when it may go. */
function removalProblem(raft: RaftMembership, name: string): ApiError | null {
  const member = raft.members.find((m) => m.id === name);
  if (member === undefined) return apiError("notFound", `${name} is not a member of the Raft group (members: ${names(raft)})`);
  if (name === raft.self) return apiError("conflict", `${name} is the Raft leader: hand the leadership to another voter first (raftgres members transfer <node>, or POST /raft/transfer), then remove ${name}`);
  if (member.role === "learner") return null;
  const remaining = voterIds(raft).filter((id) => id !== name);
  if (remaining.length === 0) return apiError("conflict", `${name} is the only voter of the Raft group: it cannot be removed`);
  const reachable = raft.members.filter((m) => m.role === "voter" && m.id !== name && (m.id === raft.self || (m.lastContactMs !== null && m.lastContactMs <= RAFT_RECENT_CONTACT_MS)));
  if (reachable.length * 2 <= remaining.length) {
    return apiError("conflict", `removing ${name} would leave the voters ${remaining.join(", ")}, of which only ${reachable.map((m) => m.id).join(", ")} answered in the last ${RAFT_RECENT_CONTACT_MS / 1000} s: no majority; bring the others back first`);
  }
  return null;
}

async function transfer(ctx: ApiContext, to: string): Promise<{ status: number; message: string } | ApiError> {
  const raft = ctx.node.raftMembers();
  const member = raft.members.find((m) => m.id === to);
  if (member === undefined) return bad(`${to} is not a member of the Raft group (members: ${names(raft)})`);
  if (member.role !== "voter") return bad(`${to} is a learner: only a voter can become the Raft leader (promote it with POST /raft/members first)`);
  if (raft.leader === to) return { status: 200, message: `${to} is already the Raft leader (term ${raft.term})` };
  if (raft.leader === null) return apiError("dcsUnavailable", "no Raft leader is known right now (an election may be in progress); retry shortly");
  const from = raft.leader;
  const started = ctx.node.transferLeadership(to);
  if (E.isLeft(started)) return fromNodeFailure(started.left, `cannot transfer the Raft leadership to ${to}`);
  const deadline = Date.now() + ctx.timing.raftTransferWaitMs;
  while (Date.now() < deadline) {
    await sleep(ctx.timing.pollIntervalMs);
    const now = ctx.node.raftMembers();
    if (now.leader === to) return { status: 200, message: `the Raft leadership moved from ${from} to ${to} (term ${now.term})` };
  }
  const now = ctx.node.raftMembers();
  return apiError("actionFailed", `the Raft leadership did not move to ${to} within ${Math.round(ctx.timing.raftTransferWaitMs / 1000)} s (the leader is ${now.leader ?? "unknown"}, term ${now.term}): is ${to} connected and caught up?`);
}

function apiUrls(ctx: ApiContext): Map<string, string> {
  return new Map((ctx.node.view()?.members ?? []).filter((m) => m.apiUrl !== "").map((m) => [m.name as string, m.apiUrl]));
}

const answer = (reply: FastifyReply, outcome: { status: number; message: string } | ApiError): FastifyReply =>
  "code" in outcome ? sendError(reply, outcome) : sendMessage(reply, outcome.status, outcome.message);

export function registerRaftRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const forwardTimeoutMs = ctx.timing.raftCatchUpWaitMs + FORWARD_MARGIN_MS;
  app.get("/raft", async (_request, reply) => reply.code(200).send(raftJson(ctx.node.raftMembers(), apiUrls(ctx))));

  app.post("/raft/members", async (request, reply) => {
    const body = readBody(request.body, ADD_SCHEMA);
    if (E.isLeft(body)) return sendError(reply, body.left);
    const add = readAddRequest(body.right);
    if (E.isLeft(add)) return sendError(reply, add.left);
    const forwarded = await forwardToLeader(ctx, request, reply, forwardTimeoutMs);
    if (forwarded !== null) return forwarded;
    ctx.logger.info({ ...add.right, author: authorOf(request) }, "adding a node to the Raft group");
    return answer(reply, await addMember(ctx, add.right));
  });

  app.delete("/raft/members/:name", async (request, reply) => {
    const params = request.params;
    const name = readName(isJsonObject(params) ? params : {}, "name");
    if (E.isLeft(name)) return sendError(reply, name.left);
    const body = readBody(request.body, noKeys("DELETE /raft/members/:name"));
    if (E.isLeft(body)) return sendError(reply, body.left);
    const forwarded = await forwardToLeader(ctx, request, reply, forwardTimeoutMs);
    if (forwarded !== null) return forwarded;
    const raft = ctx.node.raftMembers();
    const problem = removalProblem(raft, name.right);
    if (problem !== null) return sendError(reply, problem);
    ctx.logger.info({ name: name.right, author: authorOf(request) }, "removing a node from the Raft group");
    const removed = await propose(ctx, { kind: "remove", id: name.right, address: "" }, `cannot remove ${name.right}`);
    if (removed !== null) return sendError(reply, removed);
    return sendMessage(reply, 200, `${name.right} was removed from the Raft group (members: ${names(ctx.node.raftMembers())})`);
  });

  app.post("/raft/transfer", async (request, reply) => {
    const body = readBody(request.body, TRANSFER_SCHEMA);
    if (E.isLeft(body)) return sendError(reply, body.left);
    const to = readName(body.right, "to");
    if (E.isLeft(to)) return sendError(reply, to.left);
    ctx.logger.info({ to: to.right, author: authorOf(request) }, "transferring the Raft leadership");
    return answer(reply, await transfer(ctx, to.right));
  });
}
