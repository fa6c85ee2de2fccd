/**
 * A client of HAProxy's runtime API: the `stats socket … level admin` of haproxy.cfg's global
 * section, over a unix socket or TCP. One command per connection, in the non-interactive mode
 * (HAProxy 2.6 management guide §9.3: "a single line may be sent … responses are sent back, and
 * the connection closes after the end of the response"), within a time limit and an answer size
 * limit. Commands are built here from names checked first, so no input can smuggle a second
 * command (`;`) or a second line into one.
 *
 * What HAProxy 2.6 answers, verified against Debian's haproxy 2.6.12: a command that changes
 * something answers an empty line on success and one line of text (then an empty line) when it
 * refuses: "No such backend.", "No such server.", "Permission denied" (a socket below level
 * admin), "Unknown command, …", or a sentence about the arguments.
 */
import { createConnection, type Socket } from "node:net";
import { isAbsolute } from "node:path";
import * as E from "fp-ts/lib/Either.js";

export type RuntimeEndpoint =
  | { readonly kind: "unix"; readonly path: string }
  | { readonly kind: "tcp"; readonly host: string; readonly port: number };

/** The longest answer read; `show servers state` of a few backends is far below it. */
export const RUNTIME_ANSWER_BYTES_MAX = 256 * 1024;
/** The longest command sent (a command is one short line). */
export const RUNTIME_COMMAND_CHARS_MAX = 512;
/** How long one command may take, from connecting to the close, unless the caller says less. */
export const RUNTIME_TIMEOUT_MS_MAX = 10_000;
/** HAProxy's proxy and server names: letters, digits, '-', '_', '.', ':' (configuration manual §2.4 "names"). */
const RUNTIME_NAME = /^[A-Za-z0-9_.:-]{1,100}$/;

export type RuntimeFailureCode =
  /** No socket file, connection refused, unreachable host, or the socket's permissions. */
  | "unreachable"
  | "timeout"
  | "answerTooLong"
  | "noSuchBackend"
  | "noSuchServer"
  /** The socket is not `level admin`. */
  | "permissionDenied"
  | "unknownCommand"
  /** Any other refusal; the message carries HAProxy's sentence. */
  | "refused";

export interface RuntimeFailure {
  readonly code: RuntimeFailureCode;
  readonly message: string;
}

/** A failure that a retry cannot fix: the configuration of HAProxy or of raftgres must change. */
export function isConfigurationFailure(code: RuntimeFailureCode): boolean {
  return code === "noSuchBackend" || code === "noSuchServer" || code === "permissionDenied" || code === "unknownCommand" || code === "refused";
}

/**
 * An admin socket as haproxy.cfg's `stats socket` names it: an absolute path (or `unix@/path`)
 * for a unix socket, `host:port` (or `ipv4@host:port`, `ipv6@[addr]:port`) for TCP.
 */
export function parseEndpoint(text: string): E.Either<string, RuntimeEndpoint> {
  const unix = text.startsWith("unix@") ? text.slice("unix@".length) : text.startsWith("/") ? text : null;
  if (unix !== null) {
    if (!isAbsolute(unix) || unix.length > 107) return E.left(`${JSON.stringify(text)} is not an absolute socket path of at most 107 characters`);
    return E.right({ kind: "unix", path: unix });
  }
  const address = text.replace(/^ipv[46]@/, "");
  const match = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9.-]+)):(\d{1,5})$/.exec(address);
  const port = Number(match?.[3]);
  if (match === null || port < 1 || port > 65535) {
    return E.left(`${JSON.stringify(text)} is neither an absolute unix socket path (/run/haproxy/admin.sock) nor host:port (127.0.0.1:9999)`);
  }
  return E.right({ kind: "tcp", host: match[1] ?? match[2]!, port });
}

export function endpointText(endpoint: RuntimeEndpoint): string {
  return endpoint.kind === "unix" ? endpoint.path : `${endpoint.host.includes(":") ? `[${endpoint.host}]` : endpoint.host}:${endpoint.port}`;
}

/** Null when `name` can be a backend or server name in a command; else why not. */
export function runtimeNameProblem(name: string): string | null {
  return RUNTIME_NAME.test(name) ? null : `${JSON.stringify(name)} is not an HAProxy name (1–100 of letters, digits, '-', '_', '.', ':')`;
}

/** The names are checked where they enter (the configuration); one that is not here is a bug. */
function checked(...names: string[]): void {
  for (const name of names) {
    const problem = runtimeNameProblem(name);
    if (problem !== null) throw new Error(`bug: an unchecked HAProxy name reached a command: ${problem}`);
  }
}

function target(backend: string, server: string): string {
  checked(backend, server);
  return `${backend}/${server}`;
}

/**
 * Forces the server's health check result (management guide: "Force a server's health to a new
 * state … regardless of some slow health checks"). The checks go on: `up` sets the check counter
 * to rise+fall-1, `down` to 0, so `fall` failed checks take a forced-up server down again and
 * `rise` good ones bring a forced-down server back — the checks still have the last word. (`state
 * maint` would stop the checks until someone sets `state ready`: a push that went wrong would
 * then stick, so it is not used.)
 */
export function setServerHealthCommand(backend: string, server: string, health: "up" | "down"): string {
  return `set server ${target(backend, server)} health ${health}`;
}

/** Closes every client session on the server (they then reconnect, to the server that is up). */
export function shutdownSessionsCommand(backend: string, server: string): string {
  return `shutdown sessions server ${target(backend, server)}`;
}

/** One line per server of `backend`: its operational state, check state … (tests read it). */
export function showServersStateCommand(backend: string): string {
  checked(backend);
  return `show servers state ${backend}`;
}

/**
 * What HAProxy answered to a command that changes something: success when it said nothing, else
 * the refusal, named. `query` commands (show …) answer data, which is returned as it is unless
 * it is one of the refusals.
 */
export function interpretAnswer(command: string, answer: string, query = false): E.Either<RuntimeFailure, string> {
  const text = answer.trim();
  const line = text.split("\n", 1)[0] ?? "";
  const refused = (code: RuntimeFailureCode, advice: string): E.Either<RuntimeFailure, string> =>
    E.left({ code, message: `HAProxy refused "${command}": ${line}${advice === "" ? "" : ` (${advice})`}` });
  if (text === "") return E.right("");
  if (line === "No such backend." || line === "Can't find backend.") return refused("noSuchBackend", "no such backend or listen section in haproxy.cfg: check haproxy.write_backend and haproxy.read_backend");
  if (line === "No such server." || line === "Can't find server.") return refused("noSuchServer", "the backend has no server of that name: haproxy.servers maps each member to its server's name in haproxy.cfg");
  if (line.startsWith("Permission denied")) return refused("permissionDenied", "give the stats socket `level admin` in haproxy.cfg");
  if (line.startsWith("Unknown command")) return refused("unknownCommand", "this HAProxy lacks the command; raftgres needs HAProxy 2.0 or later");
  if (query) return E.right(answer);
  return refused("refused", "");
}

export interface RuntimeOptions {
  readonly timeoutMs: number;
  readonly answerBytesMax?: number;
}

/**
 * Sends one command and reads the whole answer (HAProxy closes the connection after it). Never
 * rejects; resolves by `timeoutMs` at the latest.
 */
export function runtimeCommand(endpoint: RuntimeEndpoint, command: string, options: RuntimeOptions, query = false): Promise<E.Either<RuntimeFailure, string>> {
  if (command.length === 0 || command.length > RUNTIME_COMMAND_CHARS_MAX || !/^[\x20-\x7e]+$/.test(command)) {
    throw new Error(`bug: a runtime command must be one printable line of at most ${RUNTIME_COMMAND_CHARS_MAX} characters`);
  }
  if (!(options.timeoutMs > 0 && options.timeoutMs <= RUNTIME_TIMEOUT_MS_MAX)) throw new Error(`bug: timeoutMs must be in (0, ${RUNTIME_TIMEOUT_MS_MAX}]`);
  const answerBytesMax = Math.min(options.answerBytesMax ?? RUNTIME_ANSWER_BYTES_MAX, RUNTIME_ANSWER_BYTES_MAX);
  const where = endpointText(endpoint);
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let bytes = 0;
    let done = false;
    const socket: Socket = endpoint.kind === "unix" ? createConnection({ path: endpoint.path }) : createConnection({ host: endpoint.host, port: endpoint.port });
    const finish = (result: E.Either<RuntimeFailure, string>): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    };
    const timer = setTimeout(() => finish(E.left({ code: "timeout", message: `HAProxy at ${where} did not answer "${command}" within ${options.timeoutMs} ms` })), options.timeoutMs);
    socket.on("connect", () => socket.end(`${command}\n`));
    socket.on("data", (chunk: Buffer) => {
      bytes += chunk.length;
      if (bytes > answerBytesMax) return finish(E.left({ code: "answerTooLong", message: `HAProxy at ${where} answered "${command}" with more than ${answerBytesMax} bytes` }));
      chunks.push(chunk);
    });
    socket.on("end", () => {
      // HAProxy answers every command, at least with an empty line: nothing at all means the
      // connection was cut before (HAProxy stopping, a proxy in between), not success.
      if (bytes === 0) return finish(E.left({ code: "unreachable", message: `HAProxy at ${where} closed the connection without answering "${command}"` }));
      const answer = interpretAnswer(command, Buffer.concat(chunks).toString("utf8"), query);
      finish(E.isLeft(answer) ? E.left({ ...answer.left, message: `${where}: ${answer.left.message}` }) : answer);
    });
    socket.on("error", (error: NodeJS.ErrnoException) => finish(E.left({ code: "unreachable", message: unreachableMessage(endpoint, error) })));
  });
}

function unreachableMessage(endpoint: RuntimeEndpoint, error: NodeJS.ErrnoException): string {
  const where = endpointText(endpoint);
  switch (error.code) {
    case "ENOENT":
      return `no HAProxy admin socket at ${where}: is HAProxy running, with \`stats socket ${where} level admin\` in its global section?`;
    case "ECONNREFUSED":
      return `HAProxy's admin socket at ${where} refused the connection: is HAProxy running, with \`stats socket ${endpoint.kind === "unix" ? where : `ipv4@${where}`} level admin\`?`;
    case "EACCES":
      return `the agent may not open HAProxy's admin socket ${where}: give the socket a mode and group the agent's user has (stats socket … mode 660 group raftgres)`;
    default:
      return `HAProxy's admin socket at ${where} cannot be reached: ${error.message}`;
  }
}
