/**
 * The REST fuzz (rest_fuzz.ts) against a real three-node cluster with authentication on, for a
 * bounded time. The seed is printed; FUZZ_SEED replays a run, FUZZ_TIME_MS changes its length.
 */
import t from "tap";
import { runRestFuzz } from "./rest_fuzz.js";

const seed = Number(process.env["FUZZ_SEED"] ?? 20261207);
const timeMs = Number(process.env["FUZZ_TIME_MS"] ?? 70_000);

t.test(`every mutating route of every node answers 2xx or 4xx with a sentence, and nothing breaks (seed ${seed})`, { timeout: timeMs + 300_000 }, async (t) => {
  t.comment(`replay with FUZZ_SEED=${seed}`);
  const result = await runRestFuzz({ seed, timeMs, log: (line) => t.comment(line) });
  t.comment(`${result.inputs} inputs, ${result.crashes} crashes`);
  for (const line of result.detail) t.comment(line);
  t.ok(result.inputs >= 500, `enough inputs were tried (${result.inputs})`);
  t.equal(result.crashes, 0, `no crashes (FUZZ_SEED=${seed} replays them)`);
});
