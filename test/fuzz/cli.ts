/**
 * npm run fuzz -- [--time SECONDS] [--seed N] [--suite rest|raft|all]
 *
 * The fuzz suites for longer than npm test runs them (test/fuzz/*.test.ts, about a minute each):
 *   rest   generated bodies to every mutating route of a real three-node cluster with PostgreSQL
 *          (rest_fuzz.ts): every answer 2xx or 4xx with a sentence, no agent restarts, the nodes'
 *          states identical at the end;
 *   raft   hostile frames before and after the handshake and random bytes proposed as commands
 *          through a real three-node DCS group (raft_fuzz.ts): every node stays up, identical
 *          state machines at the end.
 * --time is the whole run, split evenly between the suites. The seed (random by default) is
 * printed: --seed replays a run. Exits 1 when a suite found a crash.
 */
import { randomInt } from "node:crypto";
import { parseArgs } from "node:util";
import { runRaftFuzz } from "./raft_fuzz.js";
import { runRestFuzz } from "./rest_fuzz.js";

const SUITES = ["rest", "raft"] as const;
type Suite = (typeof SUITES)[number];

function parse(): { timeMs: number; seed: number; suites: readonly Suite[] } {
  const { values } = parseArgs({
    options: {
      time: { type: "string", default: "120" },
      seed: { type: "string" },
      suite: { type: "string", default: "all" },
    },
  });
  const seconds = Number(values.time);
  if (!Number.isFinite(seconds) || seconds < 10 || seconds > 7 * 24 * 3600) throw new Error(`--time must be a number of seconds from 10 to 604800, got ${values.time}`);
  const seed = values.seed === undefined ? randomInt(1, 2 ** 31) : Number(values.seed);
  if (!Number.isSafeInteger(seed)) throw new Error(`--seed must be an integer, got ${values.seed}`);
  const suite = values.suite;
  if (suite !== "all" && !(SUITES as readonly string[]).includes(suite)) throw new Error(`--suite must be rest, raft or all, got ${suite}`);
  const suites = suite === "all" ? SUITES : [suite as Suite];
  return { timeMs: Math.round((seconds * 1000) / suites.length), seed, suites };
}

async function main(): Promise<number> {
  const { timeMs, seed, suites } = parse();
  const say = (line: string): void => void process.stdout.write(`${line}\n`);
  let crashes = 0;
  const lines: string[] = [];
  for (const suite of suites) {
    say(`fuzz ${suite}: seed ${seed}, ${Math.round(timeMs / 1000)} s (replay: npm run fuzz -- --suite ${suite} --seed ${seed} --time ${Math.round(timeMs / 1000)})`);
    const run = suite === "rest" ? runRestFuzz : runRaftFuzz;
    const result = await run({ seed, timeMs, log: (line) => say(`  ${line}`) });
    for (const line of result.detail) say(`  ${line}`);
    crashes += result.crashes;
    lines.push(`fuzz ${suite} seed=${seed} inputs=${result.inputs} crashes=${result.crashes}`);
  }
  for (const line of lines) say(line);
  return crashes === 0 ? 0 : 1;
}

main().then((code) => {
  process.exitCode = code;
}, (error: unknown) => {
  process.stderr.write(`fuzz: ${error instanceof Error ? error.stack ?? error.message : String(error)}\n`);
  process.exitCode = 2;
});
