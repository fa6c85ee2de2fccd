/**
 * The cluster-wide PostgreSQL parameters of the dynamic config (`postgresql.parameters` in the
 * scope's config, edited once with edit-config) go to raftgres.dynamic.conf, included by
 * raftgres.conf after raftgres's defaults and before the node's own parameters and the ones HA
 * manages — so, as in Patroni, the node's file wins over the dynamic config, and HA wins over both.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { either as E } from "fp-ts";
import { confValue, DYNAMIC_CONF_FILE } from "./conf.js";
import { writeFileAtomic } from "./files.js";
import { FORBIDDEN_PARAMETERS, type ParameterValue, type ResolvedSettings } from "./settings.js";


/** Set by HA whatever the config says (raftgres.conf writes them last). */
const MANAGED = new Set(["listen_addresses", "port", "unix_socket_directories", "hot_standby", "primary_conninfo", "primary_slot_name", "recovery_target_timeline", "cluster_name"]);
const PARAMETER_NAME = /^[A-Za-z_][A-Za-z0-9_.]{0,62}$/;

export function renderDynamicConf(parameters: Readonly<Record<string, ParameterValue>>): { text: string; ignored: string[] } {
  const ignored: string[] = [];
  const lines = ["# Written by raftgres from the cluster's dynamic config (postgresql.parameters): edit it with", "# `raftgres edit-config`, not here."];
  for (const [name, value] of Object.entries(parameters).sort(([a], [b]) => (a < b ? -1 : 1))) {
    const lower = name.toLowerCase();
    if (!PARAMETER_NAME.test(name) || FORBIDDEN_PARAMETERS.has(lower) || MANAGED.has(lower)) ignored.push(name);
    else lines.push(`${name} = ${confValue(value)}`);
  }
  return { text: `${lines.join("\n")}\n`, ignored };
}

/** Writes the file if its content changes; Right(true) when it did (PostgreSQL must reload). */
export async function writeDynamicConf(s: ResolvedSettings, parameters: Readonly<Record<string, ParameterValue>>): Promise<E.Either<string, boolean>> {
  const { text, ignored } = renderDynamicConf(parameters);
  if (ignored.length > 0) s.logger.warn({ ignored }, `ignoring parameters of the dynamic config that raftgres manages itself: ${ignored.join(", ")}`);
  const path = join(s.dataDir, DYNAMIC_CONF_FILE);
  try {
    const current = await readFile(path, "utf8").catch(() => null);
    if (current === text) return E.right(false);
    await writeFileAtomic(path, text, s.osUser);
    return E.right(true);
  } catch (error) {
    return E.left(`cannot write ${path}: ${String(error)}`);
  }
}
