/**
 * At most one scheduled restart per node (Patroni keeps it in memory the same way): a timer that
 * restarts PostgreSQL at the time given, if the filters still match then. It is lost when the
 * agent stops, and other members do not see it (GET /cluster shows only this node's).
 */
import type { Logger } from "../lib/logger.js";
import type { ScheduledRestartView } from "./patroni_json.js";
import type { RestartFilters } from "./restart_request.js";

/** setTimeout's longest delay (2^31 - 1 ms, about 24.8 days); longer waits are re-armed. */
const TIMER_DELAY_MS_MAX = 2 ** 31 - 1;

export class RestartSchedule {
  private scheduled: { filters: RestartFilters; timer: NodeJS.Timeout } | null = null;

  constructor(
    private readonly run: (filters: RestartFilters) => Promise<void>,
    private readonly logger: Logger,
  ) {}

  /** False if a restart is already scheduled. */
  schedule(filters: RestartFilters, atMs: number): boolean {
    if (this.scheduled !== null) return false;
    this.scheduled = { filters, timer: this.arm(filters, atMs) };
    return true;
  }

  private arm(filters: RestartFilters, atMs: number): NodeJS.Timeout {
    const delayMs = Math.max(0, atMs - Date.now());
    return setTimeout(() => {
      if (this.scheduled === null) return;
      if (atMs > Date.now()) {
        this.scheduled = { filters, timer: this.arm(filters, atMs) };
        return;
      }
      this.scheduled = null;
      this.run(filters).catch((error: unknown) => this.logger.error({ error: String(error) }, "the scheduled restart failed"));
    }, Math.min(delayMs, TIMER_DELAY_MS_MAX));
  }

  /** False if none was scheduled. */
  cancel(): boolean {
    if (this.scheduled === null) return false;
    clearTimeout(this.scheduled.timer);
    this.scheduled = null;
    return true;
  }

  view(): ScheduledRestartView | null {
    if (this.scheduled === null) return null;
    const f = this.scheduled.filters;
    return {
      schedule: new Date(f.scheduleMs ?? 0).toISOString(),
      ...(f.role === null ? {} : { role: f.role }),
      ...(f.postgresVersionText === null ? {} : { postgres_version: f.postgresVersionText }),
      ...(f.restartPending ? { restart_pending: true } : {}),
      ...(f.timeoutMs === null ? {} : { timeout: f.timeoutMs / 1000 }),
    };
  }
}
