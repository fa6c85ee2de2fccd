/**
 * The Raft fuzzer (raft_fuzz.ts), for FUZZ_TIME_MS (30 s unless the environment says otherwise)
 * or until it tried 1,000 inputs, whichever is later (at most four times as long). The seed is
 * fixed so that a run replays; FUZZ_SEED=<n> in the environment runs another one, and the seed
 * in use is printed either way.
 */
import t from "tap";
import { runRaftFuzz } from "./raft_fuzz.js";

const SEED = Number(process.env["FUZZ_SEED"] ?? 20_240_612);
const TIME_MS = Number(process.env["FUZZ_TIME_MS"] ?? 30_000);
const INPUTS_MIN = 1000;

t.test(`the Raft group survives hostile peers and payloads (seed ${SEED}; replay with FUZZ_SEED=${SEED})`, async (t) => {
  const result = await runRaftFuzz({ seed: SEED, timeMs: TIME_MS, inputsMin: INPUTS_MIN, log: (line) => t.comment(line) });
  t.ok(result.inputs >= INPUTS_MIN, `${result.inputs} inputs tried (at least ${INPUTS_MIN}, within four times ${TIME_MS} ms)`);
  t.equal(result.crashes, 0, "no crash, no fatal stop, no divergence, and the group still commits");
});
