/**
 * What every command gets: the process's streams and environment (replaceable, so tests run the
 * CLI in-process), the API client built from the global options, and the prompter.
 */
import type { Readable, Writable } from "node:stream";
import { isJsonObject } from "../../dcs/json.js";
import { readCluster, type ClusterView, expectSuccess } from "./answers.js";
import { type ConnectionFlags, type Env, nodeFileString, type ReadFile, resolveConnection } from "./config.js";
import { ApiClient } from "./http.js";
import { Prompter } from "./prompt.js";

export interface CliIo {
  readonly stdout: Writable;
  readonly stderr: Writable;
  readonly stdin: Readable;
  readonly env: Env;
  readonly readFile: ReadFile;
  /** Waits between polls (--watch, --wait). */
  readonly sleep: (ms: number) => Promise<void>;
  /** Runs the editor on a file and waits for it (edit-config); returns its exit status. */
  readonly edit: (editor: string, path: string) => number;
  /** Runs one statement on a member's PostgreSQL (query); absent where no client is wired in. */
  readonly query?: QueryPort;
}

export interface QueryTarget {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string | undefined;
  readonly database: string;
}

/** Rows as text; throws an Error with PostgreSQL's message on failure (src/pg/adhoc_query.ts). */
export type QueryPort = (target: QueryTarget, statement: string) => Promise<{ readonly columns: readonly string[]; readonly rows: readonly (readonly (string | null)[])[] }>;

export class CliContext {
  readonly prompt: Prompter;
  private flags: ConnectionFlags = {};
  private client: ApiClient | null = null;

  constructor(readonly io: CliIo) {
    this.prompt = new Prompter(io.stdin, io.stdout);
  }

  setFlags(flags: ConnectionFlags): void {
    this.flags = flags;
    this.client = null;
  }

  /** Built on first use, so `--help` and usage errors need no node to talk to. */
  get api(): ApiClient {
    this.client ??= new ApiClient(resolveConnection(this.flags, this.io.env, this.io.readFile));
    return this.client;
  }

  /** A string setting of -c node.yml (query's default user), or null. */
  nodeFileString(path: readonly string[]): string | null {
    return nodeFileString(this.flags, this.io.env, this.io.readFile, path);
  }

  out(text: string): void {
    this.io.stdout.write(`${text}\n`);
  }

  async cluster(): Promise<ClusterView> {
    return readCluster(expectSuccess(await this.api.call("GET", "/cluster"), "GET /cluster").json);
  }

  /** GET /patroni of the first node that answers (system id, versions, Raft status). */
  async nodeStatus(): Promise<Record<string, unknown>> {
    const body = expectSuccess(await this.api.call("GET", "/patroni"), "GET /patroni").json;
    return isJsonObject(body) ? body : {};
  }
}

/** patronictl prefixes action results with the local time: "2024-05-01 10:00:00.123456+00:00". */
export function timestamp(now: Date = new Date()): string {
  return now.toISOString().replace("T", " ").replace("Z", "+00:00");
}
