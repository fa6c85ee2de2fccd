/**
 * patronictl's CLUSTER_NAME argument. patronictl commands take the cluster's name first —
 * required by `restart`, `reload` and `reinit` (`patronictl restart batman --pending`), optional
 * elsewhere (`switchover [CLUSTER]`) — and the runbooks written for it keep it. A raftgres node
 * serves one scope, so the name is only checked against it; a DBA's command line works as typed.
 */
import type { ClusterView } from "./answers.js";
import type { CliContext } from "./context.js";
import { failed } from "./exit.js";

export const CLUSTER_ARGUMENT = "the cluster's name, as patronictl takes it (checked against the scope)";

/** Refuses a cluster name that is not the scope of the cluster the CLI reached. */
export function checkClusterName(cluster: ClusterView, name: string | undefined): void {
  if (name === undefined || cluster.scope === null || name === cluster.scope) return;
  throw failed(`this node serves cluster ${cluster.scope}, not ${name}: name the right cluster, or connect to one of its nodes`);
}

/** checkClusterName for a command that does not read GET /cluster otherwise: read only when named. */
export async function checkClusterNameOf(ctx: CliContext, name: string | undefined): Promise<void> {
  if (name !== undefined) checkClusterName(await ctx.cluster(), name);
}

/**
 * The member names of `CLUSTER [MEMBER...]`: a first word that is the scope and no member's name
 * is the cluster's (a member named like its cluster stays a member, as raftgres always took it).
 */
export function memberWords(cluster: ClusterView, words: readonly string[]): string[] {
  const first = words[0];
  if (first === undefined || first !== cluster.scope || cluster.members.some((m) => m.name === first)) return [...words];
  return words.slice(1);
}
