/**
 * The diverged-reads checker: no member answers 200 on `/replica` or `/read-only` while its data
 * has diverged from the primary's (issue 14: a former primary started read-only on a forked
 * timeline served reads for minutes, without rows the cluster had and with rows it had lost).
 * Divergence is judged from each sample's PostgreSQL facts against the round's primary's timeline
 * history (divergence.ts), never from the agent. A sample counts only when it is stable: the
 * facts were read before the answers and the session that read them survived the answers, and a
 * diverged member stays diverged until it is rewound, which needs PostgreSQL stopped.
 */
import type { CheckResult } from "./checkers.js";
import { divergence, type HistoryEntry } from "./divergence.js";
import type { MemberSample, TimelineHistoryEvent } from "./history.js";

/** A stable sample of a member that is not the round's primary, with its verdict. */
export interface JudgedSample {
  readonly sample: MemberSample;
  readonly why: string | null;
}

const key = (node: string, timeline: number): string => `${node}|${timeline}`;

function historiesByPrimary(histories: readonly TimelineHistoryEvent[]): Map<string, HistoryEntry[]> {
  const out = new Map<string, HistoryEntry[]>();
  for (const h of histories) out.set(key(h.node, h.timeline), h.entries.map((e) => ({ timeline: e.timeline, switchpoint: BigInt(e.switchpoint) })));
  return out;
}

/** Every sample that can be judged, with why it is diverged (null: it is not). */
export function judgeSamples(samples: readonly MemberSample[], histories: readonly TimelineHistoryEvent[]): JudgedSample[] {
  const byPrimary = historiesByPrimary(histories);
  const judged: JudgedSample[] = [];
  for (const sample of samples) {
    if (sample.facts === null || !sample.stable || sample.primary === null || sample.primaryTimeline === null) continue;
    if (sample.node === sample.primary) continue;
    // Timeline 1 has no history file: nothing came before it.
    const history = sample.primaryTimeline === 1 ? [] : byPrimary.get(key(sample.primary, sample.primaryTimeline));
    if (history === undefined) continue;
    const verdict = divergence(sample.facts, sample.primaryTimeline, history);
    if (verdict === null) continue;
    judged.push({ sample, why: verdict.diverged ? verdict.why : null });
  }
  return judged;
}

const serves = (s: MemberSample): boolean => s.replica === 200 || s.readOnly === 200;

function routes(samples: readonly MemberSample[]): string {
  const names = [samples.some((s) => s.replica === 200) ? "/replica" : "", samples.some((s) => s.readOnly === 200) ? "/read-only" : ""];
  return names.filter((n) => n !== "").join(" and ");
}

/** Consecutive violations of one node (no judged sample of it in between that was fine) form one episode. */
function episodes(judged: readonly JudgedSample[]): JudgedSample[][] {
  const open = new Map<string, JudgedSample[]>();
  const out: JudgedSample[][] = [];
  for (const j of judged) {
    const violating = j.why !== null && serves(j.sample);
    const current = open.get(j.sample.node);
    if (violating && current !== undefined) current.push(j);
    else if (violating) {
      const episode = [j];
      open.set(j.sample.node, episode);
      out.push(episode);
    } else open.delete(j.sample.node);
  }
  return out;
}

export function checkDivergedReads(samples: readonly MemberSample[], histories: readonly TimelineHistoryEvent[]): CheckResult {
  const judged = judgeSamples(samples, histories);
  const diverged = judged.filter((j) => j.why !== null);
  const found = episodes(judged);
  const problems = found.map((episode) => {
    const first = episode[0]!;
    const last = episode[episode.length - 1]!;
    const s = first.sample;
    return `${s.node} answered 200 on ${routes(episode.map((e) => e.sample))} while diverged, ${first.sample.answeredMs}–${last.sample.answeredMs} ms (${episode.length} samples): ${first.why} (primary ${s.primary} on timeline ${s.primaryTimeline})`;
  });
  const servedSamples = found.reduce((n, e) => n + e.length, 0);
  const nodes = new Set(diverged.map((j) => j.sample.node));
  return {
    name: "diverged reads",
    ok: found.length === 0,
    figures: `judged=${judged.length} diverged=${diverged.length}${nodes.size > 0 ? ` (${[...nodes].sort().join(",")})` : ""} served_while_diverged=${servedSamples}`,
    problems,
  };
}
