/**
 * The logging interface the code depends on. It matches the shape of a pino logger
 * (`log.info({ peer }, "message")`), so the composition root passes its JSON-lines logger
 * (json_logger.ts), tests pass a recorder,
 * and pure code (the Raft core) can log without doing I/O itself.
 */
export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(fields: LogFields, message: string): void;
  info(fields: LogFields, message: string): void;
  warn(fields: LogFields, message: string): void;
  error(fields: LogFields, message: string): void;
  child(fields: LogFields): Logger;
}

export const SILENT_LOGGER: Logger = {
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
  child: () => SILENT_LOGGER,
};

export interface LoggedLine {
  readonly level: "debug" | "info" | "warn" | "error";
  readonly fields: LogFields;
  readonly message: string;
}

/** Keeps every line in memory: for tests that assert what was logged. */
export function createRecordingLogger(lines: LoggedLine[] = [], bound: LogFields = {}): Logger & { lines: LoggedLine[] } {
  const record = (level: LoggedLine["level"]) => (fields: LogFields, message: string): void => {
    lines.push({ level, fields: { ...bound, ...fields }, message });
  };
  return {
    lines,
    debug: record("debug"),
    info: record("info"),
    warn: record("warn"),
    error: record("error"),
    child: (fields) => createRecordingLogger(lines, { ...bound, ...fields }),
  };
}
