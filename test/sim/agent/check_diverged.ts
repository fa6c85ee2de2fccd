/**
 * The diverged-reads checker of the cluster workload (issue 17 item 5, issue 14 item 1): no member
 * reports itself usable for reads while its WAL has forked from the primary's. "Usable" is what
 * `/replica` and `/read-only` answer 200 on: PostgreSQL runs as a replica, no long action is under
 * way, and the agent does not say "diverged" (src/api/node_facts.ts). "Forked" is the simulated
 * ground truth, never the agent's view: the member's WAL is not a prefix of the primary's.
 *
 * The agent learns of a fork from its own observations, one cycle per loop_wait, so a violation
 * counts once it has lasted GRACE_MS without a break; samples are taken only while exactly one
 * primary runs.
 */
import type { MemberName } from "../../../src/dcs/model.js";
import { commonPrefix } from "../pg/wal.js";
import type { SimAgents } from "./sim_agents.js";

/** Two cycles at loop_wait 1 s and an observation's round trip. */
export const GRACE_MS = 3_000;
const SAMPLE_EVERY_MS = 500;

export class DivergedReadsCheck {
  /** When each member's current violation began. */
  private readonly since = new Map<MemberName, number>();
  private readonly reported = new Set<MemberName>();
  readonly violations: string[] = [];

  constructor(private readonly sim: SimAgents) {
    const tick = (): void => {
      this.sample();
      sim.queue.schedule(SAMPLE_EVERY_MS, tick);
    };
    sim.queue.schedule(SAMPLE_EVERY_MS, tick);
  }

  private sample(): void {
    const primaries = this.sim.primaries();
    if (primaries.length !== 1) {
      this.since.clear();
      return;
    }
    const primary = this.sim.pg.server(primaries[0]!);
    const now = this.sim.queue.now;
    for (const member of this.sim.members) {
      if (member === primary.name) continue;
      const why = this.violation(member, primary.d.wal);
      if (why === null) {
        this.since.delete(member);
        this.reported.delete(member);
        continue;
      }
      const start = this.since.get(member) ?? now;
      this.since.set(member, start);
      if (now - start >= GRACE_MS && !this.reported.has(member)) {
        this.reported.add(member);
        this.violations.push(`${member} reported itself usable for reads on a fork of ${primary.name}'s WAL from ${(start / 1000).toFixed(1)} s to at least ${(now / 1000).toFixed(1)} s: ${why}`);
      }
    }
  }

  /** Why `member` serves reads it must not, or null. */
  private violation(member: MemberName, primaryWal: Parameters<typeof commonPrefix>[1]): string | null {
    const server = this.sim.pg.server(member);
    const status = this.sim.loops.get(member)?.status();
    if (server.role !== "replica" || status === undefined || status.busy !== null || status.diverged !== null) return null;
    const wal = server.d.wal;
    const shared = commonPrefix(wal, primaryWal);
    if (shared === wal.length) return null;
    return `${wal.length - shared} of its WAL records are not in the primary's (it shares the first ${shared}; timeline ${server.d.timeline})`;
  }
}
