/**
 * The shared driver (src/raft/runtime/raft_driver.ts) on a disk whose writes complete only when
 * the test says so: messages that depend on a write leave only once it is durable, the vote
 * included, and the planted sendBeforePersist bug breaks exactly that.
 */
import t from "tap";
import { createRecordingLogger, type Logger, SILENT_LOGGER } from "../../src/lib/logger.js";
import { createPrng } from "../../src/lib/prng.js";
import { DEFAULT_TUNABLES } from "../../src/raft/config.js";
import { bootstrapState, RawNode } from "../../src/raft/raw_node.js";
import { type DriverBugs, type DriverHost, NO_DRIVER_BUGS, RaftDriver, type StorageOutcome } from "../../src/raft/runtime/raft_driver.js";
import type { MergedWrite } from "../../src/raft/runtime/write_batcher.js";
import { type Entry, type Message, nodeId } from "../../src/raft/types.js";

interface Rig {
  readonly raw: RawNode;
  readonly driver: RaftDriver;
  readonly sent: Message[];
  readonly applied: Entry[];
  /** Writes handed to the disk, not yet durable. */
  readonly writes: { write: MergedWrite; done: (outcome: StorageOutcome) => void }[];
  readonly failures: string[];
  /** Runs deferred cycles until none is left. */
  settle(): void;
}

/** `applyMs`: how long each entry's apply takes on the rig's clock. */
function rig(bugs: DriverBugs = NO_DRIVER_BUGS, options: { applyMs?: number; logger?: Logger } = {}): Rig {
  const members = ["n1", "n2", "n3"].map((id) => ({ id: nodeId(id), role: "voter" as const, address: `${id}:7000` }));
  const raw = new RawNode({ ...DEFAULT_TUNABLES, preVote: false, id: nodeId("n1"), prng: createPrng(1), logger: SILENT_LOGGER }, bootstrapState(members));
  const deferred: (() => void)[] = [];
  const sent: Message[] = [];
  const applied: Entry[] = [];
  const writes: Rig["writes"] = [];
  const failures: string[] = [];
  const host: DriverHost = {
    beginCycle: () => {},
    apply: (entry) => {
      applied.push(entry);
      nowMs += options.applyMs ?? 0;
    },
    readState: () => {},
    appliedReady: () => {},
    restoreSnapshot: () => {},
    advanced: () => {},
    written: () => {},
    completed: () => {},
    compacted: () => {},
    endCycle: () => {},
    fail: (why) => failures.push(why),
  };
  let nowMs = 0;
  const driver = new RaftDriver({
    raw,
    storage: { write: (write, done) => writes.push({ write, done }), compact: (_snapshot, done) => done({ ok: true }) },
    network: { send: (messages) => sent.push(...messages) },
    clock: { wallMs: () => nowMs, monotonicMs: () => nowMs, defer: (run) => deferred.push(run) },
    host,
    logger: options.logger ?? SILENT_LOGGER,
    bugs,
  });
  const settle = (): void => {
    for (let run = deferred.shift(); run !== undefined; run = deferred.shift()) {
      nowMs++;
      run();
    }
  };
  return { raw, driver, sent, applied, writes, failures, settle };
}

t.test("a candidate's vote requests leave only once its term and vote are durable", async (t) => {
  const { raw, driver, sent, writes, settle } = rig();
  driver.input(() => raw.campaign());
  settle();
  const pending = writes.find((w) => w.write.hardState?.vote === nodeId("n1"));
  t.ok(pending !== undefined, "the vote for itself is being written");
  t.same(sent.filter((m) => m.type === "vote"), [], "no vote request before the vote is durable");
  for (let w = writes.shift(); w !== undefined; w = writes.shift()) {
    w.done({ ok: true });
    settle();
  }
  t.same(sent.filter((m) => m.type === "vote").map((m) => m.to).sort(), ["n2", "n3"], "vote requests leave once it is");
});

t.test("planted bug sendBeforePersist: the vote requests leave before the vote is durable", async (t) => {
  const { raw, driver, sent, writes, settle } = rig({ sendBeforePersist: true });
  driver.input(() => raw.campaign());
  settle();
  t.ok(writes.some((w) => w.write.hardState?.vote === nodeId("n1")), "the vote is still being written");
  t.same(sent.filter((m) => m.type === "vote").map((m) => m.to).sort(), ["n2", "n3"], "yet the vote requests left");
});

t.test("a failed write stops the loop: nothing it held is sent, and the host is told why", async (t) => {
  const { raw, driver, sent, writes, failures, settle } = rig();
  driver.input(() => raw.campaign());
  settle();
  const pending = writes.shift();
  t.ok(pending !== undefined, "a write is in flight");
  pending?.done({ ok: false, message: "disk full" });
  settle();
  t.same(failures, ["cannot write the Raft log: disk full"]);
  t.same(sent.filter((m) => m.type === "vote"), []);
});

t.test("committed entries are applied as their Ready is taken, in log order", async (t) => {
  const { applied, settle, driver } = rig();
  driver.schedule();
  settle();
  t.same(applied.map((e) => e.index), [1, 2, 3], "the bootstrap configuration entries");
});

t.test("a stall warning says what the loop did: entries applied, how long that took, Ready batches", async (t) => {
  const logger = createRecordingLogger();
  const { settle, driver } = rig(NO_DRIVER_BUGS, { applyMs: 100, logger });
  driver.schedule();
  settle();
  const warning = logger.lines.find((l) => l.level === "warn");
  t.match(warning?.message, /^the raft loop stalled for 30\d ms: it ran \d+ ms late and worked 30\d ms \(its own work took that long: 3 entries applied in 300 ms, 1 Ready batches\)$/, String(warning?.message));
  t.match(warning?.fields, { entries: 3, applyMs: 300, readies: 1 }, "and gives the figures as fields");
});
