/**
 * The inputs of the REST fuzz (rest_fuzz.ts): requests to every mutating route of the API, built
 * by fast-check from pools of values that are right, wrong in type or range, unknown members,
 * control characters, deep and huge bodies, and raw text that is not JSON at all.
 *
 * A request the API may legitimately carry out, and that would pause or damage the cluster if
 * carried out, is made one it must refuse (`makeSafe`), against the topology last read:
 * - a switchover or failover whose leader is the primary, or a failover without a leader to a
 *   replica, gets a leader that is not the primary (412) — unless scheduled in 2099 (202, then
 *   cancelled);
 * - POST /restart without a schedule always carries postgres_version ≤ 15.0 (the server is 15:
 *   not older, 412); no valid parameter the fuzz sets needs a restart, so restart_pending never
 *   matches either;
 * - POST /reinitialize goes to the primary (409: it cannot rebuild itself), or names no member;
 * - maintenance is never asked for the primary (it would switch over first);
 * - Raft membership: no new node is added (it would wait 30 s for a node that does not exist),
 *   no member is removed, the leadership is only "transferred" to the leader it has.
 * Everything else valid is carried out: config edits within safe values (timings that keep the
 * rule, reload-only parameters, pause), maintenance of replicas, reloads, restarts and
 * switchovers scheduled in 2099. The end of the run undoes what stays (rest_fuzz.ts).
 */
import fc from "fast-check";

export type Method = "POST" | "PATCH" | "PUT" | "DELETE";
export type Auth = "right" | "none" | "wrong";

export type Route =
  | "PATCH /config" | "PUT /config" | "POST /switchover" | "POST /failover" | "DELETE /switchover"
  | "POST /restart" | "DELETE /restart" | "POST /reload" | "POST /reinitialize"
  | "POST /members/:name/maintenance" | "DELETE /members/:name/maintenance"
  | "POST /raft/members" | "DELETE /raft/members/:name" | "POST /raft/transfer";

/** What the generator draws: the body as text, or as a value to serialize (and make safe). */
export interface RawRequest {
  readonly route: Route;
  readonly node: number;
  readonly auth: Auth;
  readonly body: { readonly text: string } | { readonly value: unknown } | null;
  readonly pathName: string;
  readonly contentType: string | null;
  readonly ifMatch: string | null;
}

/** A request ready to send. */
export interface FuzzRequest {
  readonly node: string;
  readonly method: Method;
  readonly path: string;
  readonly auth: Auth;
  readonly body: string | null;
  readonly headers: Readonly<Record<string, string>>;
}

/** Who is who, read from the cluster every few requests. */
export interface Topology {
  readonly names: readonly string[];
  /** The lease holder, or null when unknown. */
  readonly primary: string | null;
  readonly raftLeader: string | null;
}

const odd = fc.constantFrom<unknown>(null, true, 7, -1, 1.5, "", [], {}, ["x"], { a: 1 }, "x\u0000y", "line\nbreak", "\u007f", "ü".repeat(3));

function pool(values: readonly unknown[]): fc.Arbitrary<unknown> {
  return fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...values) }, { weight: 1, arbitrary: odd });
}

function memberNames(names: readonly string[]): fc.Arbitrary<unknown> {
  return pool([...names, ...names, "nosuch", "PG1", "pg 1", "a".repeat(64), "-x", "pg1\n"]);
}

const FAR_FUTURE = ["2099-01-01T00:00:00Z", "2099-06-01T12:00:00+02:00"];
const SCHEDULES = [...FAR_FUTURE, "2020-01-01T00:00:00Z", "next tuesday", "2099-01-01T10:00:00", "2099-13-45T99:99:99Z", 123];
const BOOLS = [true, false, "yes", "no", "maybe", 1, 0, 2, "on", "TRUE"];

/** An object of some of `fields` (with their pools) and maybe a key nobody knows. */
function objectOf(fields: Readonly<Record<string, fc.Arbitrary<unknown>>>): fc.Arbitrary<Record<string, unknown>> {
  const unknown = fc.constantFrom("loop_wiat", "foo", "Candidate", "ttl ", "x".repeat(300), "");
  const extra = fc.oneof({ weight: 5, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.tuple(unknown, odd) });
  return fc.tuple(fc.record(fields, { requiredKeys: [] }), extra).map(([record, key]) => (key === null ? record : { ...record, [key[0]]: key[1] }));
}

const PARAMETERS = fc.dictionary(
  fc.constantFrom("work_mem", "maintenance_work_mem", "log_min_duration_statement", "log_connections", "no_such_param", "max_connections", "shared_buffers", "listen_addresses", "bad name!", "search_path", "WORK_MEM", "auto_explain.log_min_duration"),
  pool(["4MB", "8MB", "64kB", -1, 1000, "1s", true, "on", "lots", 0, "x", "*", "a\nb", { v: 1 }, null]),
  { maxKeys: 4 },
);

function configFields(): Record<string, fc.Arbitrary<unknown>> {
  return {
    ttl: pool([5, 8, 10, "x", 0, -1, 1, 3601, 1e308, "5"]),
    loop_wait: pool([1, 0.5, "x", 0, 601, -1]),
    retry_timeout: pool([1, 2, 0, "2", 1801]),
    maximum_lag_on_failover: pool([1048576, 0, -1, 1.5, "1MB", 2 ** 60]),
    primary_start_timeout: pool([300, 0, -5, 86401, "x"]),
    synchronous_mode: pool([false, "off", "sometimes", 2]),
    synchronous_mode_strict: pool([false, "yes", 1]),
    synchronous_node_count: pool([1, 0, -1, "2", 1.5]),
    check_timeline: pool([true, false, "yes"]),
    max_timelines_history: pool([0, 10, -1, 1.5]),
    member_slots_ttl: pool([1800, "30min", -1, "x"]),
    standby_cluster: pool([null, { host: "10.9.9.9", port: 5432 }, { host: "bad host!" }, "x", { port: 70000 }, { nope: 1 }]),
    slots: pool([{ fz_slot: { type: "physical" } }, { bad: { type: "x" } }, { RG_bad: { type: "physical" } }, "x", null, { rg_x: { type: "physical" } }]),
    ignore_slots: pool([[{ name: "foo" }], "x", [{ type: "nope" }]]),
    postgresql: fc.oneof({ weight: 4, arbitrary: objectOf({ parameters: fc.oneof(PARAMETERS, odd), use_pg_rewind: pool(BOOLS), pg_hba: pool([["host all all 127.0.0.1/32 md5"], "x", [1]]) }) }, { weight: 1, arbitrary: odd }),
    pause: pool([true, false, null, "yes"]),
  };
}

/** Config changes that must be accepted and keep the cluster running: the timing rule kept, reload-only parameters. */
const VALID_CONFIG = fc.record({
  ttl: fc.constantFrom(5, 8, 10),
  loop_wait: fc.constantFrom(0.5, 1),
  retry_timeout: fc.constantFrom(1, 2),
  maximum_lag_on_failover: fc.constantFrom(1048576, 16 * 1048576),
  check_timeline: fc.boolean(),
  pause: fc.constantFrom(true, false, null),
  slots: fc.constantFrom({ fz_slot: { type: "physical" } }, null),
  postgresql: fc.record({ parameters: fc.record({ work_mem: fc.constantFrom("4MB", "8MB", null), log_min_duration_statement: fc.constantFrom(-1, 1000, "1s"), log_connections: fc.constantFrom(true, "off") }, { requiredKeys: [] }) }),
}, { requiredKeys: [] });

function routeBody(route: Route, names: readonly string[]): fc.Arbitrary<unknown> {
  const member = memberNames(names);
  switch (route) {
    case "PATCH /config":
    case "PUT /config":
      return fc.oneof(objectOf(configFields()), VALID_CONFIG);
    case "POST /switchover":
    case "POST /failover":
      return objectOf({ leader: member, candidate: member, member, scheduled_at: pool(SCHEDULES), allow_data_loss: pool(BOOLS) });
    case "POST /restart":
      return objectOf({ schedule: pool(SCHEDULES), role: pool(["primary", "replica", "standby_leader", "leader"]), postgres_version: pool(["9.6", "10", "15.0", 15, "fifteen", "1".repeat(30), "9.6.3.1"]), timeout: pool(["30s", 30, -1, 0, "5min", 1e300, "x", 86401]), restart_pending: pool(BOOLS) });
    case "POST /reinitialize":
      return objectOf({ force: pool(BOOLS), from_leader: pool(BOOLS), "from-leader": pool(BOOLS), from: member });
    case "POST /members/:name/maintenance":
      return objectOf({ candidate: member });
    case "POST /raft/members":
      return objectOf({ name: member, address: pool(["127.0.0.1:7009", "127.0.0.1", "h:70000", "[::1]:7001", `${"x".repeat(300)}:1`]), role: pool(["voter", "learner", "observer"]) });
    case "POST /raft/transfer":
      return objectOf({ to: member });
    default:
      return fc.constantFrom<unknown>({}, { x: 1 }, { force: true });
  }
}

/** Bodies no route should ever accept: not JSON, not an object, deep, huge, poisonous. */
const hostileText: fc.Arbitrary<string> = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: "binary", maxLength: 20 }),
  fc.constantFrom("{", "}", "[]", "null", "1", '"x"', '{"a":}', "tru", "{'a':1}", "\u0000", '{"__proto__":{"ttl":1}}', '{"constructor":{"prototype":{}}}', '{"a":1,"a":2}', "\ufeff{}"),
  fc.constantFrom(17, 100, 4000, 5000, 200_000).map((depth) => `${'{"a":'.repeat(depth)}1${"}".repeat(depth)}`),
  fc.constantFrom(17, 300_000).map((depth) => `${"[".repeat(depth)}${"]".repeat(depth)}`),
  fc.constantFrom(9000, 300_000).map((chars) => JSON.stringify({ ttl: "x".repeat(chars) })),
  fc.constant(JSON.stringify({ x: "y".repeat(1_100_000) })),
  fc.constant(JSON.stringify({ many: Array.from({ length: 5000 }, (_, i) => i) })),
  fc.constant(JSON.stringify(Object.fromEntries(Array.from({ length: 3000 }, (_, i) => [`k${i}`, i])))),
);

const ROUTES: readonly Route[] = [
  "PATCH /config", "PATCH /config", "PATCH /config", "PUT /config", "POST /switchover", "POST /failover", "DELETE /switchover",
  "POST /restart", "DELETE /restart", "POST /reload", "POST /reinitialize", "POST /members/:name/maintenance",
  "DELETE /members/:name/maintenance", "POST /raft/members", "DELETE /raft/members/:name", "POST /raft/transfer",
];

export function requestArbitrary(names: readonly string[]): fc.Arbitrary<RawRequest> {
  return fc.constantFrom(...ROUTES).chain((route) => fc.record({
    route: fc.constant(route),
    node: fc.nat({ max: names.length - 1 }),
    auth: fc.constantFrom<Auth>("right", "right", "right", "right", "right", "right", "right", "right", "none", "wrong"),
    body: fc.oneof(
      { weight: 6, arbitrary: routeBody(route, names).map((value) => ({ value })) },
      { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }).map((value) => ({ value: value as unknown })) },
      { weight: 2, arbitrary: hostileText.map((text) => ({ text })) },
      { weight: 1, arbitrary: fc.constant(null) },
    ),
    pathName: fc.oneof({ weight: 5, arbitrary: fc.constantFrom(...names) }, { weight: 1, arbitrary: fc.constantFrom("nosuch", "pg%201", "%zz", "a".repeat(200), "..", "pg1%00") }),
    contentType: fc.oneof(
      { weight: 12, arbitrary: fc.constantFrom<string | null>("application/json", "application/json", "application/json", null, "text/plain", "application/json; charset=utf-8") },
      { weight: 1, arbitrary: fc.constantFrom<string | null>("???", "multipart/form-data", "a/b; c") },
    ),
    ifMatch: fc.option(fc.constantFrom('"0"', '"1"', "*", "W/\"3\"", "yesterday", '"99999999999999999999"'), { freq: 5 }),
  }));
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;

/** The body as an object the server would read, when it would read one (else null: refused anyway). */
function asObject(body: RawRequest["body"]): Record<string, unknown> | null {
  if (body === null) return {};
  let value: unknown;
  if ("value" in body) value = body.value;
  else if (body.text.trim() === "") return {};
  else {
    try {
      value = JSON.parse(body.text);
    } catch {
      return null;
    }
  }
  return typeof value === "object" && value !== null && !Array.isArray(value) ? { ...(value as Record<string, unknown>) } : null;
}

/** Rewrites what could be carried out and would harm the cluster (see the header); null: unchanged. */
function safeBody(raw: RawRequest, topology: Topology, body: Record<string, unknown>): Record<string, unknown> | null {
  const { names, primary, raftLeader } = topology;
  const replicas = names.filter((n) => n !== primary);
  const isMember = (v: unknown): v is string => typeof v === "string" && names.includes(v);
  switch (raw.route) {
    case "POST /switchover":
    case "POST /failover": {
      const scheduled = typeof body["scheduled_at"] === "string" && FAR_FUTURE.includes(body["scheduled_at"]) && raw.route === "POST /switchover";
      const candidate = body["candidate"] === undefined ? body["member"] : body["candidate"];
      const leader = body["leader"];
      const leaderIsPrimary = isMember(leader) && (primary === null || leader === primary);
      const bareFailover = raw.route === "POST /failover" && (leader === undefined || leader === null || leader === "") && isMember(candidate);
      if ((leaderIsPrimary && !scheduled) || bareFailover) {
        body["leader"] = primary === null ? "nosuch" : (replicas.find((n) => n !== candidate) ?? "nosuch");
      }
      return body;
    }
    case "POST /restart":
      if (body["schedule"] === undefined) body["postgres_version"] = "9.6";
      return body;
    case "POST /reinitialize":
      if (primary === null) body["from"] = "nosuch";
      return body;
    case "POST /raft/members":
      if (typeof body["name"] === "string" && NAME.test(body["name"]) && !names.includes(body["name"])) body["name"] = names[0];
      return body;
    case "POST /raft/transfer":
      if (isMember(body["to"]) && body["to"] !== raftLeader) body["to"] = raftLeader ?? "nosuch";
      return body;
    default:
      return null;
  }
}

function pathFor(raw: RawRequest, topology: Topology): string {
  const name = raw.pathName;
  switch (raw.route) {
    case "POST /members/:name/maintenance": {
      const taken = topology.names.includes(name) && (topology.primary === null || name === topology.primary);
      return `/members/${taken ? "nosuch" : name}/maintenance`;
    }
    case "DELETE /members/:name/maintenance":
      return `/members/${name}/maintenance`;
    case "DELETE /raft/members/:name":
      return `/raft/members/${topology.names.includes(name) ? "nosuch" : name}`;
    default:
      return raw.route.slice(raw.route.indexOf(" ") + 1);
  }
}

/** JSON text, or null for a value too deep to serialize (its text is refused by the server anyway). */
function serialized(value: unknown): string | null {
  try {
    return JSON.stringify(value);
  } catch {
    return null;
  }
}

/** The request to send: made safe (see the header), serialized, with its headers. */
export function makeSafe(raw: RawRequest, topology: Topology, credentials: { readonly username: string; readonly password: string }): FuzzRequest {
  const method = raw.route.slice(0, raw.route.indexOf(" ")) as Method;
  const target = raw.route === "POST /reinitialize" && topology.primary !== null ? topology.primary : topology.names[raw.node]!;
  const object = raw.auth === "right" ? asObject(raw.body) : null;
  const safe = object === null ? null : safeBody(raw, topology, object);
  const body = (safe === null ? null : serialized(safe)) ?? (raw.body === null ? null : "text" in raw.body ? raw.body.text : JSON.stringify(raw.body.value));
  const headers: Record<string, string> = {};
  if (raw.contentType !== null && body !== null) headers["content-type"] = raw.contentType;
  if (raw.ifMatch !== null && raw.route.endsWith("/config")) headers["if-match"] = raw.ifMatch;
  if (raw.auth !== "none") {
    const password = raw.auth === "right" ? credentials.password : `${credentials.password}-wrong`;
    headers["authorization"] = `Basic ${Buffer.from(`${credentials.username}:${password}`).toString("base64")}`;
  }
  return { node: target, method, path: pathFor(raw, topology), auth: raw.auth, body, headers };
}
