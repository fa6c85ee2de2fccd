/**
 * The REST fuzz (rest_fuzz.ts) against a real three-node cluster with authentication on, for a
 * bounded time. The seed is printed; FUZZ_SEED replays a run, FUZZ_TIME_MS changes its length.
 */
import t from "tap";
import { answerProblem, runRestFuzz } from "./rest_fuzz.js";

const seed = Number(process.env["FUZZ_SEED"] ?? 20261207);
const timeMs = Number(process.env["FUZZ_TIME_MS"] ?? 70_000);

t.test("the fuzz's checker refuses what the API must never answer", async (t) => {
  const request = { node: "pg1", method: "POST" as const, path: "/reload", auth: "right" as const, body: "{}", headers: {} };
  t.equal(answerProblem(request, { status: 202, text: '{"message":"reload scheduled"}' }), null);
  t.equal(answerProblem(request, { status: 400, text: '{"error":"badRequest","message":"POST /reload refused: its body takes no keys"}' }), null);
  t.match(answerProblem(request, { status: 503, text: '{"error":"dcsUnavailable","message":"no Raft leader is known"}' }), /status 503/);
  t.match(answerProblem(request, { status: 500, text: "" }), /status 500/);
  t.match(answerProblem(request, { status: 400, text: "Bad Request" }), /not JSON/);
  t.match(answerProblem(request, { status: 400, text: '{"message":"Client Error"}' }), /without an error code/);
  t.match(answerProblem(request, { status: 404, text: '{"error":"Not Found","message":"Not Found"}' }), /not a sentence/);
  t.match(answerProblem(request, { status: 400, text: '{"error":"badRequest","message":"the value is [object Object]"}' }), /leaks a placeholder/);
  t.match(answerProblem({ ...request, auth: "wrong" }, { status: 202, text: '{"message":"reload scheduled"}' }), /without the right credentials/);
});

t.test(`every mutating route of every node answers 2xx or 4xx with a sentence, and nothing breaks (seed ${seed})`, { timeout: 3 * timeMs + 300_000 }, async (t) => {
  t.comment(`replay with FUZZ_SEED=${seed}`);
  const result = await runRestFuzz({ seed, timeMs, inputsMin: 500, log: (line) => t.comment(line) });
  t.comment(`${result.inputs} inputs, ${result.crashes} crashes`);
  for (const line of result.detail) t.comment(line);
  t.ok(result.inputs >= 500, `enough inputs were tried (${result.inputs})`);
  t.equal(result.crashes, 0, `no crashes (FUZZ_SEED=${seed} replays them)`);
});
