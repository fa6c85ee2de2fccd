/**
 * SIGHUP or POST /reload: re-read the node's file and apply what can change while running —
 * tags and local HA settings (from the next cycle), PostgreSQL's own files (SIGHUP to the
 * postmaster). Settings that need the agent restarted are named, never silently ignored.
 */
import * as E from "fp-ts/lib/Either.js";
import type { HaLoop } from "../ha/io/ha_loop.js";
import type { Identity } from "../ha/member_status.js";
import { type AgentConfig, loadAgentConfig } from "./config.js";

/** The parts of the file that only a restart of the agent applies. */
const FIXED: readonly [string, (c: AgentConfig) => unknown][] = [
  ["scope", (c) => c.scope],
  ["name", (c) => c.name],
  ["restapi", (c) => c.restapi],
  ["raft", (c) => ({ ...c.raft, members: [...c.raft.members], join: c.raft.join === null ? null : [...c.raft.join] })],
  ["postgresql", (c) => ({ ...c.postgresql, callbacks: null })],
  ["watchdog", (c) => c.watchdog],
  ["haproxy", (c) => (c.haproxy === null ? null : { ...c.haproxy, servers: [...c.haproxy.servers] })],
];

export interface Reloaded {
  readonly config: AgentConfig;
  /** A sentence for the operator: what was applied and what needs a restart. */
  readonly message: string;
}

export async function reloadConfig(path: string, current: AgentConfig, ha: HaLoop, identity: (config: AgentConfig) => Identity): Promise<E.Either<string, Reloaded>> {
  const loaded = loadAgentConfig(path);
  if (E.isLeft(loaded)) return E.left(`the configuration was not reloaded: ${loaded.left}`);
  const next = loaded.right;
  const needRestart = FIXED.filter(([, part]) => JSON.stringify(part(current)) !== JSON.stringify(part(next))).map(([key]) => key);
  const applied = ha.updateLocal(identity(next), next.ha);
  if (E.isLeft(applied)) return applied;
  const postgres = await ha.reloadPostgres();
  const parts = ["tags, HA settings and callbacks applied", E.isRight(postgres) ? "PostgreSQL reloaded its configuration files" : `PostgreSQL did not reload: ${postgres.left}`];
  if (needRestart.length > 0) parts.push(`changes to ${needRestart.join(", ")} take effect when the agent restarts`);
  // The fixed parts stay as they run until a restart; the callbacks apply at once.
  const kept = Object.fromEntries(FIXED.map(([key]) => [key, (current as unknown as Record<string, unknown>)[key]])) as Partial<AgentConfig>;
  const config = { ...next, ...kept, postgresql: { ...current.postgresql, callbacks: next.postgresql.callbacks } } as AgentConfig;
  return E.right({ config, message: parts.join("; ") });
}
