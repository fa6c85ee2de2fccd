/**
 * The cluster-wide PostgreSQL parameters of the dynamic config (`postgresql.parameters` in the
 * scope's config, edited once with edit-config) go to raftgres.dynamic.conf, included by
 * raftgres.conf after raftgres's defaults and before the node's own parameters and the ones HA
 * manages — so, as in Patroni, the node's file wins over the dynamic config, and HA wins over both.
 *
 * Every parameter is checked again here (parameter_check.ts), whatever accepted it: the config
 * may hold entries from before the checks, or from a newer agent. One line PostgreSQL cannot
 * read makes a reload ignore every later change and the next start fail, so such a parameter is
 * left out of the file and named in the log at error level.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import * as E from "fp-ts/lib/Either.js";
import { confValue, DYNAMIC_CONF_FILE } from "./conf.js";
import { writeFileAtomic } from "./files.js";
import { parameterProblem } from "./parameter_check.js";
import type { ParameterValue, ResolvedSettings } from "./settings.js";

export interface RenderedDynamicConf {
  readonly text: string;
  /** One sentence per parameter left out. */
  readonly refused: readonly string[];
}

export function renderDynamicConf(parameters: Readonly<Record<string, ParameterValue>>): RenderedDynamicConf {
  const refused: string[] = [];
  const lines = ["# Written by raftgres from the cluster's dynamic config (postgresql.parameters): edit it with", "# `raftgres edit-config`, not here."];
  for (const [name, value] of Object.entries(parameters).sort(([a], [b]) => (a < b ? -1 : 1))) {
    const problem = parameterProblem(name, value, "postgresql.parameters");
    if (problem !== null) refused.push(problem);
    else lines.push(`${name} = ${confValue(value)}`);
  }
  return { text: `${lines.join("\n")}\n`, refused };
}

export interface DynamicConfWrite {
  /** The file's content changed: PostgreSQL must reload. */
  readonly changed: boolean;
  readonly refused: readonly string[];
}

/** Writes the file if its content changes. */
export async function writeDynamicConf(s: ResolvedSettings, parameters: Readonly<Record<string, ParameterValue>>): Promise<E.Either<string, DynamicConfWrite>> {
  const { text, refused } = renderDynamicConf(parameters);
  const path = join(s.dataDir, DYNAMIC_CONF_FILE);
  try {
    const current = await readFile(path, "utf8").catch(() => null);
    if (current === text) return E.right({ changed: false, refused });
    await writeFileAtomic(path, text, s.osUser);
    return E.right({ changed: true, refused });
  } catch (error) {
    return E.left(`cannot write ${path}: ${String(error)}`);
  }
}
