/**
 * Whole agents on virtual time (issue 17, first step): three real HA loops with the real DCS
 * client and state machine, simulated watchdogs and simulated PostgreSQL, on one event queue.
 */
import t from "tap";
import type { MemberName } from "../../../src/dcs/model.js";
import { createRecordingLogger, type LoggedLine } from "../../../src/lib/logger.js";
import { missingAcknowledged, overlappingPrimaries } from "../pg/sim_clients.js";
import { DivergedReadsCheck } from "./check_diverged.js";
import { SIM_SCOPE, SimAgents } from "./sim_agents.js";

function agents(seed: number): { sim: SimAgents; lines: Map<MemberName, LoggedLine[]> } {
  const lines = new Map<MemberName, LoggedLine[]>();
  const sim = new SimAgents({
    seed,
    logger: (member) => {
      const mine: LoggedLine[] = [];
      lines.set(member, mine);
      return createRecordingLogger(mine, { member });
    },
  });
  return { sim, lines };
}

const describeLog = (lines: Map<MemberName, LoggedLine[]>): string =>
  [...lines].map(([m, l]) => `${m}:\n  ${l.slice(-15).map((x) => x.message).join("\n  ")}`).join("\n");

t.test("three agents bootstrap one primary and two streaming replicas", async (t) => {
  const { sim, lines } = agents(1);
  await sim.run(60_000);
  const primaries = sim.primaries();
  t.equal(primaries.length, 1, `one primary: ${primaries.join(", ")}\n${describeLog(lines)}`);
  const primary = primaries[0]!;
  const view = sim.dcs.client(primary).local(SIM_SCOPE);
  t.equal(view?.lease?.holder, primary, "it holds the lease");
  for (const m of sim.members.filter((x) => x !== primary)) {
    const observed = sim.pg.observe(m);
    t.match(observed, { role: "replica", streaming: true, upstream: primary }, `${m} streams from ${primary}`);
  }
});

t.test("the primary's host dies: a replica takes over, every write acknowledged before is there", async (t) => {
  const { sim, lines } = agents(2);
  await sim.run(60_000);
  const [old] = sim.primaries();
  t.ok(old !== undefined, `a primary\n${describeLog(lines)}`);
  sim.startWriter(50);
  await sim.run(10_000);
  const ackedBefore = sim.clients.acked().length;
  t.ok(ackedBefore > 100, `writes acknowledged before the crash: ${ackedBefore}`);
  sim.crashHost(old!);
  await sim.run(60_000);
  const primaries = sim.primaries();
  t.equal(primaries.length, 1, `one primary after the crash: ${primaries.join(", ")}\n${describeLog(lines)}`);
  t.not(primaries[0], old, "another member");
  t.ok(sim.clients.acked().length > ackedBefore + 100, "writes are acknowledged again");
  t.same(overlappingPrimaries(sim.clients), [], "never two members acknowledging at once");
  const lost = missingAcknowledged(sim.pg, sim.clients, primaries[0]!);
  t.comment(`asynchronous mode: ${lost.length} acknowledged writes not on the new primary (those past its replay at the crash)`);
});

t.test("the diverged-reads checker sees a replica forked behind its agent's back", async (t) => {
  const { sim } = agents(3);
  const check = new DivergedReadsCheck(sim);
  await sim.run(40_000);
  t.same(check.violations, [], "nothing to report in a healthy cluster");
  const primary = sim.primaries()[0]!;
  const replica = sim.members.find((m) => m !== primary)!;
  // A record the primary never had, written into the replica's WAL by hand: nothing the agent
  // observes tells it (PostgreSQL itself cannot get there: walsenders send flushed WAL only).
  sim.pg.append(sim.pg.server(replica), "commit", "foreign");
  await sim.run(10_000);
  t.match(check.violations, [new RegExp(`^${replica} reported itself usable for reads on a fork of ${primary}'s WAL`)], check.violations.join("\n"));
});
