/**
 * PostgresInstance: the PostgresPort of src/ha/ports.ts for one local PostgreSQL, wiring the
 * modules of this folder together. One long action (LONG_ACTIONS) at a time: the executor
 * promises that, and an assertion holds it to the promise.
 */
import { runPostBootstrap } from "./post_bootstrap.js";
import { createBootstrapUsers } from "./bootstrap_users.js";
import { join } from "node:path";
import * as E from "fp-ts/lib/Either.js";
import { LONG_ACTIONS, type PostgresAction, type PostgresActionKind, type Upstream } from "../ha/actions.js";
import type { LocalPostgres } from "../ha/observation.js";
import type { PgResult, PostgresPort, PostmasterExit } from "../ha/ports.js";
import { AssertionError, assert, assertNever } from "../lib/assert.js";
import { ensureReplicationRole, initializeDataDir } from "./bootstrap.js";
import { cloneFrom } from "./clone.js";
import { serverUrl } from "./conninfo.js";
import { renderHba, writeServerFiles } from "./conf.js";
import { exists, wipeDirectoryContents, writeFileAtomic } from "./files.js";
import { dropWalBackup, walBackupDir } from "./rewind_wal_backup.js";
import { describeOutcome, missingPrograms, PROGRAMS, runProgram, succeeded } from "./programs.js";
import { serverLogFile, sqlTarget, startServer, stopServer } from "./lifecycle.js";
import { ControlDataCache, NOTHING, observeLocal } from "./observe.js";
import { Postmaster, removeStaleLockFile } from "./postmaster.js";
import { type ActionProgress, ProgressReporter } from "./progress.js";
import { DONE, failure } from "./results.js";
import { readDetails, type ServerDetails } from "./details.js";
import { ConfigurationProblems } from "./configuration_problems.js";
import { writeDynamicConf } from "./dynamic_conf.js";
import { rewindFrom } from "./rewind.js";
import { followUpstream, promoteServer } from "./role_changes.js";
import { PermanentSlotKeeper } from "./permanent_slot_keeper.js";
import type { PermanentSlotState } from "./permanent_slots.js";
import { DEFAULT_BIN_DIR, type PostgresSettings, type ResolvedSettings, resolveSettings } from "./settings.js";
import { syncMemberSlots } from "./slots.js";
import { applySyncStandbyNames } from "./sync_conf.js";
import { SqlSession } from "./sql.js";
import { SupersededWalPruner, walSegmentBytes } from "./superseded_wal.js";

export class PostgresInstance implements PostgresPort {
  private readonly postmaster: Postmaster;
  private readonly session: SqlSession;
  /** A replication session, for what only a walsender answers (a replica's replay timeline). */
  private readonly replicationSession: SqlSession;
  private readonly control: ControlDataCache;
  private readonly progressReporter: ProgressReporter;
  private readonly permanentSlots: PermanentSlotKeeper;
  private readonly supersededWal: SupersededWalPruner;
  private readonly exitListeners = new Set<(exit: PostmasterExit) => void>();
  private readonly spawnListeners = new Set<(pid: number) => void>();
  private readonly writableListeners = new Set<() => void>();
  private readonly problems: ConfigurationProblems;
  /** The pending restart as the last details() read it; a new postmaster starts without one. */
  private pendingRestartRead: ServerDetails["pendingRestart"] = {};
  private longAction: PostgresActionKind | null = null;
  /** pg_hba.conf's inputs changed during a long action: it is rewritten once the action ends. */
  private hbaStale = false;

  /**
   * Validates the settings and looks up the OS user; adopts a postmaster already running on
   * the data directory (see postmaster.ts).
   */
  static create(settings: PostgresSettings): E.Either<string, PostgresInstance> {
    const resolved = resolveSettings(settings);
    if (E.isLeft(resolved)) return resolved;
    const { binDir } = resolved.right;
    const missing = missingPrograms(binDir);
    if (missing.length > 0) {
      return E.left(`invalid PostgreSQL settings: bin_dir ${binDir} has no ${missing.join(", ")}: raftgres runs ${PROGRAMS.join(", ")} from it; set postgresql.bin_dir to the directory of PostgreSQL's own programs (default ${DEFAULT_BIN_DIR})`);
    }
    return E.right(new PostgresInstance(resolved.right));
  }

  private constructor(readonly settings: ResolvedSettings) {
    const logger = settings.logger;
    this.session = new SqlSession(sqlTarget(settings));
    this.replicationSession = new SqlSession(sqlTarget(settings, { user: settings.replication.username, password: settings.replication.password, replication: "database" }));
    this.control = new ControlDataCache(settings);
    this.progressReporter = new ProgressReporter(logger);
    this.permanentSlots = new PermanentSlotKeeper(settings, this.session);
    this.supersededWal = new SupersededWalPruner(settings.dataDir, () => walSegmentBytes(this.session), logger);
    this.problems = new ConfigurationProblems(logger, this.session, () => this.postmaster.state === "running");
    this.postmaster = new Postmaster(
      { binDir: settings.binDir, dataDir: settings.dataDir, logFile: serverLogFile(settings), user: settings.osUser, logger },
      (exit) => this.reportUnexpectedExit(exit),
      (pid) => {
        this.pendingRestartRead = {};
        for (const listener of [...this.spawnListeners]) listener(pid);
      },
    );
    this.postmaster.adoptIfRunning();
  }

  async observe(): Promise<LocalPostgres> {
    const observed = await observeLocal(this.settings, this.postmaster, this.control, this.session, this.replicationSession).catch(
      (error: unknown): LocalPostgres => ({ ...NOTHING, dataDir: "inaccessible", process: this.postmaster.state, problem: `observation failed: ${String(error)}` }),
    );
    const nowMs = Date.now();
    if (this.supersededWal.due(observed, nowMs)) {
      const control = await this.control.read();
      void this.supersededWal.consider(observed, E.isRight(control) ? control.right.checkpointTimeline : null, nowMs);
    }
    return observed;
  }

  async run(action: PostgresAction): Promise<PgResult> {
    const long = LONG_ACTIONS.has(action.kind);
    if (long) {
      assert(this.longAction === null, () => `${action.kind} asked while ${this.longAction} runs: one long action at a time`);
      this.longAction = action.kind;
    }
    let result: PgResult;
    try {
      result = await this.carryOut(action);
    } catch (error) {
      if (error instanceof AssertionError) throw error;
      // File-system errors (disk full, permissions) end here as results, with what was tried.
      this.settings.logger.error({ action: action.kind, error: String(error) }, "PostgreSQL action failed");
      result = failure("failed", `${action.kind} failed: ${String(error)}`);
    } finally {
      if (long) this.longAction = null;
    }
    // What changed while it ran may have missed the file it wrote.
    if (long && this.hbaStale) await this.rewriteHba(`what changed during ${action.kind}`, {});
    return result;
  }

  /** Server details for the REST API (version, start time, pending restart, replication). */
  async details(): Promise<E.Either<string, ServerDetails>> {
    if (this.postmaster.state !== "running") {
      this.pendingRestartRead = {};
      return E.left(`PostgreSQL is ${this.postmaster.state}`);
    }
    const read = await readDetails(this.session);
    if (E.isRight(read)) this.pendingRestartRead = read.right.pendingRestart;
    return read;
  }

  /** What the last details() read said waits for a restart (ports.ts); empty unless PostgreSQL runs. */
  pendingRestart(): ServerDetails["pendingRestart"] {
    return this.postmaster.state === "running" ? this.pendingRestartRead : {};
  }

  async applyParameters(parameters: Readonly<Record<string, string | number | boolean>>): Promise<PgResult> {
    if (!(await exists(join(this.settings.dataDir, "PG_VERSION")))) return DONE;
    const written = await writeDynamicConf(this.settings, parameters);
    if (E.isLeft(written)) return failure("failed", written.left);
    this.problems.noteRefused(written.right.refused);
    if (!written.right.changed) return DONE;
    this.settings.logger.info({ parameters }, "the cluster's PostgreSQL parameters changed: reloading");
    return this.reload();
  }

  /** SIGHUP, then what PostgreSQL makes of its files (pg_file_settings): errors are reported, not ignored. */
  async reload(): Promise<PgResult> {
    if (this.postmaster.pid === null) return DONE;
    if (!this.postmaster.signal("SIGHUP")) return failure("failed", "could not signal the postmaster to reload its configuration");
    await this.problems.checkFiles();
    return DONE;
  }

  /**
   * The members' addresses for pg_hba.conf (hba.ts): when they change, the file is rewritten and
   * a running server reloads it, so a new member can stream and clone at once.
   */
  async setHbaPeers(hosts: readonly string[]): Promise<void> {
    if (!this.settings.hbaPeers.set(hosts)) return;
    await this.rewriteHba("the members' addresses", { peers: this.settings.hbaPeers.current() });
  }

  /**
   * The cluster's postgresql.pg_hba (hba.ts ClusterHbaLines; null: unset): when it changes, the
   * file is rewritten and a running server reloads it — pg_hba.conf needs no restart. Left with a
   * sentence when the lines were refused (the file keeps the previous ones).
   */
  async setClusterHba(lines: readonly string[] | null): Promise<E.Either<string, void>> {
    const set = this.settings.clusterHba.set(lines);
    if (set === "same") return E.right(undefined);
    if (set !== "changed") return E.left(set);
    await this.rewriteHba("the cluster's postgresql.pg_hba", { clusterPgHba: lines });
    return E.right(undefined);
  }

  /**
   * use_slots (server_files.ts): a running replica stops or starts naming its member slot at once
   * (primary_slot_name is reloadable since PostgreSQL 13); otherwise at the next write of its files.
   */
  async setUseSlots(on: boolean): Promise<void> {
    const files = this.settings.serverFiles;
    if (!files.setUseSlots(on)) return;
    const role = files.lastRole();
    const now = role?.role === "replica" && role.upstream !== null && role.upstream.remote === undefined && this.longAction === null && this.postmaster.state === "running";
    this.settings.logger.info({}, `use_slots is ${on ? "on" : "off"}: a replica streams ${on ? "through its slot" : "without a slot"}${now ? "; reloading" : " from its next start"}`);
    if (!now || role?.role !== "replica") return;
    const written = await writeServerFiles(this.settings, role);
    if (E.isLeft(written)) this.settings.logger.warn({}, `use_slots: ${written.left}; applied at the next start`);
    else await this.reload();
  }

  /**
   * pg_hba.conf from the settings now, then a reload. Not during a long action, nor before there
   * is a data directory: those write the file themselves when they start the server (conf.ts).
   */
  private async rewriteHba(why: string, detail: Record<string, unknown>): Promise<void> {
    if (this.longAction !== null) {
      this.hbaStale = true;
      return;
    }
    this.hbaStale = false;
    if (!(await exists(join(this.settings.dataDir, "PG_VERSION")))) return;
    try {
      await writeFileAtomic(join(this.settings.dataDir, "pg_hba.conf"), renderHba(this.settings), this.settings.osUser);
    } catch (error) {
      this.settings.logger.warn({ error: String(error) }, `cannot rewrite pg_hba.conf for ${why}; it is written again at the next start`);
      return;
    }
    this.settings.logger.info(detail, `pg_hba.conf rewritten for ${why}: reloading`);
    await this.reload();
  }

  /** The parameters left out of the files and the lines PostgreSQL refuses in them (ports.ts). */
  configurationProblems(): readonly string[] {
    return this.problems.current();
  }

  postmasterPid(): number | null {
    return this.postmaster.pid;
  }

  onUnexpectedExit(listener: (exit: PostmasterExit) => void): () => void {
    this.exitListeners.add(listener);
    return () => this.exitListeners.delete(listener);
  }

  onSpawned(listener: (pid: number) => void): () => void {
    this.spawnListeners.add(listener);
    return () => this.spawnListeners.delete(listener);
  }

  onWritable(listener: () => void): () => void {
    this.writableListeners.add(listener);
    return () => this.writableListeners.delete(listener);
  }

  /** The running clone or rewind and how far it got, for the status endpoint; null otherwise. */
  progress(): ActionProgress | null {
    return this.progressReporter.current();
  }

  /** The permanent slots of the config as this server had them at the last slot sync. */
  permanentSlotStates(): readonly PermanentSlotState[] {
    return this.permanentSlots.current();
  }

  /** The system identifier of the data directory (pg_controldata), or null when there is none. */
  async systemId(): Promise<string | null> {
    const read = await this.control.read();
    return E.isRight(read) ? read.right.systemId : null;
  }

  /** This server's URL as other members reach it (`host` is the address they use). */
  connUrl(host: string): string {
    return serverUrl(host, this.settings.port);
  }

  /**
   * Releases the SQL connection and timers and stops reporting exits; the postmaster keeps
   * running (a later agent process adopts it). Stop it first to shut PostgreSQL down.
   */
  close(): void {
    this.session.close();
    this.postmaster.detach();
  }

  private async carryOut(action: PostgresAction): Promise<PgResult> {
    const s = this.settings;
    switch (action.kind) {
      case "bootstrap":
        return this.bootstrap();
      case "clone":
        // A new copy: what was read of the directory before (a failed bootstrap's, say) is gone.
        this.control.invalidate();
        return cloneFrom(s, action.source, this.progressReporter);
      case "start": {
        const started = await startServer(s, this.postmaster, action.as === "primary" ? { role: "primary" } : { role: "replica", upstream: action.upstream });
        if (E.isRight(started)) await this.problems.checkFiles();
        return started;
      }
      case "stop":
        this.session.close();
        return stopServer(s, this.postmaster, action.mode);
      case "promote":
        return promoteServer(s, this.postmaster, this.session, () => {
          for (const listener of [...this.writableListeners]) listener();
        });
      case "followPrimary":
        return followUpstream(s, this.postmaster, this.session, action.upstream);
      case "rewind":
        return this.rewind(action.source);
      case "reinit":
        return this.reinit(action.source, action.reason);
      case "syncSlots":
        return this.syncSlots(action);
      case "setSyncStandbyNames":
        return applySyncStandbyNames(s, this.postmaster, this.session, action.value);
      default:
        return assertNever(action, "PostgreSQL action");
    }
  }

  private async bootstrap(): Promise<PgResult> {
    this.control.invalidate();
    const initialized = await initializeDataDir(this.settings);
    if (E.isLeft(initialized)) return initialized;
    // bootstrap.dcs's parameters become the cluster's config once the lease is taken: in force
    // from the first start, they leave no restart pending (max_connections …).
    const first = await writeDynamicConf(this.settings, this.settings.bootstrapParameters);
    if (E.isLeft(first)) return failure("failed", `bootstrap: initdb succeeded but ${first.left}`);
    if (first.right.refused.length > 0) this.problems.noteRefused(first.right.refused);
    const started = await startServer(this.settings, this.postmaster, { role: "primary" });
    if (E.isLeft(started)) return failure(started.left.code, `bootstrap: initdb succeeded but ${started.left.message}`);
    const replication = await ensureReplicationRole(this.settings, this.session);
    if (E.isLeft(replication)) return replication;
    const users = await createBootstrapUsers(this.settings, this.session, this.settings.bootstrapUsers);
    if (E.isLeft(users)) return users;
    const script = this.settings.postBootstrap;
    if (script === null) return DONE;
    this.settings.logger.info({ command: script }, "running post_bootstrap");
    const problem = await runPostBootstrap(this.settings, script);
    if (problem === null) return DONE;
    // As Patroni: a bootstrap whose post_bootstrap failed is undone, and tried again.
    await stopServer(this.settings, this.postmaster, "immediate");
    await wipeDirectoryContents(this.settings.dataDir);
    return failure("failed", `${problem}; the new data directory was removed, the bootstrap is tried again`);
  }

  private async rewind(source: Upstream): Promise<PgResult> {
    if (this.postmaster.pid !== null) {
      return failure("wrongState", `cannot rewind: PostgreSQL is ${this.postmaster.state} (pid ${this.postmaster.pid}); stop it first`);
    }
    const recovered = await this.recoverCrashedReplica();
    if (E.isLeft(recovered)) return recovered;
    const primary = await this.recoverCrashedPrimary();
    if (E.isLeft(primary)) return primary;
    return rewindFrom(this.settings, source, this.control, this.progressReporter);
  }

  /**
   * A primary that crashed is recovered in single-user mode before pg_rewind, as pg_rewind would
   * itself — but first, so that the copy of its WAL kept for a second run (rewind_wal_backup.ts)
   * agrees with its control file. An earlier run that was interrupted left a copy: then nothing
   * is recovered here, the copy is put back instead.
   */
  private async recoverCrashedPrimary(): Promise<PgResult> {
    const s = this.settings;
    this.control.invalidate();
    const control = await this.control.read();
    const clean = E.isRight(control) && (control.right.state === "shut down" || control.right.state === "shut down in recovery");
    if (clean || (await exists(join(s.dataDir, "standby.signal"))) || (await exists(join(walBackupDir(s.dataDir), "COMPLETE")))) return DONE;
    s.logger.info({}, "the former primary was not shut down cleanly: crash recovery in single-user mode before pg_rewind");
    // Single-user mode refuses a postmaster.pid naming a zombie postmaster.
    removeStaleLockFile(s.dataDir, s.logger);
    const timeoutMs = s.timeouts.rewindTimeoutMs;
    const outcome = await runProgram(s.binDir, s.osUser, { program: "postgres", args: ["--single", "-F", "-D", s.dataDir, "template1"], timeoutMs });
    this.control.invalidate();
    return succeeded(outcome) ? DONE : failure("failed", `cannot rewind: crash recovery in single-user mode failed: ${describeOutcome("postgres --single", outcome, timeoutMs)}`);
  }

  /**
   * A replica that crashed (standby.signal present, not shut down cleanly) is started as a
   * standby without upstream until it accepts connections (consistent), then stopped fast:
   * "shut down in recovery" is what pg_rewind needs, without a single-user crash recovery that
   * would end recovery and write WAL of its own (see rewind.ts).
   */
  private async recoverCrashedReplica(): Promise<PgResult> {
    const s = this.settings;
    this.control.invalidate();
    const control = await this.control.read();
    const clean = E.isRight(control) && (control.right.state === "shut down" || control.right.state === "shut down in recovery");
    if (clean || !(await exists(join(s.dataDir, "standby.signal")))) return DONE;
    s.logger.info({}, "the replica was not shut down cleanly: recovering it as a standby before pg_rewind");
    const started = await startServer(s, this.postmaster, { role: "replica", upstream: null });
    const stopped = await stopServer(s, this.postmaster, "fast");
    this.control.invalidate();
    if (E.isLeft(started)) return failure(started.left.code, `cannot rewind: recovering the crashed replica first failed: ${started.left.message}`);
    return stopped;
  }

  private async reinit(source: Upstream, reason: string): Promise<PgResult> {
    this.settings.logger.warn({ source: source.member, reason }, `reinitializing from ${source.member}: ${reason}`);
    this.session.close();
    const stopped = await stopServer(this.settings, this.postmaster, "immediate");
    if (E.isLeft(stopped)) return stopped;
    await wipeDirectoryContents(this.settings.dataDir);
    await dropWalBackup(this.settings.dataDir);
    this.control.invalidate();
    return cloneFrom(this.settings, source, this.progressReporter);
  }

  private async syncSlots(action: Extract<PostgresAction, { kind: "syncSlots" }>): Promise<PgResult> {
    if (this.postmaster.state !== "running") return failure("wrongState", `cannot sync replication slots: PostgreSQL is ${this.postmaster.state}`);
    const synced = await syncMemberSlots(this.session, this.settings.memberName, action.members);
    if (E.isLeft(synced)) return failure("failed", `${synced.left}; the next sync tries again`);
    const { created, dropped, advanced } = synced.right;
    if (created.length + dropped.length > 0) this.settings.logger.info({ created, dropped, advanced }, "replication slots synced");
    return this.permanentSlots.sync(action.permanent);
  }

  private reportUnexpectedExit(exit: PostmasterExit): void {
    this.session.close();
    this.control.invalidate();
    for (const listener of [...this.exitListeners]) listener(exit);
  }
}
