/**
 * What the failover benchmark prints once its runs are done (failover_bench.ts): a summary line
 * per scenario, `table …` lines (per scenario and client, min / median / max over the runs and
 * the median against the DSN's), `headline …` lines naming their scenario, and the last line.
 * Pure functions of the runs' results: every figure printed is one measured.
 */
import { describeVariant, HAPROXY_VARIANTS } from "./failover_haproxy.js";
import { type Downtime, formatSpread, type Lost, spread } from "./failover_measure.js";
import type { PgbouncerRun } from "./failover_pgbouncer.js";
import { SCENARIOS, type ScenarioId, TITLES } from "./failover_scenarios.js";

export interface RunResult {
  readonly scenario: ScenarioId;
  readonly downtimes: Readonly<Record<string, Downtime>>;
  readonly dualMs: number;
  readonly lost: Lost;
  /** The pgbouncer phase's runs only. */
  readonly pgbouncer: PgbouncerRun | null;
}


export function summaryLines(results: readonly RunResult[], scenarios: readonly ScenarioId[], writers: readonly string[], failed: ReadonlyMap<ScenarioId, number>): string[] {
  return scenarios.map((s) => {
    const runs = results.filter((r) => r.scenario === s);
    const down = writers.map((w) => {
      const values = runs.map((r) => r.downtimes[w]!);
      const unrecovered = values.filter((d) => !d.recovered).length;
      return `${w} ${formatSpread(spread(values.map((d) => d.ms)))}${unrecovered === 0 ? "" : ` (${unrecovered} runs without recovery: lower bounds)`}`;
    }).join("; ");
    const lost = runs.reduce((n, r) => n + r.lost.total, 0);
    const tail = runs.reduce((n, r) => n + r.lost.tail, 0);
    const durable = runs.reduce((n, r) => n + r.lost.durable, 0);
    const unplaced = runs.reduce((n, r) => n + r.lost.unplaced, 0);
    const failures = failed.get(s) ?? 0;
    return `${s} ${TITLES[s]}: ${runs.length} runs${failures === 0 ? "" : `, ${failures} FAILED`}; write downtime ${down}; dual primary ${runs.reduce((n, r) => n + r.dualMs, 0)} ms; lost ${lost} acknowledged writes (${tail} in the unreplicated tail, ${durable} that should have survived, ${unplaced} unplaced)`;
  });
}

const WRITER_LABELS: Readonly<Record<string, string>> = {
  dsn: "libpq multi-host DSN",
  ...Object.fromEntries(HAPROXY_VARIANTS.map((v) => [v.writer, describeVariant(v)])),
  pgbouncer_statement: "through pgbouncer, single INSERTs",
  pgbouncer_transaction: "through pgbouncer, transactions",
};

export function medianOf(results: readonly RunResult[], scenario: ScenarioId, writer: string): number {
  const values = results.filter((r) => r.scenario === scenario && r.downtimes[writer] !== undefined).map((r) => r.downtimes[writer]!.ms);
  return values.length === 0 ? NaN : spread(values).median;
}

/** One line per scenario and client: the downtime over the runs, and its median against the DSN's. */
export function tableLines(results: readonly RunResult[], scenarios: readonly ScenarioId[], writers: readonly string[], phase: string): string[] {
  return scenarios.flatMap((s) => {
    const runs = results.filter((r) => r.scenario === s);
    if (runs.length === 0) return [];
    const dsn = medianOf(runs, s, "dsn");
    return writers.map((w) => {
      const values = runs.map((r) => r.downtimes[w]!);
      const failedAttempts = values.reduce((n, d) => n + d.failedAttempts, 0);
      const unrecovered = values.filter((d) => !d.recovered).length;
      const delta = w === "dsn" ? "" : `; median ${signed(medianOf(runs, s, w) - dsn)} ms against the DSN`;
      return `table ${phase} ${s} ${w} (${WRITER_LABELS[w] ?? w}): ${runs.length} runs; write downtime ${formatSpread(spread(values.map((d) => d.ms)))}${unrecovered === 0 ? "" : ` (${unrecovered} without recovery)`}; ${failedAttempts} failed attempts${delta}`;
    });
  });
}

function signed(n: number): string {
  return Number.isNaN(n) ? "NaN" : n >= 0 ? `+${n}` : String(n);
}

export function pgbouncerTableLine(results: readonly RunResult[]): string {
  const runs = results.filter((r) => r.pgbouncer !== null).map((r) => r.pgbouncer!);
  const failed = runs.reduce((n, r) => n + r.failed, 0);
  const transactions = runs.reduce((n, r) => n + r.transactions, 0);
  return `table pgbouncer S2 clients through pgbouncer (agents pausing it): ${runs.length} runs; ${transactions} transactions, ${failed} failed; longest wait per run ${formatSpread(spread(runs.map((r) => r.longestWaitMs)))}; median wait per run ${formatSpread(spread(runs.map((r) => r.medianWaitMs)))}`;
}

/** The last lines: what a reader looks for first, each naming its scenario. */
export function headlineLines(main: readonly RunResult[], pgbouncer: readonly RunResult[]): string[] {
  const lines = (["S1", "S2", "S5"] as const).flatMap((s) => {
    if (!main.some((r) => r.scenario === s)) return [];
    const m = (w: string): number => medianOf(main, s, w);
    const dsn = m("dsn");
    const through = (w: string): string => `${m(w)} ms (${signed(m(w) - dsn)})`;
    return [`headline ${s} ${TITLES[s]}: median write downtime through the libpq DSN ${dsn} ms; through HAProxy with the push ${through("haproxy_push")} with packaging/haproxy.cfg's checks, ${through("haproxy_push_3s")} with inter 3s fall 3 rise 2; without the push ${through("haproxy")} and ${through("haproxy_3s")} (against the DSN in brackets)`];
  });
  const runs = pgbouncer.filter((r) => r.pgbouncer !== null).map((r) => r.pgbouncer!);
  if (runs.length > 0) {
    const longest = spread(runs.map((r) => r.longestWaitMs));
    lines.push(`headline S2 ${TITLES.S2} through pgbouncer paused by the agents: ${runs.reduce((n, r) => n + r.failed, 0)} failed client transactions in ${runs.length} runs; longest wait per run median ${longest.median} ms (max ${longest.max} ms; issue 16's target ≤ 1000 ms)`);
  }
  return lines;
}

export interface PhaseOutcome {
  readonly results: RunResult[];
  readonly failedRuns: number;
}

export interface MainOutcome extends PhaseOutcome {
  readonly lost: Lost;
  readonly dualMs: number;
}

/** The bench's last line: the issue 7 fields first, then issue 16's. */
export function lastLine(opts: { readonly runs: number; readonly s4Runs: number; readonly mode: string }, main: MainOutcome, pgb: PhaseOutcome | null): string {
  const results = main.results;
  const s = (id: ScenarioId, w: string): string => String(medianOf(results, id, w));
  const pgbRuns = (pgb?.results ?? []).filter((r) => r.pgbouncer !== null).map((r) => r.pgbouncer!);
  const extras = [
    `s4_rto_ms_median=${s("S4", "dsn")}`,
    `s5_rto_ms_median=${s("S5", "dsn")}`,
    ...SCENARIOS.map((id) => `haproxy_${id.toLowerCase()}_ms_median=${s(id, "haproxy")}`),
    `s4_dual_primary_ms=${results.filter((r) => r.scenario === "S4").reduce((n, r) => n + r.dualMs, 0)}`,
    `s5_dual_primary_ms=${results.filter((r) => r.scenario === "S5").reduce((n, r) => n + r.dualMs, 0)}`,
    `lost_acked_tail=${main.lost.tail}`,
    `lost_acked_durable=${main.lost.durable}`,
    `lost_acked_unplaced=${main.lost.unplaced}`,
    `failed_runs=${main.failedRuns + (pgb?.failedRuns ?? 0)}`,
    `runs=${opts.runs}`,
    `s4_runs=${opts.s4Runs}`,
    `mode=${opts.mode}`,
    `haproxy_push_s1_ms_median=${s("S1", "haproxy_push")}`,
    `haproxy_push_s2_ms_median=${s("S2", "haproxy_push")}`,
    `pgbouncer_s2_failed=${pgbRuns.length === 0 ? "NaN" : pgbRuns.reduce((n, r) => n + r.failed, 0)}`,
    `pgbouncer_s2_wait_ms_median=${spread(pgbRuns.map((r) => r.longestWaitMs)).median}`,
  ];
  return `bench:failover crash_rto_ms_median=${s("S1", "dsn")} switchover_ms_median=${s("S2", "dsn")} postmaster_rto_ms_median=${s("S3", "dsn")} dual_primary_ms=${main.dualMs} lost_acked=${main.lost.total} ${extras.join(" ")}`;
}

