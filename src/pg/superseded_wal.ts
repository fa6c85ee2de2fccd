/**
 * WAL segments of earlier timelines that a primary's own timeline supersedes, removed from its
 * pg_wal (issue 14: a rejoin copied every timeline's copy of the current segment).
 *
 * After many failovers with little WAL written, pg_wal holds one copy of the same few segments per
 * timeline: a promotion copies the segment of its switch point to the new timeline, and
 * PostgreSQL's checkpoints remove segments by number only, never an older timeline's copy of a
 * number still in use. pg_rewind copies every WAL file of its source whole, so each rejoin moved
 * all of them (≈ 500 MB after 30 timelines), and the rejoin took over 10 s.
 *
 * Which copy PostgreSQL reads for a segment number is fixed by the timeline history: the newest
 * timeline of the primary's history that began at or before that segment (crash recovery's
 * XLogFileReadAnyTLI; a walsender streaming a historic timeline reads the next timeline's file for
 * the segment of the switch). Any other copy of that number is never read by this server: it is
 * removed when the copy that is read is there, it is not waiting to be archived (archive_status
 * .ready), and the server's last checkpoint is on its current timeline (crash recovery starts
 * there). Only the primary prunes; a replica's pg_wal is PostgreSQL's to manage.
 */
import { readdir, readFile, stat, unlink } from "node:fs/promises";
import { join } from "node:path";
import * as E from "fp-ts/lib/Either.js";
import type { LocalPostgres } from "../ha/observation.js";
import type { Logger } from "../lib/logger.js";
import { lsnOrNull } from "./lsn.js";
import type { SqlSession } from "./sql.js";

/** A timeline of the primary's history and where it began (0 for the first). */
export interface TimelineStart {
  readonly timeline: number;
  readonly beginLsn: bigint;
}

/** How often the primary looks, at most, and again at once on a new timeline. */
export const SUPERSEDED_WAL_CHECK_MS = 60_000;

const SEGMENT_FILE = /^([0-9A-F]{8})([0-9A-F]{8})([0-9A-F]{8})(\.partial)?$/;

/**
 * The timelines of a history file ("<parent>\t<switch lsn>\t<reason>" per ancestor, oldest
 * first) followed by `current`, each with where it began; null when the file is not a history.
 */
export function timelineStarts(historyText: string, current: number): TimelineStart[] | null {
  const starts: TimelineStart[] = [];
  let begin = 0n;
  for (const line of historyText.split("\n")) {
    if (line.trim() === "" || line.startsWith("#")) continue;
    const [parentText, lsnText] = line.split("\t");
    const parent = Number(parentText);
    const end = lsnOrNull(lsnText ?? null);
    const previous = starts[starts.length - 1];
    if (!Number.isInteger(parent) || parent <= 0 || end === null || end < begin) return null;
    if (previous !== undefined && parent <= previous.timeline) return null;
    starts.push({ timeline: parent, beginLsn: begin });
    begin = end;
  }
  const last = starts[starts.length - 1];
  if (last !== undefined && last.timeline >= current) return null;
  starts.push({ timeline: current, beginLsn: begin });
  return starts;
}

/**
 * The WAL files of `names` (pg_wal's entries) that PostgreSQL on the last timeline of `starts`
 * never reads: a segment copy of another timeline than the one read for its number, when the
 * copy read is there too. `.partial` files follow their segment's verdict.
 */
export function supersededWalFiles(names: readonly string[], starts: readonly TimelineStart[], segmentBytes: number): string[] {
  if (starts.length < 2 || !Number.isInteger(segmentBytes) || segmentBytes <= 0) return [];
  const perId = 0x1_0000_0000n / BigInt(segmentBytes);
  const segments = starts.map((s) => ({ timeline: s.timeline, beginSegment: s.beginLsn / BigInt(segmentBytes) }));
  const readTimeline = (segment: bigint): number => {
    let chosen = segments[0]!.timeline;
    for (const s of segments) if (s.beginSegment <= segment) chosen = s.timeline;
    return chosen;
  };
  const present = new Set(names);
  const out: string[] = [];
  for (const name of names) {
    const match = SEGMENT_FILE.exec(name);
    if (match === null) continue;
    const timeline = Number.parseInt(match[1]!, 16);
    const segment = BigInt(`0x${match[2]}`) * perId + BigInt(`0x${match[3]}`);
    const read = readTimeline(segment);
    if (timeline === read) continue;
    const kept = `${read.toString(16).toUpperCase().padStart(8, "0")}${match[2]}${match[3]}`;
    if (present.has(kept)) out.push(name);
  }
  return out.sort();
}

/** Prunes the primary's pg_wal of superseded copies, at most once a minute and on a new timeline. */
export class SupersededWalPruner {
  private lastCheckMs = -Infinity;
  private lastTimeline: number | null = null;
  private segmentBytes: number | null = null;
  private running = false;

  /** `segmentBytes`: wal_segment_size, asked once (walSegmentBytes reads it from the server). */
  constructor(
    private readonly dataDir: string,
    private readonly readSegmentBytes: () => Promise<number | null>,
    private readonly logger: Logger,
  ) {}

  /**
   * Called with each observation; does nothing unless this is a primary due for a look. Resolves
   * once a look it started is over (callers need not wait).
   */
  consider(pg: LocalPostgres, checkpointTimeline: number | null, nowMs: number): Promise<void> {
    if (!this.due(pg, nowMs) || checkpointTimeline !== pg.timeline || pg.timeline === null) return Promise.resolve();
    this.lastCheckMs = nowMs;
    this.lastTimeline = pg.timeline;
    this.running = true;
    return this.prune(pg.timeline)
      .catch((error: unknown) => this.logger.warn({ error: String(error) }, "could not look for superseded WAL segments; PostgreSQL's own recycling goes on"))
      .finally(() => (this.running = false));
  }

  /** Whether a look is due for this observation (the caller reads the control data only then). */
  due(pg: LocalPostgres, nowMs: number): boolean {
    if (this.running || pg.process !== "running" || pg.role !== "primary" || pg.timeline === null || pg.timeline < 2) return false;
    return pg.timeline !== this.lastTimeline || nowMs - this.lastCheckMs >= SUPERSEDED_WAL_CHECK_MS;
  }

  private async prune(timeline: number): Promise<void> {
    const segmentBytes = this.segmentBytes ?? (await this.readSegmentBytes());
    if (segmentBytes === null) return;
    this.segmentBytes = segmentBytes;
    const wal = join(this.dataDir, "pg_wal");
    const history = await readFile(join(wal, `${timeline.toString(16).toUpperCase().padStart(8, "0")}.history`), "utf8");
    const starts = timelineStarts(history, timeline);
    if (starts === null) {
      this.logger.warn({ timeline }, "the timeline's history file cannot be read as one; no superseded WAL segment is removed");
      return;
    }
    const names = await readdir(wal);
    const waiting = new Set((await readdir(join(wal, "archive_status")).catch(() => [] as string[])).filter((n) => n.endsWith(".ready")).map((n) => n.slice(0, -".ready".length)));
    const doomed = supersededWalFiles(names, starts, segmentBytes).filter((name) => !waiting.has(name));
    if (doomed.length === 0) return;
    let bytes = 0;
    const removed: string[] = [];
    for (const name of doomed) {
      const path = join(wal, name);
      const size = (await stat(path).catch(() => null))?.size ?? 0;
      try {
        await unlink(path);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === "ENOENT") continue;
        throw error;
      }
      bytes += size;
      removed.push(name);
    }
    this.logger.info({ timeline, files: removed.length, first: removed[0], last: removed[removed.length - 1], megabytes: Math.round(bytes / 1048576) }, `removed ${removed.length} WAL segment copies of earlier timelines that timeline ${timeline} supersedes (PostgreSQL never reads them; pg_rewind would copy them to every rejoining member)`);
  }

}

/** wal_segment_size in bytes as the server has it (a power of two), or null. */
export async function walSegmentBytes(session: SqlSession): Promise<number | null> {
  const rows = await session.query<{ setting: string }>("SELECT setting FROM pg_settings WHERE name = 'wal_segment_size'");
  if (E.isLeft(rows)) return null;
  const bytes = Number(rows.right[0]?.setting);
  return Number.isInteger(bytes) && bytes > 0 && (bytes & (bytes - 1)) === 0 ? bytes : null;
}
