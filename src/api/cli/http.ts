/**
 * The CLI's HTTP client of the REST API: Basic auth, TLS (a CA file, or no verification with
 * --insecure), a timeout on every request, and fail-over across the URLs it was given: a
 * request goes to the first node that answers at all (any HTTP status counts as an answer).
 * node:http is used rather than fetch because fetch cannot take a CA or skip verification per call.
 */
import { request as httpRequest, type IncomingHttpHeaders } from "node:http";
import { request as httpsRequest } from "node:https";
import { CliExit, EXIT } from "./exit.js";

/** Reads (GET) answer within this; a node that needs longer is treated as down. */
export const READ_TIMEOUT_MS = 5_000;
/**
 * Switchover, failover and restart wait on the server for the outcome: Patroni's API polls up to
 * 2 × max(10, loop_wait) s, so the client gives it a minute and then some.
 */
export const ACTION_TIMEOUT_MS = 75_000;
/** Answers larger than this are cut off: no endpoint the CLI reads is anywhere near it. */
export const ANSWER_BYTES_MAX = 8 * 1024 * 1024;

export interface Credentials {
  readonly username: string;
  readonly password: string;
}

export interface Connection {
  /** Base URLs (scheme, host, port), tried in order. */
  readonly urls: readonly string[];
  readonly auth: Credentials | null;
  /** Skip TLS certificate verification (ctl.insecure, -k). */
  readonly insecure: boolean;
  /** A PEM CA bundle to verify the server's certificate with. */
  readonly caCert: string | null;
}

export interface Answer {
  readonly url: string;
  readonly status: number;
  readonly text: string;
  /** The body parsed as JSON, or undefined when it is not JSON. */
  readonly json: unknown;
  readonly headers: IncomingHttpHeaders;
}

export type SendResult = { readonly kind: "answered"; readonly answer: Answer } | { readonly kind: "unreachable"; readonly url: string; readonly error: string };

export type Method = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";

export interface RequestOptions {
  readonly body?: unknown;
  readonly timeoutMs?: number;
  readonly headers?: Readonly<Record<string, string>>;
}

export class ApiClient {
  constructor(readonly connection: Connection) {}

  /** Sends to the first URL that answers; none answering ends the command with exit code 3. */
  async call(method: Method, path: string, options: RequestOptions = {}): Promise<Answer> {
    const tried: string[] = [];
    for (const url of this.connection.urls) {
      const result = await this.send(url, method, path, options);
      if (result.kind === "answered") return result.answer;
      tried.push(`${result.url} (${result.error})`);
    }
    throw unreachable(tried);
  }

  /** Sends to one node (a member's api_url); the caller decides what an unreachable node means. */
  async send(baseUrl: string, method: Method, path: string, options: RequestOptions = {}): Promise<SendResult> {
    const url = new URL(path, baseUrl.endsWith("/") ? baseUrl : `${baseUrl}/`);
    const body = options.body === undefined ? undefined : JSON.stringify(options.body);
    const headers: Record<string, string> = { accept: "application/json", ...options.headers };
    if (body !== undefined) {
      headers["content-type"] = "application/json";
      headers["content-length"] = String(Buffer.byteLength(body));
    }
    const auth = this.connection.auth;
    if (auth !== null) headers["authorization"] = `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString("base64")}`;
    const timeoutMs = options.timeoutMs ?? READ_TIMEOUT_MS;
    try {
      const answer = await exchange(url, method, headers, body, timeoutMs, this.connection);
      return { kind: "answered", answer };
    } catch (error: unknown) {
      return { kind: "unreachable", url: url.origin, error: describeNetworkError(error, timeoutMs) };
    }
  }
}

export function unreachable(tried: readonly string[]): CliExit {
  return new CliExit(EXIT.unreachable, [
    `cannot reach any node of the cluster; tried:`,
    ...tried.map((t) => `  ${t}`),
    "Check that the agents run and that restapi.listen (or restapi.connect_address) in node.yml",
    "is reachable from here, or name a node with --url http://host:port (or RAFTGRES_URL).",
  ].join("\n"));
}

function exchange(url: URL, method: Method, headers: Record<string, string>, body: string | undefined, timeoutMs: number, connection: Connection): Promise<Answer> {
  const send = url.protocol === "https:" ? httpsRequest : httpRequest;
  const tls = url.protocol === "https:" ? { rejectUnauthorized: !connection.insecure, ...(connection.caCert === null ? {} : { ca: connection.caCert }) } : {};
  return new Promise<Answer>((resolve, reject) => {
    // agent: false: no keep-alive socket holds the process open after the command.
    const req = send(url, { method, headers, agent: false, signal: AbortSignal.timeout(timeoutMs), ...tls }, (res) => {
      const chunks: Buffer[] = [];
      let bytes = 0;
      res.on("data", (chunk: Buffer) => {
        bytes += chunk.length;
        if (bytes <= ANSWER_BYTES_MAX) chunks.push(chunk);
      });
      res.on("error", reject);
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        resolve({ url: url.origin, status: res.statusCode ?? 0, text, json: parseJson(text), headers: res.headers });
      });
    });
    req.on("error", reject);
    req.end(body);
  });
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function describeNetworkError(error: unknown, timeoutMs: number): string {
  if (error instanceof Error && (error.name === "AbortError" || error.name === "TimeoutError")) return `no answer within ${timeoutMs} ms`;
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return typeof code === "string" && !error.message.includes(code) ? `${code}: ${error.message}` : error.message;
  }
  return String(error);
}
