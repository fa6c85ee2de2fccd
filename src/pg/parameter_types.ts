/**
 * The shape of one entry of the parameter catalogue (pg15_parameters.ts, generated from
 * pg_settings by scripts/gen_pg_parameters.ts).
 */

/** pg_settings.context, and "hidden" for the GUCs pg_settings does not show. */
export type PgContext = "internal" | "postmaster" | "sighup" | "superuser-backend" | "backend" | "superuser" | "user" | "hidden";

export interface PgParameter {
  readonly type: "bool" | "integer" | "real" | "string" | "enum";
  /** pg_settings.unit: the base unit of a number ("kB", "8kB", "ms", "s", "min" …). */
  readonly unit?: string;
  readonly min?: number;
  readonly max?: number;
  /** pg_settings.enumvals. */
  readonly values?: readonly string[];
  /** Spellings the server accepts that enumvals does not list ("true" for synchronous_commit). */
  readonly hidden?: readonly string[];
  readonly context: PgContext;
  /** false: a configuration file may not set it (internal, per-session only). */
  readonly inFile?: false;
}
