/**
 * The cluster's postgresql.pg_hba and use_slots (src/dcs/dynamic_postgresql.ts), followed as the
 * cluster state changes and handed to the PostgreSQL adapter: pg_hba.conf is rewritten and
 * reloaded (src/pg/hba.ts, node.yml's own postgresql.pg_hba winning over the cluster's), and a
 * replica names its slot or not (src/pg/server_files.ts). Patroni applies an edit-config of
 * these with a reload too. use_pg_rewind needs nothing here: the HA rules read it from the
 * settings of each cycle (src/ha/settings.ts).
 */
import * as E from "fp-ts/lib/Either.js";
import type { DcsClient } from "../dcs/client.js";
import { dynamicPgHba, pgHbaProblem } from "../dcs/dynamic_postgresql.js";
import { isJsonObject, type JsonObject } from "../dcs/json.js";
import type { Scope } from "../dcs/model.js";
import type { ScopeView } from "../dcs/views.js";
import { resolveSwitch } from "../ha/settings.js";
import type { Logger } from "../lib/logger.js";

/** What this needs of the adapter (PostgresInstance). */
export interface ClusterPostgresqlTarget {
  setClusterHba(lines: readonly string[] | null): Promise<E.Either<string, void>>;
  setUseSlots(on: boolean): Promise<void>;
}

/**
 * The config the cluster's settings come from: the stored one; before the first is written
 * (version 0), bootstrap.dcs, which becomes it when this member bootstraps the cluster.
 */
export function clusterConfigOf(view: ScopeView | null, bootstrapDcs: JsonObject): JsonObject {
  return view === null || view.config.version === 0 ? bootstrapDcs : view.config.value;
}

/**
 * Starts following; returns the function that stops it. `localUseSlots` is node.yml's
 * postgresql.use_slots as last (re)loaded, null when it leaves it to the cluster.
 */
export function followClusterPostgresql(client: DcsClient, scope: Scope, bootstrapDcs: JsonObject, localUseSlots: () => boolean | null, target: ClusterPostgresqlTarget, logger: Logger): () => void {
  let lastProblem: string | null = null;
  const apply = (view: ScopeView | null): void => {
    const config = clusterConfigOf(view, bootstrapDcs);
    // A value stored before the edges checked it is read as unset, and said so once.
    const section = config["postgresql"];
    const stored = isJsonObject(section) ? section["pg_hba"] : undefined;
    const problem = stored === undefined || stored === null ? null : pgHbaProblem(stored, "postgresql.pg_hba");
    if (problem !== null && problem !== lastProblem) logger.error({}, `the cluster's postgresql.pg_hba is ignored: ${problem}; correct it with raftgres edit-config`);
    lastProblem = problem;
    void target.setClusterHba(dynamicPgHba(config)).then((set) => {
      if (E.isLeft(set)) logger.error({}, `pg_hba.conf keeps its previous lines: ${set.left}`);
    });
    void target.setUseSlots(resolveSwitch({ version: 1, value: config }, localUseSlots(), "use_slots"));
  };
  apply(client.local(scope));
  return client.subscribe(scope, (view) => apply(view));
}
