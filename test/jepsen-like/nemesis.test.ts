/**
 * The faults against a recording target (no cluster): what each start does and which victims it
 * names for the failover-causes checker, issue 14's partition of a primary that is also the Raft
 * leader, and the schedule's holds.
 */
import t from "tap";
import { createPrng } from "../../src/lib/prng.js";
import { ALL_FAULTS, FAULTS, type FaultTarget, nextStep, parseFaults, PRIMARY_LEADER_PARTITION_MS } from "../../lab/jepsen/nemesis.js";

class RecordingTarget implements FaultTarget {
  readonly nodes = ["n1", "n2", "n3"];
  readonly calls: string[] = [];
  leader: string | null;

  constructor(private readonly primaryNode: string | null, leader: string | null, private readonly transferWorks = true) {
    this.leader = leader;
  }

  primary = async (): Promise<string | null> => this.primaryNode;
  raftLeader = async (): Promise<string | null> => this.leader;
  killAgent = (node: string): void => void this.calls.push(`killAgent ${node}`);
  killPostmaster = (node: string): void => void this.calls.push(`killPostmaster ${node}`);
  startAgent = async (node: string): Promise<void> => void this.calls.push(`startAgent ${node}`);
  freeze = (node: string, what: string): void => void this.calls.push(`freeze ${node} ${what}`);
  thaw = (node: string, what: string): void => void this.calls.push(`thaw ${node} ${what}`);
  partition = async (groups: readonly (readonly string[])[], options: { readonly clients: boolean }): Promise<void> => void this.calls.push(`partition ${JSON.stringify(groups)} clients=${options.clients}`);
  dropOneWay = async (from: string, to: string): Promise<void> => void this.calls.push(`dropOneWay ${from} ${to}`);
  loss = async (node: string): Promise<void> => void this.calls.push(`loss ${node}`);
  delay = async (node: string): Promise<void> => void this.calls.push(`delay ${node}`);
  clock = (node: string): void => void this.calls.push(`clock ${node}`);
  healNetwork = async (): Promise<void> => void this.calls.push("healNetwork");
  transferRaftLeader = async (node: string): Promise<string> => {
    this.calls.push(`transferRaftLeader ${node}`);
    if (this.transferWorks) this.leader = node;
    return "200 {}";
  };
  cycleRaftMember = async (node: string): Promise<string> => `cycled ${node}`;
}

t.test("partition-primary-leader cuts off the primary once it is also the Raft leader", async (t) => {
  t.same(parseFaults("partition-primary-leader"), ["partition-primary-leader"]);
  t.ok(ALL_FAULTS.includes("partition-primary-leader"), "part of --nemesis all");
  const fault = FAULTS["partition-primary-leader"]!;
  t.ok(fault.viaRaftLeader);
  const already = new RecordingTarget("n1", "n1");
  const started = await fault.start(already, createPrng(1));
  t.same(already.calls, ['partition [["n1"],["n2","n3"]] clients=true'], "peers cut, clients not");
  t.same(started.victims, ["n1"]);
  t.match(started.detail, /^n1 \(primary and Raft leader\) cut off from its peers, still reachable by clients$/);
  await fault.end(already);
  t.equal(already.calls[1], "healNetwork");

  const elsewhere = new RecordingTarget("n2", "n3");
  const moved = await fault.start(elsewhere, createPrng(1));
  t.same(elsewhere.calls, ["transferRaftLeader n2", 'partition [["n2"],["n1","n3"]] clients=true'], "the Raft leadership moves to the primary first");
  t.match(moved.detail, /n2 \(primary and Raft leader\) .* the Raft leadership first moved from n3/);

  const none = new RecordingTarget(null, "n1");
  t.same((await fault.start(none, createPrng(1))).victims, [], "no primary: nothing done");
  t.same(none.calls, []);
});

t.test("a step holds partition-primary-leader 25 s, others 3–12 s, --hold overrides both", async (t) => {
  t.equal(PRIMARY_LEADER_PARTITION_MS, 25_000);
  t.equal(nextStep(createPrng(3), ["partition-primary-leader"]).durationMs, 25_000);
  for (let seed = 1; seed <= 50; seed++) {
    const step = nextStep(createPrng(seed), ["kill-both", "loss"]);
    t.ok(step.durationMs >= 3000 && step.durationMs < 12_000, `seed ${seed}: ${step.durationMs} ms`);
  }
  t.equal(nextStep(createPrng(3), ["kill-both"], 40_000).durationMs, 40_000);
  const a = nextStep(createPrng(9), ALL_FAULTS).faults.map((f) => f.name);
  const b = nextStep(createPrng(9), ALL_FAULTS, 5000).faults.map((f) => f.name);
  t.same(a, b, "a hold does not change which faults a seed picks");
});

t.test("every fault names its victims", async (t) => {
  for (const name of ALL_FAULTS) {
    const target = new RecordingTarget("n1", "n2");
    const started = await FAULTS[name]!.start(target, createPrng(5));
    t.ok(started.victims.length > 0, `${name}: ${started.detail} → ${started.victims.join(",")}`);
    t.ok(started.victims.every((v) => target.nodes.includes(v)), `${name}: victims are nodes`);
  }
  const halves = await FAULTS["partition-halves"]!.start(new RecordingTarget("n1", "n2"), createPrng(5));
  t.equal(halves.victims.length, 1, "partition-halves: the minority of three");
  t.same((await FAULTS["delay"]!.start(new RecordingTarget("n1", "n2"), createPrng(5))).victims, ["n1", "n2", "n3"]);
});
