/**
 * Progress of the long copies (pg_basebackup, pg_rewind) for the status endpoint and the log:
 * both print "123/4567 kB (2%)" lines with --progress; the latest is kept, and logged at info
 * at most every PROGRESS_LOG_INTERVAL_MS.
 */
import type { Logger } from "../lib/logger.js";
import { PROGRESS_LOG_INTERVAL_MS } from "./constants.js";

export type ProgressAction = "clone" | "rewind";

export interface ActionProgress {
  readonly action: ProgressAction;
  /** 0–100 once the program has printed an estimate. */
  readonly percent: number | null;
  /** The program's last line. */
  readonly detail: string;
}

const PERCENT = /(\d+)\/(\d+) kB \((\d+)%\)/;

export class ProgressReporter {
  private latest: ActionProgress | null = null;
  private lastLogMs = 0;

  constructor(private readonly logger: Logger) {}

  current(): ActionProgress | null {
    return this.latest;
  }

  begin(action: ProgressAction): void {
    this.latest = { action, percent: null, detail: "starting" };
    this.lastLogMs = 0;
  }

  /** A line of the program's output. */
  line(text: string): void {
    if (this.latest === null) return;
    const match = PERCENT.exec(text);
    const percent = match === null ? this.latest.percent : Math.min(100, Number(match[3]));
    this.latest = { action: this.latest.action, percent, detail: text.trim() };
    const now = Date.now();
    if (match === null || now - this.lastLogMs >= PROGRESS_LOG_INTERVAL_MS) {
      this.lastLogMs = match === null ? this.lastLogMs : now;
      this.logger.info({ action: this.latest.action, percent, detail: this.latest.detail }, `${this.latest.action}: ${text.trim()}`);
    }
  }

  end(): void {
    this.latest = null;
  }
}
