/**
 * The storage-fault matrix of issue 12 on a real three-node group (real LevelDB directories,
 * real sockets): a byte flipped in each kind of file LevelDB writes and in the acknowledged-bound
 * file, truncated files, deleted files. Each case must end in a clear refusal (the node does not
 * start, the error says its log is damaged and names the directory) or a safe recovery (it starts
 * and its log still holds every entry it acknowledged) — never a voter that forgot what it
 * acknowledged. Then the way back after a refusal, as the agent prints it: remove, start empty as
 * a joining node, add as a learner, promote; the node ends with every entry.
 *
 * The emptied data directory is in test/raft/store_identity.test.ts: only its peers can tell.
 */
import { createHash } from "node:crypto";
import { cpSync, readdirSync, readFileSync, renameSync, rmSync, statSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { either as E } from "fp-ts";
import t from "tap";
import { ACKED_BOUND_FILE } from "../../src/raft/runtime/log_store_bound.js";
import { bytes, eventually, NodeCluster } from "./node_cluster.js";

type Damage = (dir: string) => void;
type Expected = "refused" | "refused or safe" | "safe";

/** The newest file whose name matches `pattern`. */
function newest(dir: string, pattern: RegExp): string {
  const names = readdirSync(dir).filter((name) => pattern.test(name)).sort();
  const name = names.at(-1);
  if (name === undefined) throw new Error(`no file matching ${pattern} in ${dir}: ${readdirSync(dir).join(" ")}`);
  return join(dir, name);
}

function flipByte(path: string, offsetFromEnd: number | "middle" | number[]): void {
  const data = readFileSync(path);
  const offsets = Array.isArray(offsetFromEnd) ? offsetFromEnd : [offsetFromEnd === "middle" ? Math.floor(data.length / 2) : data.length - offsetFromEnd];
  for (const offset of offsets) data[offset] = data[offset]! ^ 0xff;
  writeFileSync(path, data);
}

/**
 * An entry's payload: about 1 KB of hex that LevelDB's compression cannot shorten, so its bytes
 * appear as they are in the table that holds them (a run of "x" would be stored as copies, and a
 * byte flipped in a copy's offset can decompress to the very same value: harmless, not refused).
 */
function payload(i: number): string {
  return Array.from({ length: 16 }, (_, k) => createHash("sha256").update(`${i}-${k}`).digest("hex")).join("");
}

/** Flips a byte inside entry `i`'s payload in whichever table holds it. */
function flipEntryInTable(dir: string, i: number): void {
  const needle = Buffer.from(payload(i).slice(0, 64));
  for (const name of readdirSync(dir).filter((n) => n.endsWith(".ldb"))) {
    const at = readFileSync(join(dir, name)).indexOf(needle);
    if (at >= 0) return flipByte(join(dir, name), [at + 32]);
  }
  throw new Error(`no table in ${dir} holds entry ${i}: ${readdirSync(dir).join(" ")}`);
}

const CASES: readonly [string, Damage, Expected][] = [
  ["a byte flipped near the end of the write-ahead log (.log)", (d) => flipByte(newest(d, /\.log$/), 300), "refused"],
  ["a byte flipped in the middle of the write-ahead log", (d) => flipByte(newest(d, /\.log$/), "middle"), "refused"],
  ["the write-ahead log truncated by 1,000 bytes", (d) => truncateSync(newest(d, /\.log$/), statSync(newest(d, /\.log$/)).size - 1000), "refused"],
  ["the write-ahead log emptied", (d) => truncateSync(newest(d, /\.log$/), 0), "refused"],
  ["the write-ahead log deleted", (d) => rmSync(newest(d, /\.log$/)), "refused"],
  ["a byte flipped in an entry's data in a table (.ldb)", (d) => flipEntryInTable(d, 150), "refused"],
  ["a byte flipped in the middle of a table", (d) => flipByte(newest(d, /\.ldb$/), "middle"), "refused or safe"],
  ["a byte flipped in a table's index and footer", (d) => flipByte(newest(d, /\.ldb$/), [statSync(newest(d, /\.ldb$/)).size - 30, statSync(newest(d, /\.ldb$/)).size - 3]), "refused or safe"],
  ["a table truncated", (d) => truncateSync(newest(d, /\.ldb$/), Math.floor(statSync(newest(d, /\.ldb$/)).size / 2)), "refused"],
  ["a table deleted", (d) => rmSync(newest(d, /\.ldb$/)), "refused"],
  ["a byte flipped in the MANIFEST", (d) => flipByte(newest(d, /^MANIFEST-/), "middle"), "refused"],
  ["the MANIFEST truncated", (d) => truncateSync(newest(d, /^MANIFEST-/), 10), "refused"],
  ["the MANIFEST deleted", (d) => rmSync(newest(d, /^MANIFEST-/)), "refused"],
  ["a byte flipped in CURRENT", (d) => flipByte(join(d, "CURRENT"), 5), "refused"],
  ["CURRENT deleted", (d) => rmSync(join(d, "CURRENT")), "refused"],
  ["LevelDB's info logs (LOG, LOG.old) deleted", (d) => { rmSync(join(d, "LOG"), { force: true }); rmSync(join(d, "LOG.old"), { force: true }); }, "safe"],
  ["the LOCK file deleted", (d) => rmSync(join(d, "LOCK")), "safe"],
  ["a byte flipped in one slot of the acknowledged bound", (d) => flipByte(join(d, ACKED_BOUND_FILE), [10]), "safe"],
  ["both slots of the acknowledged bound damaged", (d) => flipByte(join(d, ACKED_BOUND_FILE), [10, 138]), "refused"],
  ["the acknowledged bound truncated", (d) => truncateSync(join(d, ACKED_BOUND_FILE), 100), "refused"],
  ["the acknowledged bound deleted", (d) => rmSync(join(d, ACKED_BOUND_FILE)), "refused"],
];

/** Proposals of about 1 KB, so the victim's directory holds real tables and a real log. */
async function write(cluster: NodeCluster, from: number, count: number): Promise<void> {
  const leader = await cluster.leader();
  for (let i = from; i < from + count; i += 20) {
    await Promise.all(Array.from({ length: Math.min(20, from + count - i) }, (_, k) => leader.node!.propose(bytes(`entry-${i + k}-${payload(i + k)}`))));
  }
}

const cluster = await NodeCluster.create(["a", "b", "c"]);
t.teardown(() => cluster.destroy());

t.test("a damaged or shortened log of a node is refused or recovered safely, file by file", async (t) => {
  // The victim gets a table (its log rolled over at a restart) and a write-ahead log after it.
  await cluster.leader();
  await write(cluster, 0, 300);
  await eventually(() => (cluster.get("c").machine.items.length === 300 ? true : undefined), 10_000, "c to apply 300 entries");
  await cluster.stop("c");
  const restarted = await cluster.start("c");
  if (E.isLeft(restarted)) throw new Error(restarted.left.message);
  await write(cluster, 300, 300);
  await eventually(() => (cluster.get("c").machine.items.length === 600 ? true : undefined), 10_000, "c to apply 600 entries");
  const acknowledged = cluster.get("c").node!.status().lastIndex;
  await cluster.stop("c");
  const victim = cluster.get("c").dir;
  const pristine = `${victim}.pristine`;
  cpSync(victim, pristine, { recursive: true });
  t.teardown(() => rmSync(pristine, { recursive: true, force: true }));
  t.ok(readdirSync(pristine).some((n) => n.endsWith(".ldb")) && readdirSync(pristine).some((n) => n.endsWith(".log")), `the victim has tables and a log: ${readdirSync(pristine).join(" ")}`);

  const outcomes: string[] = [];
  for (const [name, damage, expected] of CASES) {
    rmSync(victim, { recursive: true, force: true });
    cpSync(pristine, victim, { recursive: true });
    damage(victim);
    const started = await cluster.start("c");
    if (E.isLeft(started)) {
      outcomes.push(`${name}: refused`);
      t.not(expected, "safe", `${name}: refused (${started.left.message.slice(0, 200)})`);
      t.equal(started.left.code, "damagedLog", `${name}: the refusal says the log is damaged`);
      t.match(started.left.message, victim, `${name}: the refusal names the directory`);
      continue;
    }
    const status = started.right.status();
    outcomes.push(`${name}: started with every acknowledged entry (last index ${status.lastIndex})`);
    t.not(expected, "refused", `${name}: started`);
    t.ok(status.lastIndex >= acknowledged, `${name}: the log still reaches ${acknowledged} (it reaches ${status.lastIndex})`);
    await eventually(() => (cluster.get("c").machine.items.length >= 600 ? true : undefined), 10_000, `c to replay its log after ${name}`);
    t.same(cluster.get("c").machine.items.slice(0, 600), cluster.get("a").machine.items.slice(0, 600), `${name}: the same entries as its peers`);
    await cluster.stop("c");
  }
  t.comment(`storage-fault matrix:\n  ${outcomes.join("\n  ")}`);
  // The rest of the group never stopped.
  await write(cluster, 600, 20);
  t.ok(cluster.get("a").node !== null && cluster.get("b").node !== null && cluster.get("a").fatal === null && cluster.get("b").fatal === null, "the other members kept running");
});

t.test("after a refusal the node comes back the way the agent says: remove, rejoin empty, add, promote", async (t) => {
  const victim = cluster.get("c");
  flipByte(newest(victim.dir, /\.log$/), 300);
  const refused = await cluster.start("c");
  t.ok(E.isLeft(refused), "the damaged node does not start");
  const leader = await cluster.leader();
  await leader.node!.proposeConfChange({ kind: "remove", id: victim.id, address: "" });
  renameSync(victim.dir, `${victim.dir}.damaged`);
  t.teardown(() => rmSync(`${victim.dir}.damaged`, { recursive: true, force: true }));
  const rejoined = await cluster.start("c", { join: true });
  if (E.isLeft(rejoined)) throw new Error(rejoined.left.message);
  const address = cluster.members.find((m) => m.id === victim.id)!.address;
  await leader.node!.proposeConfChange({ kind: "addLearner", id: victim.id, address });
  const all = leader.machine.items.length;
  await eventually(() => (victim.machine.items.length >= all ? true : undefined), 20_000, "the learner to catch up");
  await leader.node!.proposeConfChange({ kind: "addVoter", id: victim.id, address });
  await write(cluster, 700, 20);
  await eventually(() => (victim.machine.items.length === leader.machine.items.length ? true : undefined), 10_000, "the voter to apply the new entries");
  t.same(victim.machine.items, leader.machine.items, "it holds every entry again");
  const role = leader.node!.status().confState.members.find((m) => m.id === victim.id)?.role;
  t.equal(role, "voter", "and votes again");
});
