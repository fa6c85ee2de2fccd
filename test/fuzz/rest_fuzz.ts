/**
 * A REST fuzz against real agents (issue 12): a three-node cluster with real PostgreSQL 15 and
 * REST authentication on (lab/pg_cluster.ts), and generated requests (rest_inputs.ts) to
 * every mutating route of every node — deep, huge, wrong types, control characters, unknown keys
 * and members, valid ones too; most authenticated, some without or with wrong credentials.
 *
 * What must hold, and counts as a crash when it does not:
 * - every answer is a 2xx or a 4xx (401 for every unauthenticated request that reaches a route)
 *   with a JSON body whose `message` is a sentence — no 5xx at all, since the Raft group must not
 *   become unavailable; an answer within REQUEST_TIMEOUT_MS;
 * - no agent restarts (the same PIDs throughout) and no fatal line in any agent's log;
 * - at the end, once what the fuzz left is undone (maintenance, scheduled restarts and
 *   switchovers, pause), the cluster is healthy and every node shows the same state: GET /config
 *   and its ETag version, GET /cluster's members, roles and lease holder, GET /history.
 *
 * Inputs are drawn in batches with fast-check from `seed` (one batch seed per batch), so a run is
 * replayed by its seed: the same requests in the same order, as far as the time allows. Requests
 * go one at a time: each answer is checked against the request that caused it.
 */
import fc from "fast-check";
import { PgCluster, waitFor } from "../../lab/pg_cluster.js";
import { type FuzzRequest, makeSafe, type RawRequest, requestArbitrary, type Topology } from "./rest_inputs.js";

export interface RestFuzzOptions {
  readonly seed: number;
  /** How long to send requests (the cluster's start and the checks at the end come on top). */
  readonly timeMs: number;
  /** Go on past timeMs until this many inputs were sent, but never past three times timeMs. */
  readonly inputsMin?: number;
  readonly log?: (line: string) => void;
}

export interface RestFuzzResult {
  readonly inputs: number;
  readonly crashes: number;
  /** A line per crash (the request and what was wrong), then a summary of the answers. */
  readonly detail: string[];
}

const CREDENTIALS = { username: "fuzz", password: "fuzz-secret" };
const REQUEST_TIMEOUT_MS = 15_000;
const BATCH = 50;
/** The topology is read again this often (a primary could move; the fuzz must know where it is). */
const TOPOLOGY_EVERY = 25;
const DETAIL_MAX = 50;
/** Lines an agent must never write: a crash, an exit, a bug the API caught. */
const FATAL = /"level":60|stopping: |this is a bug|Maximum call stack|uncaught|raftgres agent failed|FATAL/i;

interface Answer {
  readonly status: number;
  readonly text: string;
  readonly etag?: string | null;
}

async function send(cluster: PgCluster, request: FuzzRequest): Promise<Answer> {
  const response = await fetch(`${cluster.apiUrl(request.node)}${request.path}`, {
    method: request.method,
    headers: request.headers,
    ...(request.body === null ? {} : { body: request.body }),
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  return { status: response.status, text: await response.text(), etag: response.headers.get("etag") };
}

/** The config's version as the Raft group has it (a linearizable read through ?consistent=true). */
async function configVersion(cluster: PgCluster, node: string): Promise<string | null> {
  const response = await fetch(`${cluster.apiUrl(node)}/config?consistent=true`, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
  await response.arrayBuffer();
  return response.headers.get("etag");
}

/** A sentence: words, no leaked placeholders. */
function sentenceProblem(message: unknown): string | null {
  if (typeof message !== "string") return `its message is ${JSON.stringify(message)}, not a string`;
  if (message.length < 10 || !/\s/.test(message)) return `its message ${JSON.stringify(message)} is not a sentence`;
  if (/undefined|\[object Object\]|NaN/.test(message)) return `its message leaks a placeholder: ${JSON.stringify(message.slice(0, 200))}`;
  return null;
}

/** What is wrong with the answer to `request`, or null. */
export function answerProblem(request: FuzzRequest, answer: Answer): string | null {
  const { status } = answer;
  if (status >= 500 || status < 200 || (status >= 300 && status < 400)) return `status ${status}: ${answer.text.slice(0, 300)}`;
  if (request.auth !== "right" && status < 300) return `status ${status} without the right credentials`;
  let body: unknown;
  try {
    body = JSON.parse(answer.text);
  } catch {
    return `status ${status} with a body that is not JSON: ${JSON.stringify(answer.text.slice(0, 200))}`;
  }
  if (typeof body !== "object" || body === null || Array.isArray(body)) return `status ${status} with a body that is not a JSON object`;
  const fields = body as Record<string, unknown>;
  if (status >= 400) {
    if (typeof fields["error"] !== "string") return `status ${status} without an error code: ${answer.text.slice(0, 200)}`;
    return sentenceProblem(fields["message"]);
  }
  // A config write answers the config; everything else answers {message}.
  return request.path === "/config" ? null : sentenceProblem(fields["message"]);
}

function describe(request: FuzzRequest): string {
  const body = request.body === null ? "(no body)" : request.body.length > 160 ? `${request.body.slice(0, 160)}… (${request.body.length} chars)` : request.body;
  return `${request.method} ${request.node}${request.path.length > 80 ? `${request.path.slice(0, 80)}…` : request.path} [${request.auth}${request.headers["content-type"] === undefined ? "" : `, ${request.headers["content-type"]}`}] ${body}`;
}

async function authenticated(cluster: PgCluster, node: string, method: string, path: string, body?: unknown): Promise<Answer> {
  const headers: Record<string, string> = { authorization: `Basic ${Buffer.from(`${CREDENTIALS.username}:${CREDENTIALS.password}`).toString("base64")}` };
  if (body !== undefined) headers["content-type"] = "application/json";
  const response = await fetch(`${cluster.apiUrl(node)}${path}`, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }), signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
  return { status: response.status, text: await response.text() };
}

async function readTopology(cluster: PgCluster, names: readonly string[], previous: Topology): Promise<Topology> {
  for (const name of names) {
    try {
      const state = await cluster.api(name, "GET", "/cluster", undefined, 5000);
      const raft = await cluster.api(name, "GET", "/raft", undefined, 5000);
      const lease = (state.json["raftgres"] as { lease?: { holder: string; expired: boolean } | null } | undefined)?.lease;
      const primary = lease !== null && lease !== undefined && !lease.expired ? lease.holder : null;
      return { names, primary, raftLeader: typeof raft.json["leader"] === "string" ? raft.json["leader"] : null };
    } catch {
      continue;
    }
  }
  return { ...previous, primary: null };
}

/** Undoes what valid requests left: maintenance, scheduled switchovers and restarts, pause. */
async function undo(cluster: PgCluster, names: readonly string[]): Promise<string[]> {
  const problems: string[] = [];
  const expect = async (what: string, answer: Promise<Answer>, ok: readonly number[]): Promise<void> => {
    const got = await answer.catch((error: unknown) => ({ status: 0, text: String(error) }));
    if (!ok.includes(got.status)) problems.push(`undoing: ${what} answered ${got.status}: ${got.text.slice(0, 200)}`);
  };
  await expect("DELETE /switchover", authenticated(cluster, names[0]!, "DELETE", "/switchover"), [200, 404]);
  for (const name of names) {
    await expect(`DELETE /restart on ${name}`, authenticated(cluster, name, "DELETE", "/restart"), [200, 404]);
    await expect(`DELETE /members/${name}/maintenance`, authenticated(cluster, names[0]!, "DELETE", `/members/${name}/maintenance`), [200]);
  }
  await expect("PATCH /config {pause: null}", authenticated(cluster, names[0]!, "PATCH", "/config", { pause: null }), [200]);
  return problems;
}

/** Every node's view of the state the fuzz could change, as one comparable text per node. */
async function states(cluster: PgCluster, names: readonly string[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const name of names) {
    const config = await cluster.api(name, "GET", "/config", undefined, 5000);
    const etag = await fetch(`${cluster.apiUrl(name)}/config`, { signal: AbortSignal.timeout(5000) }).then((r) => r.headers.get("etag"));
    const state = await cluster.api(name, "GET", "/cluster", undefined, 5000);
    const history = await cluster.api(name, "GET", "/history", undefined, 5000);
    const members = (state.json["members"] as { name: string; role: string }[] | undefined ?? []).map((m) => `${m.name}:${m.role}`);
    const extras = state.json["raftgres"] as { lease?: { holder: string } | null; config_version?: number } | undefined;
    out.set(name, JSON.stringify({ etag, config: config.json, members, holder: extras?.lease?.holder ?? null, configVersion: extras?.config_version, history: history.json }));
  }
  return out;
}

/** Waits until every node shows the same state; the differences when they do not. */
async function converged(cluster: PgCluster, names: readonly string[]): Promise<string | null> {
  let last = new Map<string, string>();
  try {
    await waitFor("every node to show the same state", 30_000, async () => {
      last = await states(cluster, names);
      return new Set(last.values()).size === 1 ? true : undefined;
    }, 500);
    return null;
  } catch {
    return [...last].map(([name, state]) => `${name}: ${state.slice(0, 600)}`).join("\n");
  }
}

function fatalLines(cluster: PgCluster, names: readonly string[]): string[] {
  return names.flatMap((name) => cluster.agentLog(name).split("\n").filter((line) => FATAL.test(line)).slice(0, 5).map((line) => `${name}: ${line.slice(0, 300)}`));
}

interface Tally {
  inputs: number;
  crashes: number;
  readonly detail: string[];
  readonly statuses: Map<number, number>;
  /** Per route: requests and the milliseconds their answers took. */
  readonly routes: Map<string, { count: number; ms: number }>;
}

function crash(tally: Tally, line: string, log: (line: string) => void): void {
  tally.crashes += 1;
  log(`CRASH ${line}`);
  if (tally.detail.length < DETAIL_MAX) tally.detail.push(line);
}

/** Sends requests until the time is up and enough were sent; counts inputs, statuses and crashes. */
async function fuzz(cluster: PgCluster, names: readonly string[], options: RestFuzzOptions, tally: Tally): Promise<void> {
  const log = options.log ?? (() => {});
  const pids = new Map(names.map((name) => [name, cluster.agentPid(name)]));
  const arbitrary = requestArbitrary(names);
  let topology: Topology = await readTopology(cluster, names, { names, primary: null, raftLeader: null });
  // A refused config write must leave the config as it was: its version is followed through the
  // ETag of every accepted write and read again after every refusal.
  let version = await configVersion(cluster, names[0]!);
  const soft = Date.now() + options.timeMs;
  const hard = Date.now() + 3 * options.timeMs;
  const going = (): boolean => Date.now() < hard && (Date.now() < soft || tally.inputs < (options.inputsMin ?? 0));
  for (let batch = 0; going(); batch++) {
    const raws: RawRequest[] = fc.sample(arbitrary, { seed: options.seed + batch * 7919, numRuns: BATCH });
    for (const raw of raws) {
      if (!going()) break;
      if (tally.inputs % TOPOLOGY_EVERY === 0) topology = await readTopology(cluster, names, topology);
      const request = makeSafe(raw, topology, CREDENTIALS);
      tally.inputs += 1;
      let answer: Answer;
      const startedMs = Date.now();
      try {
        answer = await send(cluster, request);
      } catch (error: unknown) {
        crash(tally, `no answer (${String(error)}) to ${describe(request)}`, log);
        continue;
      }
      const route = tally.routes.get(raw.route) ?? { count: 0, ms: 0 };
      tally.routes.set(raw.route, { count: route.count + 1, ms: route.ms + Date.now() - startedMs });
      tally.statuses.set(answer.status, (tally.statuses.get(answer.status) ?? 0) + 1);
      const problem = answerProblem(request, answer);
      if (problem !== null) crash(tally, `${problem} — for ${describe(request)}`, log);
      if (request.path === "/config" && answer.status === 200) version = answer.etag ?? version;
      else if (request.path === "/config" && request.auth === "right" && answer.status >= 400) {
        const now = await configVersion(cluster, request.node).catch((error: unknown) => `unreadable (${String(error)})`);
        if (now !== version) crash(tally, `the config moved from version ${version} to ${now} on a ${answer.status} — for ${describe(request)}`, log);
      }
    }
    for (const [name, pid] of pids) {
      if (cluster.agentPid(name) !== pid) crash(tally, `the agent of ${name} (pid ${pid}) is gone after ${tally.inputs} inputs`, log);
    }
    if (batch % 10 === 0) log(`${tally.inputs} inputs, ${tally.crashes} crashes, statuses ${JSON.stringify(Object.fromEntries(tally.statuses))}`);
  }
}

export async function runRestFuzz(options: RestFuzzOptions): Promise<RestFuzzResult> {
  const log = options.log ?? (() => {});
  const cluster = await PgCluster.create({
    placement: { host: () => "127.0.0.1", env: () => ({ RAFTGRES_RESTAPI_USERNAME: CREDENTIALS.username, RAFTGRES_RESTAPI_PASSWORD: CREDENTIALS.password }) },
  });
  const names = [...cluster.nodes.keys()];
  const tally: Tally = { inputs: 0, crashes: 0, detail: [], statuses: new Map(), routes: new Map() };
  try {
    cluster.startAll();
    const primary = await cluster.waitHealthy(120_000);
    log(`cluster up: ${names.join(", ")}, primary ${primary}; fuzzing for ${options.timeMs} ms with seed ${options.seed}`);
    await fuzz(cluster, names, options, tally);
    for (const line of await undo(cluster, names)) crash(tally, line, log);
    await cluster.waitHealthy(60_000).catch((error: unknown) => crash(tally, `the cluster is not healthy after the fuzz: ${String(error)}`, log));
    const differences = await converged(cluster, names);
    if (differences !== null) crash(tally, `the nodes do not converge on one state:\n${differences}`, log);
    for (const line of fatalLines(cluster, names)) crash(tally, `fatal log line: ${line}`, log);
    for (const name of names) if (cluster.agentPid(name) === null) crash(tally, `the agent of ${name} is not running at the end`, log);
  } finally {
    await cluster.destroy();
  }
  tally.detail.push(`statuses: ${JSON.stringify(Object.fromEntries([...tally.statuses].sort(([a], [b]) => a - b)))}`);
  for (const [route, { count, ms }] of tally.routes) tally.detail.push(`${route}: ${count} requests, ${(ms / count).toFixed(1)} ms on average`);
  return { inputs: tally.inputs, crashes: tally.crashes, detail: tally.detail };
}
