/**
 * The injectable wall-clock fault (RAFTGRES_CLOCK_FAULT_FILE) of the fault-injection harness:
 * a child process reads its clock before and after the file changes.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t from "tap";

const dir = mkdtempSync(join(tmpdir(), "raftgres-clock-"));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

function measure(fault: unknown, waitMs: number): number {
  const file = join(dir, "fault.json");
  writeFileSync(file, JSON.stringify(fault));
  const script = `import { wallClockMs } from "./src/raft/runtime/wall_clock.ts";
const real0 = Date.now(), clock0 = wallClockMs();
setTimeout(() => { console.log(JSON.stringify({ offset: clock0 - real0, drift: (wallClockMs() - clock0) - (Date.now() - real0) })); process.exit(0); }, ${waitMs});`;
  const run = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { env: { ...process.env, RAFTGRES_CLOCK_FAULT_FILE: file }, encoding: "utf8", timeout: 20_000 });
  const out = JSON.parse(run.stdout.trim()) as { offset: number; drift: number };
  return fault === null ? out.offset : (fault as { rate?: number }).rate !== undefined ? out.drift : out.offset;
}

t.test("an offset shifts the clock; a rate makes it drift", async (t) => {
  const offset = measure({ offsetMs: 5000 }, 10);
  t.ok(offset >= 4990 && offset <= 5010, `offset ${offset} ms`);
  const drift = measure({ offsetMs: 0, rate: 2 }, 500);
  t.ok(drift >= 400, `a clock at rate 2 gained ${drift} ms in 500 ms`);
  const none = measure({}, 10);
  t.ok(Math.abs(none) <= 5, `no fault: ${none} ms`);
});
