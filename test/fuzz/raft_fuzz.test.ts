/**
 * The Raft fuzzer (raft_fuzz.ts), bounded to FUZZ_TIME_MS (30 s unless the environment says
 * otherwise). The seed is fixed so that a run replays; FUZZ_SEED=<n> in the environment runs
 * another one, and the seed in use is printed either way.
 */
import t from "tap";
import { runRaftFuzz } from "./raft_fuzz.js";

const SEED = Number(process.env["FUZZ_SEED"] ?? 20_240_612);
const TIME_MS = Number(process.env["FUZZ_TIME_MS"] ?? 30_000);

t.test(`the Raft group survives hostile peers and payloads (seed ${SEED}; replay with FUZZ_SEED=${SEED})`, async (t) => {
  const result = await runRaftFuzz({ seed: SEED, timeMs: TIME_MS, log: (line) => t.comment(line) });
  t.ok(result.inputs > 1000, `${result.inputs} inputs tried`);
  t.equal(result.crashes, 0, "no crash, no fatal stop, no divergence, and the group still commits");
});
