/**
 * What PostgreSQL makes of its configuration files: pg_file_settings parses them afresh on every
 * query (PostgreSQL docs, "pg_file_settings") and says, line by line, what it would refuse. A
 * reload with one such line applies nothing of the file ("configuration file contains errors;
 * no changes were applied" in the server log alone), so every later change would be silently
 * ignored; the adapter reads this view after each reload and reports what it finds.
 *
 * A postmaster parameter whose new value is valid shows as "setting could not be applied" too —
 * it waits for a restart (pending_restart), which is no error; such a line counts only when
 * parameter_check.ts refuses its value.
 */
import * as E from "fp-ts/lib/Either.js";
import { serverProblem } from "./parameter_check.js";
import type { SqlSession } from "./sql.js";

const ERRORS = `SELECT f.sourcefile, f.sourceline, f.name, f.setting, f.error, s.context
  FROM pg_file_settings f LEFT JOIN pg_settings s ON lower(s.name) = lower(f.name)
  WHERE f.error IS NOT NULL ORDER BY f.seqno`;

/** Lines quoted at most: a file full of errors is named by its first ones. */
const FILE_ERRORS_MAX = 20;

interface ErrorRow {
  readonly sourcefile: string | null;
  readonly sourceline: number | null;
  readonly name: string | null;
  readonly setting: string | null;
  readonly error: string;
  readonly context: string | null;
}

/** One sentence per line PostgreSQL refuses in its configuration files now; Left when unreadable. */
export async function configurationFileErrors(session: SqlSession): Promise<E.Either<string, string[]>> {
  const rows = await session.query<ErrorRow & Record<string, unknown>>(ERRORS);
  if (E.isLeft(rows)) return E.left(`pg_file_settings cannot be read: ${rows.left.message}`);
  const errors = rows.right.filter((row) => !waitsForRestart(row)).map(describe);
  return E.right(errors.length > FILE_ERRORS_MAX ? [...errors.slice(0, FILE_ERRORS_MAX), `… and ${errors.length - FILE_ERRORS_MAX} more`] : errors);
}

function waitsForRestart(row: ErrorRow): boolean {
  return row.context === "postmaster" && row.error === "setting could not be applied" && row.name !== null && serverProblem(row.name, row.setting ?? "", "") === null;
}

function describe(row: ErrorRow): string {
  const where = row.sourcefile === null ? "a configuration file" : `${row.sourcefile}${row.sourceline === null ? "" : ` line ${row.sourceline}`}`;
  const what = row.name === null ? "" : ` (${row.name} = ${JSON.stringify(row.setting ?? "")})`;
  return `${where}${what}: ${row.error}`;
}
