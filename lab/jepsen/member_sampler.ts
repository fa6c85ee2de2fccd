/**
 * Samples every member's PostgreSQL and health answers, round after round, into the History:
 * 1. each member's facts (history.ts MemberFacts) over a session of its own, kept open between
 *    rounds: one SQL query, then IDENTIFY_SYSTEM for the timeline (the session is a
 *    `replication=database` walsender, which answers both — PostgreSQL 15 has no SQL function for
 *    a standby's replay timeline);
 * 2. the round's primary by those facts (divergence.ts referencePrimary) and its
 *    `pg_wal/<timeline>.history` through pg_read_file (superuser), recorded once per primary and
 *    timeline;
 * 3. each member's HEAD /replica and HEAD /read-only;
 * 4. `SELECT 1` on each session that read facts: if it still answers, PostgreSQL was not
 *    restarted (so not rewound) between the facts and the answers, and the sample is stable.
 * The order is what makes a diverged verdict sound for the answers: divergence only ends with a
 * rewind. A round is bounded by the timeouts below; a session that fails or times out is
 * dropped and opened again next round.
 */
import pg from "pg";
import type { History, MemberFacts, MemberSample } from "./history.js";
import { type MemberState, parseTimelineHistory, referencePrimary } from "./divergence.js";
import type { NodeOf, Target } from "./writers.js";

/** Connecting, and each query, may take at most this long. */
const QUERY_TIMEOUT_MS = 1500;
const HEALTH_TIMEOUT_MS = 1000;

/** pg_is_in_recovery() once (a CTE), so the position read is the one that goes with it. */
const FACTS_SQL = `WITH r AS (SELECT pg_is_in_recovery() AS recovery)
SELECT r.recovery AS in_recovery,
  (CASE WHEN r.recovery THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END - '0/0'::pg_lsn)::text AS lsn,
  (pg_last_wal_receive_lsn() - '0/0'::pg_lsn)::text AS receive_lsn,
  (pg_control_checkpoint()).timeline_id AS checkpoint_timeline,
  (extract(epoch FROM pg_postmaster_start_time()) * 1000)::bigint::text AS started_ms,
  (SELECT json_build_object('status', status, 'host', sender_host, 'tli', received_tli) FROM pg_stat_wal_receiver) AS receiver,
  (SELECT coalesce(json_agg(application_name ORDER BY application_name), '[]'::json) FROM pg_stat_replication WHERE state = 'streaming') AS streaming
FROM r`;

interface FactsRow {
  in_recovery: boolean;
  lsn: string | null;
  receive_lsn: string | null;
  checkpoint_timeline: number;
  started_ms: string;
  receiver: { status: string; host: string | null; tli: number | null } | null;
  streaming: string[];
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** One member's session; every method answers null/false instead of throwing. */
class MemberProbe {
  private client: pg.Client | null = null;
  /** The session that read the last facts: only it can vouch that nothing restarted since. */
  private factsClient: pg.Client | null = null;

  constructor(readonly node: string, private readonly target: Target, private readonly nodeOf: NodeOf) {}

  private async session(): Promise<pg.Client> {
    if (this.client !== null) return this.client;
    // node-postgres passes `replication` in the startup packet; its types do not list it.
    const config = { ...this.target, database: "postgres", connectionTimeoutMillis: QUERY_TIMEOUT_MS, replication: "database" } as pg.ClientConfig;
    const client = new pg.Client(config);
    client.on("error", () => {});
    try {
      await withTimeout(client.connect(), QUERY_TIMEOUT_MS + 500, `connecting to ${this.node}`);
    } catch (error) {
      void client.end().catch(() => {});
      throw error;
    }
    this.client = client;
    return client;
  }

  private async query<T extends pg.QueryResultRow>(sql: string): Promise<T[] | null> {
    try {
      const client = await this.session();
      return (await withTimeout(client.query<T>(sql), QUERY_TIMEOUT_MS, `${this.node}: ${sql.slice(0, 40)}`)).rows;
    } catch {
      this.drop();
      return null;
    }
  }

  drop(): void {
    // Not awaited: a frozen server never answers the goodbye.
    void this.client?.end().catch(() => {});
    this.client = null;
  }

  async facts(): Promise<MemberFacts | null> {
    this.factsClient = null;
    const rows = await this.query<FactsRow>(FACTS_SQL);
    const row = rows?.[0];
    if (row === undefined || row.lsn === null) return null;
    // After the SQL: the timeline can only have moved forward since, with the position read before it.
    const identified = await this.query<{ timeline: number | string }>("IDENTIFY_SYSTEM");
    const timeline = Number(identified?.[0]?.timeline);
    if (!Number.isInteger(timeline) || timeline < 1) return null;
    this.factsClient = this.client;
    const receiver = row.receiver === null ? null : { status: row.receiver.status, senderNode: row.receiver.host === null ? null : this.nodeOf(row.receiver.host), timeline: row.receiver.tli };
    return { inRecovery: row.in_recovery, timeline, lsn: row.lsn, receiveLsn: row.receive_lsn, checkpointTimeline: row.checkpoint_timeline, postmasterStartMs: Number(row.started_ms), receiver, streaming: row.streaming };
  }

  /** The entries of `pg_wal/<timeline>.history` (timeline 1 has none), or null. */
  async timelineHistory(timeline: number): Promise<{ timeline: number; switchpoint: string }[] | null> {
    if (timeline === 1) return [];
    const file = `pg_wal/${timeline.toString(16).toUpperCase().padStart(8, "0")}.history`;
    const rows = await this.query<{ text: string }>(`SELECT pg_read_file('${file}') AS text`);
    if (rows?.[0] === undefined) return null;
    try {
      return parseTimelineHistory(rows[0].text).map((e) => ({ timeline: e.timeline, switchpoint: e.switchpoint.toString() }));
    } catch {
      return null;
    }
  }

  /** The session that read the facts still answers (a new session would prove nothing). */
  async alive(): Promise<boolean> {
    if (this.factsClient === null || this.client !== this.factsClient) return false;
    return (await this.query("SELECT 1")) !== null;
  }
}

async function status(url: string): Promise<number | null> {
  try {
    return (await fetch(url, { method: "HEAD", signal: AbortSignal.timeout(HEALTH_TIMEOUT_MS) })).status;
  } catch {
    return null;
  }
}

export interface SamplerTarget {
  readonly nodes: readonly string[];
  apiUrl(node: string): string;
  target(node: string): Target;
  nodeOf: NodeOf;
}

export class MemberSampler {
  private readonly probes: MemberProbe[];
  private readonly recorded = new Set<string>();
  private readonly listeners = new Set<(round: readonly MemberSample[]) => void>();
  private running = false;
  private done: Promise<void> = Promise.resolve();
  /** Pause between rounds; the runner shortens it while it waits for a heal to converge. */
  periodMs = 1000;

  constructor(private readonly cluster: SamplerTarget, private readonly history: History) {
    this.probes = cluster.nodes.map((n) => new MemberProbe(n, cluster.target(n), cluster.nodeOf));
  }

  start(): void {
    this.running = true;
    this.done = (async () => {
      while (this.running) {
        const round = await this.round();
        for (const listener of this.listeners) listener(round);
        await new Promise((resolve) => setTimeout(resolve, this.periodMs));
      }
    })();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.done;
    for (const probe of this.probes) probe.drop();
  }

  /** Calls `listener` after each round until it returns true (or `timeoutMs` passes); resolves with whether it did. */
  until(listener: (round: readonly MemberSample[]) => boolean, timeoutMs: number): Promise<boolean> {
    return new Promise((resolve) => {
      const finish = (value: boolean): void => {
        clearTimeout(timer);
        this.listeners.delete(wrapped);
        resolve(value);
      };
      const wrapped = (round: readonly MemberSample[]): void => {
        if (listener(round)) finish(true);
      };
      const timer = setTimeout(() => finish(false), timeoutMs);
      this.listeners.add(wrapped);
    });
  }

  private async round(): Promise<MemberSample[]> {
    const facts = await Promise.all(this.probes.map(async (p) => ({ node: p.node, facts: await p.facts(), atMs: this.history.now() })));
    const primary = await this.primaryWithHistory(facts);
    const answers = await Promise.all(this.cluster.nodes.map(async (n) => {
      const [replica, readOnly] = await Promise.all([status(`${this.cluster.apiUrl(n)}/replica`), status(`${this.cluster.apiUrl(n)}/read-only`)]);
      return { replica, readOnly, answeredMs: this.history.now() };
    }));
    const alive = await Promise.all(this.probes.map((p, i) => (facts[i]!.facts === null ? Promise.resolve(false) : p.alive())));
    const samples = facts.map((f, i): MemberSample => ({ type: "member", node: f.node, atMs: f.atMs, ...answers[i]!, facts: f.facts, stable: alive[i]!, primary: primary?.node ?? null, primaryTimeline: primary?.timeline ?? null }));
    for (const s of samples) this.history.add(s);
    return samples;
  }

  /** The round's primary, once its timeline history is recorded; null if there is none or the file cannot be read. */
  private async primaryWithHistory(members: readonly MemberState[]): Promise<{ node: string; timeline: number } | null> {
    const primary = referencePrimary(members);
    if (primary === null) return null;
    const key = `${primary.node}|${primary.timeline}`;
    if (this.recorded.has(key)) return primary;
    const probe = this.probes.find((p) => p.node === primary.node)!;
    const entries = await probe.timelineHistory(primary.timeline);
    if (entries === null) return null;
    this.history.add({ type: "timeline-history", atMs: this.history.now(), node: primary.node, timeline: primary.timeline, entries });
    this.recorded.add(key);
    return primary;
  }
}
