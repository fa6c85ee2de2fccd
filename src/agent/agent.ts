/**
 * One raftgres node: the Raft node with the cluster state, the PostgreSQL adapter, the watchdog,
 * the HA loop and the HTTP endpoint, wired together; and their orderly stop.
 */
import { readFileSync } from "node:fs";
import * as E from "fp-ts/lib/Either.js";
import type { FastifyInstance } from "fastify";
import type { MemberName } from "../dcs/model.js";
import type { ScopeView } from "../dcs/views.js";
import { HaLoop } from "../ha/io/ha_loop.js";
import type { Fencing } from "../ha/io/ha_loop_ports.js";
import { CallbackRunner, runPrePromote } from "../ha/io/callbacks.js";
import { Watchdog } from "../ha/io/watchdog.js";
import type { Logger } from "../lib/logger.js";
import { type NodeId } from "../raft/types.js";
import type { AgentConfig } from "./config.js";
import { type DcsNode, startDcsNode } from "./dcs_node.js";
import { buildApiServer } from "../api/server.js";
import { registerFenceReceiver } from "./fence_receiver.js";
import { AgentNodeApi } from "./node_api_impl.js";
import { openPostgres } from "./postgres_wiring.js";
import { damagedLogProcedure } from "./recovery.js";
import { hbaPeerHosts } from "./hba_peers.js";
import { followClusterPostgresql } from "./cluster_postgresql.js";
import { MemberUrlsWriter } from "./member_urls.js";
import { PgbouncerSwitchover, withPgbouncerResume } from "./pgbouncer_switchover.js";
import { haproxyPushFor } from "./haproxy_wiring.js";
import { reloadConfig } from "./reload.js";
import type { Identity } from "../ha/member_status.js";

export const AGENT_VERSION = "0.1.0";


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
    // A joining node starts with no configuration; the group adds it (raftgres members add).
    initialMembers: raft.join === null ? [...raft.members].map(([name, address]) => ({ id: name as NodeId, role: "voter" as const, address })) : null,
    ...(raft.join === null ? {} : { seedPeers: new Map([...raft.join].map(([name, address]) => [name as NodeId, address])) }),
    heartbeatMs: raft.heartbeatMs,
    electionTimeoutMs: raft.electionTimeoutMs,
    snapshotEveryEntries: 10_000,
    logger: logger.child({ area: "raft" }),
    onFatal: (error) => onFatal(error.code === "damagedLog"
      ? `the Raft log cannot continue: ${error.message}\n${damagedLogProcedure(config, configPath, Date.now())}`
      : `the Raft log cannot continue: ${error.message}`),
  });
  if (E.isLeft(started)) {
    if (started.left.code !== "damagedLog") return E.left(started.left.message);
    return E.left(`${started.left.message}\n${damagedLogProcedure(config, configPath, Date.now())}`);
  }
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
  // Told of role changes by the HA loop; it reads the node's checks once the API exists.
  let routedNode: AgentNodeApi | null = null;
  const haproxy = haproxyPushFor(config, () => routedNode, logger.child({ area: "haproxy" }), monotonicMs);
  // pgbouncer paused through a planned switchover: why the agent does it, pgbouncer_switchover.ts.
  const pgbouncer = config.pgbouncer === null ? null : new PgbouncerSwitchover({ settings: config.pgbouncer, scope: config.scope, me: config.name, cluster: dcs.client, logger: logger.child({ area: "pgbouncer" }), clock: monotonicMs });
  // Told of a promotion as soon as it is done: HAProxy's push, pgbouncer's RESUME.
  const routing = withPgbouncerResume(haproxy, pgbouncer);
  const ha = new HaLoop({
    scope: config.scope,
    identity: identityOf(config),
    cluster: dcs.client,
    postgres: postgres.right,
    fencing,
    local: config.ha,
    logger: logger.child({ area: "ha" }),
    clock: monotonicMs,
    ...(config.postgresql.prePromote === null ? {} : { prePromote: () => runPrePromote(config.postgresql.prePromote!) }),
    ...(pgbouncer === null ? {} : { beforeHandoverStop: () => pgbouncer.beforeHandoverStop() }),
    ...(routing === null ? {} : { routing }),
  });
  const callbacks = new CallbackRunner(config.postgresql.callbacks, config.scope, logger.child({ area: "callbacks" }));
  const offEvents = ha.onEvent((event) => {
    const action = ({ started: "on_start", stopped: "on_stop", restarted: "on_restart", reloaded: "on_reload", roleChanged: "on_role_change" } as const)[event.kind];
    callbacks.fire(action, event.role);
    if (event.kind === "roleChanged" && event.role === "primary") pgbouncer?.promoted();
  });
  // The watchdog logs what it did; the HA loop looks at PostgreSQL again at once.
  const offFired = watchdog.right.onFired(() => ha.trigger());
  const offExit = watchdog.right.onExit((exit) => {
    if (!exit.expected) onFatal(`the watchdog process exited (code ${exit.code}, signal ${exit.signal}): PostgreSQL would be unguarded`);
  });
  const offTargets = dcs.client.subscribe(config.scope, (view) => updateReportTargets(view, config.name, watchdog.right));
  const offBootstrapConfig = dcs.client.subscribe(config.scope, (view) => void writeBootstrapConfig(view, config, dcs, logger));
  // pg_hba.conf lets the members in by their addresses (src/pg/hba.ts), rewritten as they change.
  const raftAddresses = [...config.raft.members.values(), ...(config.raft.join?.values() ?? [])];
  await postgres.right.setHbaPeers(hbaPeerHosts(raftAddresses, null));
  const offHbaPeers = dcs.client.subscribe(config.scope, (view) => void postgres.right.setHbaPeers(hbaPeerHosts(raftAddresses, view)));
  const memberUrls = new MemberUrlsWriter(config.raft.dataDir, config.scope, logger);
  const offMemberUrls = dcs.client.subscribe(config.scope, (view) => void memberUrls.update(view));
  let watchdogAlive = true;
  const offWatchdogGone = watchdog.right.onExit(() => {
    watchdogAlive = false;
  });
  let current = config;
  // The cluster's pg_hba and use_slots (src/agent/cluster_postgresql.ts), node.yml's winning.
  const offClusterPostgresql = followClusterPostgresql(dcs.client, config.scope, config.bootstrapDcs, () => current.ha.useSlots, postgres.right, logger);
  const reload = async (): Promise<E.Either<string, string>> => {
    if (configPath === null) return E.left("this agent was started without a configuration file to re-read");
    const reloaded = await reloadConfig(configPath, current, ha, identityOf);
    if (E.isLeft(reloaded)) return reloaded;
    current = reloaded.right.config;
    callbacks.update(current.postgresql.callbacks);
    for (const warning of current.warnings) logger.warn({}, warning);
    logger.info({}, `reloaded ${configPath}: ${reloaded.right.message}`);
    return E.right(reloaded.right.message);
  };
  const nodeApi = new AgentNodeApi({ config: () => current, version: AGENT_VERSION, dcs, ha, postgres: postgres.right, watchdogOk: () => watchdogAlive, reload, clock: monotonicMs, pgbouncer: () => pgbouncer?.status() ?? null, haproxy: () => haproxy?.status() ?? null });
  routedNode = nodeApi;
  const http = await startApi(config, nodeApi, dcs, logger);
  if (E.isLeft(http)) {
    nodeApi.close();
    await watchdog.right.stop();
    await dcs.raft.stop();
    return http;
  }
  pgbouncer?.start();
  ha.start();
  logger.info({ scope: config.scope, raft: `${raft.listen.host}:${raft.listen.port}`, api: `${config.restapi.listen.host}:${config.restapi.listen.port}` }, "raftgres agent running");
  return E.right({
    dcs,
    ha,
    reload,
    async stop(options = {}) {
      offFired();
      offExit();
      offEvents();
      offWatchdogGone();
      nodeApi.close();
      offTargets();
      offBootstrapConfig();
      offMemberUrls();
      offHbaPeers();
      offClusterPostgresql();
      await ha.stop({ stopPostgres: options.stopPostgres ?? true });
      await pgbouncer?.stop();
      // The last "down" of a primary that stopped gets its bounded chance to reach HAProxy.
      if (haproxy !== null) await haproxy.settled(haproxy.settleBoundMs());
      haproxy?.stop();
      callbacks.stop();
      await watchdog.right.stop();
      await http.right.close();
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

/** The REST API (src/api) with the fence receiver, listening on restapi.listen. */
async function startApi(config: AgentConfig, node: AgentNodeApi, dcs: DcsNode, logger: Logger): Promise<E.Either<string, FastifyInstance>> {
  const { listen, authentication, requireAuthForReads, tls } = config.restapi;
  let tlsFiles: { cert: Buffer; key: Buffer } | undefined;
  try {
    tlsFiles = tls === null ? undefined : { cert: readFileSync(tls.certfile), key: readFileSync(tls.keyfile) };
  } catch (error: unknown) {
    return E.left(`cannot read the REST API's certificate or key: ${error instanceof Error ? error.message : String(error)}`);
  }
  const app = buildApiServer({
    node,
    logger: logger.child({ area: "api" }),
    ...(authentication === null ? {} : { authentication }),
    requireAuthForReads,
    ...(tlsFiles === undefined ? {} : { tls: tlsFiles }),
  });
  try {
    await registerFenceReceiver(app, { scope: config.scope, me: config.name, secret: config.raft.secret, client: dcs.client, logger: logger.child({ area: "fence" }), clock: monotonicMs });
    await app.listen({ host: listen.host, port: listen.port });
  } catch (error: unknown) {
    await app.close();
    return E.left(`the REST API cannot listen on ${listen.host}:${listen.port}: ${error instanceof Error ? error.message : String(error)}`);
  }
  return E.right(app);
}
