/**
 * The clients of a run, each recording into the History:
 * - the writers of writers.ts (shared with the failover benchmark): unique ids through a libpq
 *   multi-host DSN with target_session_attrs=read-write (one psql per attempt), and one writer
 *   straight to each node, so a node that accepts writes when it should not shows up;
 * - DcsWorkload: config compare-and-set (PATCH /config with If-Match) and consistent reads
 *   (GET /config?consistent=true) through the REST API of random nodes, for the linearizability
 *   checker. Every config version carries a unique token, so a version is a register value.
 */
import type { Prng } from "../../src/lib/prng.js";
import type { History } from "../../lab/jepsen/history.js";
import { Loop, type WriteSink } from "../../lab/jepsen/writers.js";

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** The History as the writers' sink: each write becomes a "write" event. */
export function historySink(history: History): WriteSink {
  return {
    now: () => history.now(),
    add: (w) => history.add({ type: "write", ...w, lsn: w.lsn === null ? null : w.lsn.toString() }),
  };
}

/** The config token: `jepsen_token` in the dynamic config. */
export const TOKEN_KEY = "jepsen_token";

export class DcsWorkload extends Loop {
  private clientId: number;
  private counter = 0;

  constructor(private readonly history: History, private readonly apis: ReadonlyMap<string, string>, private readonly prng: Prng, firstClientId: number, private readonly stride: number) {
    super();
    this.clientId = firstClientId;
  }

  protected async step(): Promise<void> {
    const nodes = [...this.apis.keys()];
    const node = nodes[this.prng.int(0, nodes.length)]!;
    const base = this.apis.get(node)!;
    const startMs = this.history.now();
    const read = await this.read(base);
    if (read === null) {
      this.history.add({ type: "dcs", client: this.clientId, op: "read", startMs, endMs: Infinity, node, expected: null, value: null, ok: null });
      this.clientId += this.stride;
      await sleep(200);
      return;
    }
    this.history.add({ type: "dcs", client: this.clientId, op: "read", startMs, endMs: this.history.now(), node, expected: read.token, value: null, ok: true });
    if (this.prng.chance(0.5)) {
      await sleep(100);
      return;
    }
    const value = `c${this.clientId}-${this.counter++}`;
    const casStart = this.history.now();
    const outcome = await this.cas(base, read.version, value);
    const endMs = outcome === null ? Infinity : this.history.now();
    this.history.add({ type: "dcs", client: this.clientId, op: "cas", startMs: casStart, endMs, node, expected: read.token, value, ok: outcome });
    if (outcome === null) this.clientId += this.stride;
    await sleep(100);
  }

  private async read(base: string): Promise<{ version: string; token: string | null } | null> {
    try {
      const response = await fetch(`${base}/config?consistent=true`, { signal: AbortSignal.timeout(3000) });
      if (response.status !== 200) return null;
      const body = (await response.json()) as Record<string, unknown>;
      const token = body[TOKEN_KEY];
      return { version: (response.headers.get("etag") ?? "").replace(/"/g, ""), token: typeof token === "string" ? token : null };
    } catch {
      return null;
    }
  }

  /** true: applied; false: refused (another change came first); null: unknown. */
  private async cas(base: string, version: string, value: string): Promise<boolean | null> {
    try {
      const response = await fetch(`${base}/config`, { method: "PATCH", headers: { "content-type": "application/json", "if-match": `"${version}"` }, body: JSON.stringify({ [TOKEN_KEY]: value }), signal: AbortSignal.timeout(3000) });
      if (response.status === 200) return true;
      if (response.status === 409 || response.status === 412) return false;
      return null;
    } catch {
      return null;
    }
  }
}
