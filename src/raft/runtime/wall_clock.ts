/**
 * The wall clock of this process: Date.now(), unless a clock fault is injected for the
 * fault-injection harness (test/jepsen-like) through RAFTGRES_CLOCK_FAULT_FILE, a JSON file
 * `{"offsetMs": n, "rate": r}` re-read every 200 ms: the clock then runs `rate` times as fast as
 * the real one from the moment the fault was read, shifted by `offsetMs`. Only the wall clock
 * moves — it stamps Raft entries, the DCS's notion of time; the monotonic clock of the lease
 * deadlines and the watchdog is the kernel's, which NTP cannot step either.
 */
import { readFileSync } from "node:fs";

interface Fault {
  readonly offsetMs: number;
  readonly rate: number;
}

const NO_FAULT: Fault = { offsetMs: 0, rate: 1 };
const RELOAD_MS = 200;

let fault: Fault = NO_FAULT;
/** Where the current fault started: real time and the clock's value then (piecewise linear). */
let anchorRealMs = Date.now();
let anchorClockMs = anchorRealMs;

function readFault(path: string): Fault {
  try {
    const parsed = JSON.parse(readFileSync(path, "utf8")) as Partial<Fault>;
    const offsetMs = typeof parsed.offsetMs === "number" && Number.isFinite(parsed.offsetMs) ? parsed.offsetMs : 0;
    const rate = typeof parsed.rate === "number" && Number.isFinite(parsed.rate) && parsed.rate > 0 ? parsed.rate : 1;
    return { offsetMs, rate };
  } catch {
    return NO_FAULT;
  }
}

function unskewed(realMs: number): number {
  return anchorClockMs + (realMs - anchorRealMs) * fault.rate;
}

function apply(next: Fault): void {
  if (next.offsetMs === fault.offsetMs && next.rate === fault.rate) return;
  const real = Date.now();
  // The rate part continues from where it is; the offset is a step.
  anchorClockMs = unskewed(real);
  anchorRealMs = real;
  fault = next;
}

const faultFile = process.env["RAFTGRES_CLOCK_FAULT_FILE"];
if (faultFile !== undefined && faultFile !== "") {
  apply(readFault(faultFile));
  setInterval(() => apply(readFault(faultFile)), RELOAD_MS).unref();
}

/** Milliseconds since the epoch by this process's (possibly faulty) wall clock. */
export function wallClockMs(): number {
  return fault === NO_FAULT ? Date.now() : Math.round(unskewed(Date.now()) + fault.offsetMs);
}
