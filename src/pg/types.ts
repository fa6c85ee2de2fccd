/**
 * The brands of the cluster vocabulary that the adapter uses, taken through src/ha (src/pg may
 * import src/ha and src/lib only, scripts/import_rules.ts): a member name and a WAL position.
 */
import type { Upstream } from "../ha/actions.js";
import type { LocalPostgres } from "../ha/observation.js";

export type MemberName = Upstream["member"];
export type Lsn = NonNullable<LocalPostgres["walWritten"]>;
