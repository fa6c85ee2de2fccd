/**
 * The PostgreSQL adapter of this node, built from its YAML configuration.
 */
import * as E from "fp-ts/lib/Either.js";
import type { Logger } from "../lib/logger.js";
import { dynamicPgHba } from "../dcs/dynamic_postgresql.js";
import { postgresParameters } from "../dcs/postgres_parameters.js";
import { PostgresInstance } from "../pg/postgres_instance.js";
import type { AgentConfig } from "./config.js";

export function openPostgres(config: AgentConfig, logger: Logger): E.Either<string, PostgresInstance> {
  const pg = config.postgresql;
  return PostgresInstance.create({
    memberName: config.name,
    dataDir: pg.dataDir,
    ...(pg.binDir === null ? {} : { binDir: pg.binDir }),
    ...(pg.osUser === null ? {} : { osUser: pg.osUser }),
    listenHost: pg.listen.host,
    port: pg.listen.port,
    superuser: pg.superuser,
    replication: pg.replication,
    parameters: pg.parameters,
    pgHba: pg.pgHba,
    bootstrapPgHba: config.bootstrapPgHba,
    // Until the cluster state is read (cluster_hba.ts): the first config, if this member writes it.
    clusterPgHba: dynamicPgHba(config.bootstrapDcs),
    bootstrapParameters: postgresParameters(config.bootstrapDcs),
    bootstrapUsers: config.bootstrapUsers,
    postBootstrap: config.postBootstrap,
    logger,
  });
}
