/**
 * The HAProxy pusher (src/ha/io/haproxy_push.ts) wired to this node: what it pushes is what the
 * node's own /primary and /replica checks answer (src/api/health_checks.ts, the same predicates
 * HAProxy's checks reach over HTTP), so a push only tells HAProxy early what its checks would
 * find. "The other members", forced down when this one is promoted, are the cluster's members
 * and those haproxy.servers names.
 */
import type { NodeApi } from "../api/node_api.js";
import { healthCheck, type HealthQuery } from "../api/health_checks.js";
import { nodeFacts } from "../api/node_facts.js";
import { HaproxyPush, type RoutingVerdict } from "../ha/io/haproxy_push.js";
import type { Logger } from "../lib/logger.js";
import type { AgentConfig } from "./config.js";

/** The checks of packaging/haproxy.cfg: OPTIONS /primary and OPTIONS /replica, no parameters. */
const PLAIN_CHECK: HealthQuery = { lagBytesMax: null, replicationState: null, tags: new Map(), mode: "apply" };

/** What the node's checks answer now; both false until the node is there. */
export function routingVerdict(node: Pick<NodeApi, "name" | "local" | "view"> | null): RoutingVerdict {
  if (node === null) return { write: false, read: false };
  const local = node.local();
  const view = node.view();
  const facts = nodeFacts(node, local, view);
  return {
    write: healthCheck("primary", facts, local, view !== null, PLAIN_CHECK),
    read: healthCheck("replica", facts, local, view !== null, PLAIN_CHECK),
  };
}

/** Null when the file has no haproxy section. `node` is the node's API, once it exists. */
export function haproxyPushFor(config: AgentConfig, node: () => Pick<NodeApi, "name" | "local" | "view"> | null, logger: Logger, clock: () => number): HaproxyPush | null {
  const settings = config.haproxy;
  if (settings === null) return null;
  const members = (): readonly string[] => [...settings.servers.keys(), ...(node()?.view()?.members.map((member) => member.name) ?? [])];
  return new HaproxyPush({ settings, me: config.name, verdict: () => routingVerdict(node()), members, logger, clock });
}
