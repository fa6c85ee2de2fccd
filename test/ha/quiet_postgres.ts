/**
 * The part of a fake PostgresPort the HA loop tests do not look at: reloads and parameters that
 * succeed, no configuration problems or pending restart, and events nobody fires. A fake extends
 * it and overrides what its test is about.
 */
import type { PostgresAction } from "../../src/ha/actions.js";
import type { LocalPostgres } from "../../src/ha/observation.js";
import type { PgResult, PostgresPort, PostmasterExit } from "../../src/ha/ports.js";
import { DONE } from "../../src/pg/results.js";

export abstract class QuietPostgres implements PostgresPort {
  abstract observe(): Promise<LocalPostgres>;
  abstract run(action: PostgresAction): Promise<PgResult>;
  abstract postmasterPid(): number | null;

  reload(): Promise<PgResult> {
    return Promise.resolve(DONE);
  }

  applyParameters(): Promise<PgResult> {
    return Promise.resolve(DONE);
  }

  configurationProblems(): readonly string[] {
    return [];
  }

  pendingRestart(): Readonly<Record<string, { oldValue: string; newValue: string }>> {
    return {};
  }

  onUnexpectedExit(_listener: (exit: PostmasterExit) => void): () => void {
    return () => {};
  }

  onSpawned(_listener: (pid: number) => void): () => void {
    return () => {};
  }

  onWritable(_listener: () => void): () => void {
    return () => {};
  }
}
