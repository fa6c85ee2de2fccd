/**
 * Simulated clients of the simulated PostgreSQL: writes through a libpq multi-host DSN
 * (target_session_attrs=read-write: the first listed host the client reaches that is a running
 * primary) or straight to one member, every outcome recorded with when it began and ended. And
 * the checks a whole-cluster simulation makes of that record (issue 17 item 5):
 * - no acknowledged write is missing from the WAL of the member that is the primary now;
 * - no two members acknowledged writes at overlapping times.
 */
import type { MemberName } from "../../../src/dcs/model.js";
import type { SimPostgres, WriteOutcome } from "./sim_postgres.js";

export interface WriteRecord {
  readonly writeId: string;
  /** The DSN's hosts in order, or the one member written to. */
  readonly via: readonly MemberName[];
  readonly startedMs: number;
  endedMs: number | null;
  outcome: WriteOutcome | null;
}

export class SimClients {
  readonly history: WriteRecord[] = [];
  private counter = 0;

  constructor(
    private readonly pg: SimPostgres,
    /** Whether the clients reach `member` now (they sit outside every member). */
    private readonly reaches: (member: MemberName) => boolean = () => true,
  ) {}

  /** One write through a multi-host DSN listing `hosts` in order. */
  writeVia(hosts: readonly MemberName[]): WriteRecord {
    const record: WriteRecord = { writeId: `w${++this.counter}`, via: hosts, startedMs: this.pg.queue.now, endedMs: null, outcome: null };
    this.history.push(record);
    const target = hosts.find((h) => this.reaches(h) && this.pg.server(h).writable);
    const finish = (outcome: WriteOutcome): void => {
      record.endedMs = this.pg.queue.now;
      record.outcome = outcome;
    };
    if (target === undefined) finish({ kind: "refused", why: `no host of ${hosts.join(",")} is a reachable primary` });
    else this.pg.commit(target, record.writeId, finish);
    return record;
  }

  acked(): WriteRecord[] {
    return this.history.filter((r) => r.outcome?.kind === "acked");
  }
}

/** The acknowledged writes missing from `member`'s WAL (written there, flushed or not). */
export function missingAcknowledged(pg: SimPostgres, clients: SimClients, member: MemberName): string[] {
  const dir = pg.server(member).dir;
  const present = new Set((dir?.wal ?? []).map((r) => r.writeId).filter((id) => id !== null));
  return clients.acked().filter((r) => !present.has(r.writeId)).map((r) => r.writeId);
}

/**
 * Times at which two members acknowledged writes in overlapping spans: each member's
 * acknowledgements on one timeline span from its first to its last; two such spans of different
 * members must not overlap. Empty when none.
 */
export function overlappingPrimaries(clients: SimClients): string[] {
  const spans = new Map<string, { member: MemberName; timeline: number; from: number; to: number }>();
  for (const r of clients.acked()) {
    if (r.outcome?.kind !== "acked") continue;
    const key = `${r.outcome.member}@${r.outcome.timeline}`;
    const at = r.endedMs!;
    const span = spans.get(key);
    if (span === undefined) spans.set(key, { member: r.outcome.member, timeline: r.outcome.timeline, from: at, to: at });
    else spans.set(key, { ...span, from: Math.min(span.from, at), to: Math.max(span.to, at) });
  }
  const list = [...spans.values()].sort((a, b) => a.from - b.from);
  const problems: string[] = [];
  for (let i = 0; i < list.length; i++) {
    for (let j = i + 1; j < list.length; j++) {
      const [a, b] = [list[i]!, list[j]!];
      if (a.member !== b.member && b.from <= a.to) {
        const ms = (x: number): number => Math.round(x);
        problems.push(`${a.member} (timeline ${a.timeline}) acknowledged writes from ${ms(a.from)} to ${ms(a.to)} ms and ${b.member} (timeline ${b.timeline}) from ${ms(b.from)} to ${ms(b.to)} ms`);
      }
    }
  }
  return problems;
}
