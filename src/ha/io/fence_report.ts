/**
 * The signed "fenced" report: after the watchdog killed a primary's PostgreSQL (and confirmed the
 * process group is gone), it tells the other members' agents, so one of them can release the lease
 * in the cluster state early instead of waiting for its ttl (the "fence" rule of
 * src/dcs/decide_lease.ts checks the generation; the receiving agent checks the signature).
 *
 * One definition for both sides: the watchdog process encodes and sends, the agent's HTTP API
 * verifies. The body is JSON; `x-raftgres-signature` carries the hex HMAC-SHA256 of the exact
 * body bytes under the cluster's shared secret.
 */
import * as E from "fp-ts/lib/Either.js";
import { assert } from "../../lib/assert.js";
import type { Logger } from "../../lib/logger.js";
import { isValidName, type MemberName, type Scope } from "../../dcs/model.js";

/**
 * crypto, http and https are loaded when a report is signed, verified or sent, not when this
 * module is: the watchdog process imports it and must stay small while it waits (≈ 5 MB of RSS
 * for the three; issue 13). Built-in modules load synchronously from the node binary.
 */
const crypto = (): typeof import("node:crypto") => process.getBuiltinModule("node:crypto");
const requestFor = (url: URL): typeof import("node:http").request =>
  url.protocol === "https:" ? process.getBuiltinModule("node:https").request : process.getBuiltinModule("node:http").request;

export const FENCE_SIGNATURE_HEADER = "x-raftgres-signature";
export const FENCE_REPORT_PATH = "/internal/fenced";
/** A report is about 200 bytes; anything much larger is not one of ours. */
export const FENCE_REPORT_BYTES_MAX = 4_096;
/** One HTTP attempt to one target. */
export const REPORT_ATTEMPT_TIMEOUT_MS = 500;
/** The pause between two attempts to the same target. */
export const REPORT_RETRY_DELAY_MS = 250;
/** Attempts per target; with the timeout and the pause, at most ~3 s per target. */
export const REPORT_ATTEMPTS_MAX = 4;
export const REPORT_TARGETS_MAX = 16;
export const REPORT_TARGET_LENGTH_MAX = 2_048;

assert(
  REPORT_ATTEMPTS_MAX * REPORT_ATTEMPT_TIMEOUT_MS + (REPORT_ATTEMPTS_MAX - 1) * REPORT_RETRY_DELAY_MS <= 3_000,
  "the attempts to one report target fit in 3 s",
);

/** What the agent arms the watchdog with: whose lease the fenced PostgreSQL served. */
export interface FenceReport {
  readonly scope: Scope;
  readonly member: MemberName;
  /** The lease generation (fencing token) the member held when it armed. */
  readonly generation: number;
}

export const FENCE_REASONS = ["deadline", "agent exited"] as const;
export type FenceReason = (typeof FENCE_REASONS)[number];

export interface FenceExtra {
  readonly processGroup: number;
  /** Wall clock, for logs only: the decisions use the lease generation, never this time. */
  readonly firedAtMs: number;
  readonly reason: FenceReason;
}

export type FencedReport = FenceReport & FenceExtra;

export function checkFenceReport(report: FenceReport): E.Either<string, FenceReport> {
  const { scope, member, generation } = report;
  if (typeof scope !== "string" || !isValidName(scope)) {
    return E.left(`"scope" ${JSON.stringify(scope)} is not a valid scope name`);
  }
  if (typeof member !== "string" || !isValidName(member)) {
    return E.left(`"member" ${JSON.stringify(member)} is not a valid member name`);
  }
  if (!Number.isSafeInteger(generation) || generation < 1) {
    return E.left(`"generation" must be a positive integer, got ${JSON.stringify(generation)}`);
  }
  return E.right(report);
}

function sign(body: string, secret: string): string {
  return crypto().createHmac("sha256", secret).update(body, "utf8").digest("hex");
}

export function encodeFenceReport(report: FenceReport, extra: FenceExtra, secret: string): { body: string; signature: string } {
  assert(E.isRight(checkFenceReport(report)), () => `invalid fence report: ${JSON.stringify(report)}`);
  assert(Number.isSafeInteger(extra.processGroup) && extra.processGroup > 1, `invalid process group ${extra.processGroup}`);
  assert(FENCE_REASONS.includes(extra.reason), `invalid fence reason ${extra.reason}`);
  assert(secret.length > 0, "the shared secret is empty");
  // Fixed key order: the signature covers these exact bytes.
  const body = JSON.stringify({
    scope: report.scope,
    member: report.member,
    generation: report.generation,
    processGroup: extra.processGroup,
    firedAtMs: Math.trunc(extra.firedAtMs),
    reason: extra.reason,
  });
  assert(Buffer.byteLength(body) <= FENCE_REPORT_BYTES_MAX, "a fence report fits its maximum size");
  return { body, signature: sign(body, secret) };
}

const REPORT_KEYS = ["scope", "member", "generation", "processGroup", "firedAtMs", "reason"];

/**
 * Checks a received report: the signature first (nothing unauthenticated is parsed), in constant
 * time, then the JSON and every field. Left is the reason for refusing it, for the answer and log.
 */
export function verifyFenceReport(body: string, signature: string, secret: string): E.Either<string, FencedReport> {
  assert(secret.length > 0, "the shared secret is empty");
  const bytes = Buffer.byteLength(body);
  if (bytes > FENCE_REPORT_BYTES_MAX) return E.left(`the body has ${bytes} bytes, more than ${FENCE_REPORT_BYTES_MAX}`);
  if (!/^[0-9a-f]{64}$/i.test(signature)) return E.left(`the ${FENCE_SIGNATURE_HEADER} header must be 64 hex digits (HMAC-SHA256)`);
  const expected = Buffer.from(sign(body, secret), "hex");
  if (!crypto().timingSafeEqual(expected, Buffer.from(signature, "hex"))) {
    return E.left("the signature does not match the body (another secret, or the body was altered)");
  }
  let raw: unknown;
  try {
    raw = JSON.parse(body);
  } catch (error: unknown) {
    return E.left(`the body is not valid JSON (${error instanceof Error ? error.message : String(error)})`);
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) return E.left("the body must be a JSON object");
  const fields = raw as Record<string, unknown>;
  for (const key of Object.keys(fields)) {
    if (!REPORT_KEYS.includes(key)) return E.left(`unknown key "${key}" (known: ${REPORT_KEYS.join(", ")})`);
  }
  for (const key of REPORT_KEYS) if (!(key in fields)) return E.left(`the key "${key}" is missing`);
  const checked = checkFenceReport(fields as unknown as FenceReport);
  if (E.isLeft(checked)) return checked;
  const { processGroup, firedAtMs, reason } = fields;
  if (typeof processGroup !== "number" || !Number.isSafeInteger(processGroup) || processGroup <= 1) {
    return E.left(`"processGroup" must be an integer above 1, got ${JSON.stringify(processGroup)}`);
  }
  if (typeof firedAtMs !== "number" || !Number.isSafeInteger(firedAtMs) || firedAtMs < 0) {
    return E.left(`"firedAtMs" must be a non-negative integer, got ${JSON.stringify(firedAtMs)}`);
  }
  if (!FENCE_REASONS.includes(reason as FenceReason)) {
    const known = FENCE_REASONS.map((r) => JSON.stringify(r)).join(", ");
    return E.left(`"reason" must be one of ${known}, got ${JSON.stringify(reason)}`);
  }
  return E.right(fields as unknown as FencedReport);
}

/** Report targets are the base URLs of the other members' agent APIs ("http://host:port"). */
export function checkReportTargets(urls: readonly unknown[]): E.Either<string, readonly string[]> {
  if (urls.length > REPORT_TARGETS_MAX) return E.left(`${urls.length} report targets, more than ${REPORT_TARGETS_MAX}`);
  const out: string[] = [];
  for (const url of urls) {
    if (typeof url !== "string" || url.length > REPORT_TARGET_LENGTH_MAX) {
      return E.left(`a report target must be a URL of at most ${REPORT_TARGET_LENGTH_MAX} characters`);
    }
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      return E.left(`report target ${JSON.stringify(url)} is not a URL`);
    }
    const what = `report target ${JSON.stringify(url)}`;
    if (parsed.protocol !== "http:" && parsed.protocol !== "https:") return E.left(`${what} must be http: or https:`);
    if (parsed.search !== "" || parsed.hash !== "") return E.left(`${what} must have no query or fragment`);
    out.push(url.replace(/\/+$/, ""));
  }
  return E.right(out);
}

export interface ReportOutcome {
  readonly target: string;
  readonly ok: boolean;
  readonly attempts: number;
  /** The HTTP status or the network error of the last attempt. */
  readonly detail: string;
}

/** One POST; resolves with the status code, or a string describing the failure. */
function postOnce(url: URL, body: string, signature: string): Promise<number | string> {
  const request = requestFor(url);
  return new Promise((resolve) => {
    const req = request(url, {
      method: "POST",
      timeout: REPORT_ATTEMPT_TIMEOUT_MS,
      headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body), [FENCE_SIGNATURE_HEADER]: signature },
    }, (res) => {
      res.resume();
      resolve(res.statusCode ?? "no status");
    });
    req.on("timeout", () => req.destroy(new Error(`no answer in ${REPORT_ATTEMPT_TIMEOUT_MS} ms`)));
    req.on("error", (error) => resolve(error.message));
    req.end(body);
  });
}

/**
 * Sends the report to one target: retries network errors and 5xx answers; a 2xx is delivered, a
 * 4xx is a refusal that another attempt would not change (bad signature, stale generation).
 */
export async function sendFenceReport(target: string, body: string, signature: string, logger: Logger): Promise<ReportOutcome> {
  const url = new URL(`${target}${FENCE_REPORT_PATH}`);
  let detail = "not attempted";
  for (let attempt = 1; attempt <= REPORT_ATTEMPTS_MAX; attempt++) {
    const answer = await postOnce(url, body, signature);
    detail = typeof answer === "number" ? `HTTP ${answer}` : answer;
    if (typeof answer === "number" && answer >= 200 && answer < 300) return { target, ok: true, attempts: attempt, detail };
    if (typeof answer === "number" && answer >= 400 && answer < 500) return { target, ok: false, attempts: attempt, detail };
    const next = attempt < REPORT_ATTEMPTS_MAX ? "retrying" : "giving up";
    logger.warn({ target, attempt, detail }, `fence report to ${target} failed (${detail}); ${next}`);
    if (attempt < REPORT_ATTEMPTS_MAX) await new Promise((resolve) => setTimeout(resolve, REPORT_RETRY_DELAY_MS));
  }
  return { target, ok: false, attempts: REPORT_ATTEMPTS_MAX, detail };
}
