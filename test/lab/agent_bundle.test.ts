/**
 * The agent bundle the tests share (lab/agent_bundle.ts): processes asking at once get one
 * bundle, it runs, and it is named for the tree it was built from.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { basename, dirname } from "node:path";
import t from "tap";
import { agentBundle, bundleKey } from "../../lab/agent_bundle.js";

t.test("callers at once share one bundle of the current tree, and it runs", async (t) => {
  const paths = await Promise.all([agentBundle(), agentBundle(), agentBundle()]);
  t.equal(new Set(paths).size, 1, `one bundle: ${paths[0]}`);
  t.ok(existsSync(paths[0]!), "its raftgres.js exists");
  t.ok(existsSync(`${dirname(paths[0]!)}/watchdog_process.js`), "with the watchdog beside it");
  t.equal(basename(dirname(paths[0]!)), `raftgres-test-bundle-${bundleKey()}`, "named for the tree's inputs");
  t.notOk(existsSync(`${dirname(paths[0]!)}.lock`), "no lock is left behind");
  const help = spawnSync(process.execPath, [paths[0]!, "--help"], { encoding: "utf8", timeout: 30_000 });
  t.equal(help.status, 0, `raftgres --help exits 0 (${help.stderr.slice(0, 200)})`);
  t.match(help.stdout, /agent/, "and lists the agent command");
});
