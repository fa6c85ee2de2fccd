/**
 * A logger that writes one JSON object per line, in pino's shape (`level` 20/30/40/50, `time`,
 * the base and child fields, the call's fields, `msg`), so tools that read pino's lines read
 * these. It replaces pino in the processes that must stay small (issue 13: pino and its stream
 * cost an idle process about 8 MB of its 40–80 MB budget); what raftgres logs is a few lines a
 * second at most. Pure: the caller passes where lines go and the clock.
 *
 * Errors become {type, message, stack}, bigints decimal strings; a value that cannot be
 * serialized (a cycle) is replaced by a note rather than lose the line.
 */
import type { LogFields, Logger } from "./logger.js";

export type LogLevel = "debug" | "info" | "warn" | "error";

const LEVELS: Readonly<Record<LogLevel, number>> = { debug: 20, info: 30, warn: 40, error: 50 };

export interface JsonLoggerOptions {
  /** Receives each line, newline included. */
  readonly write: (line: string) => void;
  readonly now: () => number;
  /** Fields on every line (pid, member …). */
  readonly base?: LogFields;
  /** Lines below this level are dropped (default info). */
  readonly level?: LogLevel;
}

function replacer(_key: string, value: unknown): unknown {
  if (typeof value === "bigint") return value.toString();
  if (value instanceof Error) return { type: value.name, message: value.message, stack: value.stack };
  return value;
}

function line(level: LogLevel, time: number, fields: LogFields, message: string): string {
  const record = { level: LEVELS[level], time, ...fields, msg: message };
  try {
    return `${JSON.stringify(record, replacer)}\n`;
  } catch (error: unknown) {
    const why = error instanceof Error ? error.message : String(error);
    return `${JSON.stringify({ level: LEVELS[level], time, msg: message, logError: `the fields could not be serialized: ${why}` })}\n`;
  }
}

export function jsonLogger(options: JsonLoggerOptions, bound: LogFields = options.base ?? {}): Logger {
  const threshold = LEVELS[options.level ?? "info"];
  const log = (level: LogLevel) => (fields: LogFields, message: string): void => {
    if (LEVELS[level] < threshold) return;
    options.write(line(level, options.now(), { ...bound, ...fields }, message));
  };
  return {
    debug: log("debug"),
    info: log("info"),
    warn: log("warn"),
    error: log("error"),
    child: (fields) => jsonLogger(options, { ...bound, ...fields }),
  };
}
