/**
 * One raftgres node: the Raft node with the cluster state, the PostgreSQL adapter, the watchdog,
 * the HA loop and the HTTP endpoint, wired together; and their orderly stop.
 */
import { either as E } from "fp-ts";
import type { FastifyInstance } from "fastify";
import type { MemberName } from "../dcs/model.js";
import type { ScopeView } from "../dcs/views.js";
import type { FencedReport } from "../ha/io/fence_report.js";
import { type Fencing, HaLoop } from "../ha/io/ha_loop.js";
import { Watchdog } from "../ha/io/watchdog.js";
import type { Logger } from "../lib/logger.js";
import { type NodeId } from "../raft/types.js";
import type { AgentConfig } from "./config.js";
import { type DcsNode, startDcsNode } from "./dcs_node.js";
import { startHttpServer } from "./http_server.js";
import type { PostgresInstance } from "../pg/postgres_instance.js";
import { openPostgres } from "./postgres_wiring.js";
import { reloadConfig } from "./reload.js";
import type { Identity } from "../ha/member_status.js";

export const AGENT_VERSION = "0.1.0";

/** How long a relayed fence report may wait for the Raft group (a new leader after a crash). */
const FENCE_RELAY_TIMEOUT_MS = 3000;

/** CLOCK_MONOTONIC in milliseconds: the agent's clock, and the watchdog's (another process). */
export function monotonicMs(): number {
  return Number(process.hrtime.bigint() / 1_000_000n);
}

export interface Agent {
  readonly dcs: DcsNode;
  readonly ha: HaLoop;
  /** Re-reads the node's file (SIGHUP, POST /reload); the sentence says what was applied. */
  reload(): Promise<E.Either<string, string>>;
  stop(options?: { stopPostgres?: boolean }): Promise<void>;
}

export async function startAgent(config: AgentConfig, logger: Logger, onFatal: (message: string) => void, configPath: string | null = null): Promise<E.Either<string, Agent>> {
  for (const warning of config.warnings) logger.warn({}, warning);
  const postgres = openPostgres(config, logger.child({ area: "pg" }));
  if (E.isLeft(postgres)) return postgres;
  const raft = config.raft;
  const started = await startDcsNode({
    nodeId: config.name as string as NodeId,
    clusterId: raft.clusterId,
    secret: raft.secret,
    dataDir: raft.dataDir,
    listenHost: raft.listen.host,
    listenPort: raft.listen.port,
    initialMembers: [...raft.members].map(([name, address]) => ({ id: name as NodeId, role: "voter" as const, address })),
    heartbeatMs: raft.heartbeatMs,
    electionTimeoutMs: raft.electionTimeoutMs,
    snapshotEveryEntries: 10_000,
    logger: logger.child({ area: "raft" }),
    onFatal: (error) => onFatal(`the Raft log cannot continue: ${error.message}`),
  });
  if (E.isLeft(started)) return E.left(started.left.message);
  const dcs = started.right;
  const watchdog = await Watchdog.start({ logger: logger.child({ area: "watchdog" }), secret: raft.secret, ...(config.watchdog.device === null ? {} : { devicePath: config.watchdog.device }) });
  if (E.isLeft(watchdog)) {
    await dcs.raft.stop();
    return E.left(`the watchdog did not start: ${watchdog.left}`);
  }
  const fencing: Fencing = {
    arm: (processGroup, deadlineMs, generation) => {
      const armed = watchdog.right.arm({ processGroup, deadlineNs: BigInt(Math.floor(deadlineMs)) * 1_000_000n, report: { scope: config.scope, member: config.name, generation } });
      if (E.isLeft(armed)) logger.error({}, `the watchdog could not be armed: ${armed.left}`);
    },
    disarm: () => watchdog.right.disarm(),
  };
  const ha = new HaLoop({
    scope: config.scope,
    identity: identityOf(config),
    cluster: dcs.client,
    postgres: postgres.right,
    fencing,
    local: config.ha,
    logger: logger.child({ area: "ha" }),
    clock: monotonicMs,
  });
  // The watchdog logs what it did; the HA loop looks at PostgreSQL again at once.
  const offFired = watchdog.right.onFired(() => ha.trigger());
  const offExit = watchdog.right.onExit((exit) => {
    if (!exit.expected) onFatal(`the watchdog process exited (code ${exit.code}, signal ${exit.signal}): PostgreSQL would be unguarded`);
  });
  const offTargets = dcs.client.subscribe(config.scope, (view) => updateReportTargets(view, config.name, watchdog.right));
  const offBootstrapConfig = dcs.client.subscribe(config.scope, (view) => void writeBootstrapConfig(view, config, dcs, logger));
  let http: FastifyInstance;
  try {
    http = await startHttpServer(config.restapi.listen.host, config.restapi.listen.port, raft.secret, endpoints(config, dcs, ha, postgres.right), logger.child({ area: "http" }));
  } catch (error: unknown) {
    await watchdog.right.stop();
    await dcs.raft.stop();
    return E.left(`the HTTP endpoint cannot listen on ${config.restapi.listen.host}:${config.restapi.listen.port}: ${error instanceof Error ? error.message : String(error)}`);
  }
  ha.start();
  logger.info({ scope: config.scope, raft: `${raft.listen.host}:${raft.listen.port}`, api: `${config.restapi.listen.host}:${config.restapi.listen.port}` }, "raftgres agent running");
  let current = config;
  return E.right({
    dcs,
    ha,
    async reload() {
      if (configPath === null) return E.left("this agent was started without a configuration file to re-read");
      const reloaded = await reloadConfig(configPath, current, ha, identityOf);
      if (E.isLeft(reloaded)) return reloaded;
      current = reloaded.right.config;
      for (const warning of current.warnings) logger.warn({}, warning);
      logger.info({}, `reloaded ${configPath}: ${reloaded.right.message}`);
      return E.right(reloaded.right.message);
    },
    async stop(options = {}) {
      offFired();
      offExit();
      offTargets();
      offBootstrapConfig();
      await ha.stop({ stopPostgres: options.stopPostgres ?? true });
      await watchdog.right.stop();
      await http.close();
      await dcs.raft.stop();
    },
  });
}

/** How this member presents itself to the others (its published member record). */
function identityOf(config: AgentConfig): Identity {
  const api = config.restapi.connectAddress;
  const pg = config.postgresql.connectAddress;
  return {
    name: config.name,
    apiUrl: `${config.restapi.tls === null ? "http" : "https"}://${api.host}:${api.port}`,
    connUrl: `postgres://${pg.host}:${pg.port}/postgres`,
    tags: config.tags,
    agentVersion: AGENT_VERSION,
  };
}

const lastTargets = new WeakMap<Watchdog, string>();

function updateReportTargets(view: ScopeView, me: MemberName, watchdog: Watchdog): void {
  const urls = view.members.filter((m) => m.name !== me && m.apiUrl !== "").map((m) => m.apiUrl);
  const key = urls.join(" ");
  if (lastTargets.get(watchdog) === key) return;
  lastTargets.set(watchdog, key);
  watchdog.updateTargets(urls);
}

/** The member that bootstrapped the scope writes its first config (Patroni's bootstrap.dcs). */
async function writeBootstrapConfig(view: ScopeView, config: AgentConfig, dcs: DcsNode, logger: Logger): Promise<void> {
  if (view.config.version !== 0 || view.lease?.holder !== config.name || view.initialization?.by !== config.name) return;
  if (Object.keys(config.bootstrapDcs).length === 0) return;
  const written = await dcs.client.execute(config.scope, { kind: "setConfig", expectedVersion: 0, mode: "patch", value: config.bootstrapDcs });
  if (E.isRight(written)) logger.info({ config: config.bootstrapDcs }, "wrote the cluster's initial config (bootstrap.dcs)");
}

function endpoints(config: AgentConfig, dcs: DcsNode, ha: HaLoop, postgres: PostgresInstance) {
  return {
    status: () => {
      const s = ha.status();
      return {
        name: config.name,
        scope: config.scope,
        role: s.postgres?.role ?? null,
        state: s.postgres?.process ?? "unknown",
        timeline: s.postgres?.timeline ?? null,
        holdsLease: s.lease !== null,
        busy: s.busy,
        progress: postgres.progress(),
        lease: s.lease === null ? null : { generation: s.lease.generation, msLeft: Math.round(s.lease.deadlineMs - monotonicMs()) },
        reason: s.decision?.reason ?? null,
        detail: s.decision?.detail ?? null,
        raft: { role: dcs.raft.status().role, term: dcs.raft.status().term, leader: dcs.raft.status().leader },
      };
    },
    isPrimary: () => {
      const s = ha.status();
      return s.lease !== null && s.postgres?.process === "running" && s.postgres.role === "primary";
    },
    isReplica: () => {
      const s = ha.status();
      return s.postgres?.process === "running" && s.postgres.role === "replica";
    },
    fenced: async (report: FencedReport): Promise<E.Either<string, string>> => {
      if (report.scope !== config.scope) return E.left(`the report is for scope ${report.scope}, this node serves ${config.scope}`);
      const reason = `the watchdog of ${report.member} killed its PostgreSQL (${report.reason}); relayed by ${config.name}`;
      // The fenced member may have led the Raft group: wait out the election of the next leader.
      const deadline = monotonicMs() + FENCE_RELAY_TIMEOUT_MS;
      for (;;) {
        const done = await dcs.client.execute(config.scope, { kind: "fenceLease", holder: report.member, generation: report.generation, reason }, { timeoutMs: FENCE_RELAY_TIMEOUT_MS });
        if (E.isRight(done)) return E.right(`released the lease of ${report.member} (generation ${report.generation})`);
        const retriable = done.left.code === "unavailable" || done.left.code === "outcomeUnknown";
        if (!retriable || monotonicMs() > deadline) return E.left(`${done.left.code}: ${done.left.message}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
  };
}
