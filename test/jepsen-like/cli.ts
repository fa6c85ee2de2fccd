/**
 * npm run jepsen -- --time 300 --nemesis all --seed 7 --mode on --nodes 3 [--hold 25] [--out dir] [--from-source]
 * Runs the harness once, prints the summary table and the heal report and exits 1 when a checker
 * failed. The agents run the packaged bundle, as installed (--from-source: the source tree). --hold holds every step that many seconds (default: partition-primary-leader 25 s, the
 * other faults 3–12 s drawn per step).
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { parseFaults } from "../../lab/jepsen/nemesis.js";
import { buildBundles } from "../../scripts/package/build.js";
import { type DurabilityMode, MODE_CONFIG, runJepsen } from "./runner.js";
import { missingPrerequisite } from "../../lab/jepsen/net/command.js";

const { values } = parseArgs({
  options: {
    time: { type: "string", default: "300" },
    nemesis: { type: "string", default: "all" },
    seed: { type: "string", default: String(Date.now() % 100000) },
    mode: { type: "string", default: "on" },
    nodes: { type: "string", default: "3" },
    hold: { type: "string" },
    out: { type: "string" },
    "from-source": { type: "boolean" },
  },
});

const mode = values.mode as DurabilityMode;
if (!(mode in MODE_CONFIG)) throw new Error(`--mode ${mode}: expected one of ${Object.keys(MODE_CONFIG).join(", ")}`);
const nodes = Number(values.nodes);
if (nodes !== 3 && nodes !== 5) throw new Error(`--nodes ${values.nodes}: expected 3 or 5`);
const missing = missingPrerequisite();
if (missing !== null) {
  process.stderr.write(`jepsen-like: ${missing}\n`);
  process.exit(2);
}
const holdS = values.hold === undefined ? undefined : Number(values.hold);
if (holdS !== undefined && !(holdS >= 1 && holdS <= 600)) throw new Error(`--hold ${values.hold}: expected seconds between 1 and 600`);
const seed = Number(values.seed);
const out = values.out ?? mkdtempSync(join(tmpdir(), `raftgres-jepsen-${mode}-${seed}-`));
// What an installed raftgres runs, built once into the report folder; the run is then immune to
// edits of the source tree while it goes on.
// --from-source: through tsx, unbundled (lab/pg_cluster.ts would otherwise bundle the tree).
if (values["from-source"] === true) process.env["RAFTGRES_AGENTS_FROM_SOURCE"] = "1";
const agentMain = values["from-source"] === true ? undefined : (await buildBundles(join(out, "bundle"))).agentMain;
const result = await runJepsen({
  ...(agentMain === undefined ? {} : { agentMain }),
  timeS: Number(values.time),
  faults: parseFaults(values.nemesis),
  seed,
  mode,
  nodes,
  out,
  ...(holdS === undefined ? {} : { holdMs: holdS * 1000 }),
  id: `j${(seed % 10000).toString(36)}`.slice(0, 6),
  log: (line) => process.stdout.write(`${line}\n`),
});
process.stdout.write(`\n${result.summary}\n`);
process.exit(result.ok ? 0 : 1);
