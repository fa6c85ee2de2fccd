/**
 * The timeline picture of a run (SVG, no dependency): one row of faults, then per node a row
 * whose colour says when it answered as primary (sampled) and ticks for each acknowledged write
 * it took (write availability) and red marks where it answered 200 on /replica or /read-only while
 * diverged, plus a row of failed or unknown writes of the multi-host client.
 */
import type { Event, FaultEvent, SampleEvent, WriteEvent } from "../../lab/jepsen/history.js";

const WIDTH = 1200;
const LEFT = 110;
const ROW = 28;
const PALETTE = ["#1f77b4", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf"];

function escape(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

export function timelineSvg(events: readonly Event[], nodes: readonly string[], title: string, divergedServing: readonly { node: string; atMs: number }[] = []): string {
  // A loop, not Math.max(...): a long run records more events than a call may take arguments.
  let endMs = 1;
  for (const e of events) endMs = Math.max(endMs, "atMs" in e ? e.atMs : e.type === "write" ? e.endMs : e.type === "dcs" && Number.isFinite(e.endMs) ? e.endMs : 0);
  const x = (ms: number): number => LEFT + ((WIDTH - LEFT - 10) * ms) / endMs;
  const rows = 2 + nodes.length;
  const height = 40 + rows * ROW + 30;
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" font-family="sans-serif" font-size="11">`);
  out.push(`<rect width="100%" height="100%" fill="white"/>`);
  out.push(`<text x="10" y="18" font-size="13" font-weight="bold">${escape(title)}</text>`);
  const rowY = (i: number): number => 30 + i * ROW;
  // Faults.
  out.push(`<text x="10" y="${rowY(0) + 16}">faults</text>`);
  const starts = events.filter((e): e is FaultEvent => e.type === "fault" && e.phase === "start");
  for (const start of starts) {
    const end = events.find((e): e is FaultEvent => e.type === "fault" && e.phase === "end" && e.step === start.step && e.name === start.name);
    const x0 = x(start.atMs);
    const x1 = x(end?.atMs ?? endMs);
    out.push(`<rect x="${x0}" y="${rowY(0) + 4}" width="${Math.max(1, x1 - x0)}" height="${ROW - 8}" fill="#d62728" opacity="0.6"><title>${escape(`${start.name}: ${start.detail}`)}</title></rect>`);
    out.push(`<text x="${x0 + 2}" y="${rowY(0) + 17}" fill="white" font-size="9">${escape(start.name)}</text>`);
  }
  // Primaries and acknowledged writes per node.
  const samples = events.filter((e): e is SampleEvent => e.type === "sample");
  const writes = events.filter((e): e is WriteEvent => e.type === "write");
  nodes.forEach((node, i) => {
    const y = rowY(1 + i);
    const colour = PALETTE[i % PALETTE.length]!;
    out.push(`<text x="10" y="${y + 16}">${escape(node)}</text>`);
    out.push(`<line x1="${LEFT}" y1="${y + ROW / 2}" x2="${WIDTH - 10}" y2="${y + ROW / 2}" stroke="#ddd"/>`);
    for (let s = 0; s < samples.length; s++) {
      const sample = samples[s]!;
      if (!sample.primaries.includes(node)) continue;
      const next = samples[s + 1]?.atMs ?? endMs;
      out.push(`<rect x="${x(sample.atMs)}" y="${y + 3}" width="${Math.max(1, x(next) - x(sample.atMs))}" height="${ROW - 6}" fill="${colour}" opacity="0.25"/>`);
    }
    const acked = writes.filter((w) => w.outcome === "ok" && w.node === node);
    // One tick per 100 ms bucket with at least one acknowledgement, to keep the file small.
    const buckets = new Set(acked.map((w) => Math.floor(w.endMs / 100)));
    for (const bucket of buckets) out.push(`<rect x="${x(bucket * 100)}" y="${y + 8}" width="1.5" height="${ROW - 16}" fill="${colour}"/>`);
    for (const mark of divergedServing.filter((m) => m.node === node)) {
      out.push(`<rect x="${x(mark.atMs)}" y="${y + 1}" width="3" height="5" fill="#d62728"><title>200 while diverged</title></rect>`);
    }
  });
  // Failed writes of the multi-host client.
  const y = rowY(1 + nodes.length);
  out.push(`<text x="10" y="${y + 16}">dsn: no ack</text>`);
  const failed = new Set(writes.filter((w) => w.writer === "dsn" && w.outcome !== "ok").map((w) => Math.floor(w.startMs / 100)));
  for (const bucket of failed) out.push(`<rect x="${x(bucket * 100)}" y="${y + 8}" width="1.5" height="${ROW - 16}" fill="#ff7f0e"/>`);
  // Axis.
  const axisY = rowY(rows) + 12;
  for (let s = 0; s <= endMs / 1000; s += Math.max(1, Math.round(endMs / 1000 / 12))) {
    out.push(`<line x1="${x(s * 1000)}" y1="${axisY - 8}" x2="${x(s * 1000)}" y2="${axisY - 4}" stroke="#333"/>`);
    out.push(`<text x="${x(s * 1000) - 6}" y="${axisY + 6}">${s}s</text>`);
  }
  out.push("</svg>");
  return out.join("\n");
}
