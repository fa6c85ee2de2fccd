/**
 * The PostgreSQL actions of src/ha/actions.ts carried out on the simulated PostgreSQL, with the
 * real adapter's outcomes: `wrongState` when the server is not in the state the action needs,
 * `sourceLost` when the member to copy from went away, `rewindImpossible` for another system,
 * `failed` for a program that failed. Each ends once, later, through `done`; a crash or a stop
 * during an action ends it as failed.
 */
import * as E from "fp-ts/lib/Either.js";
import type { MemberName } from "../../../src/dcs/model.js";
import type { PostgresAction, Upstream } from "../../../src/ha/actions.js";
import type { PgFailure, PgFailureCode } from "../../../src/ha/ports.js";
import { assertNever } from "../../../src/lib/assert.js";
import type { SimPgDone, SimPostgres } from "./sim_postgres.js";
import type { SimServer } from "./sim_server.js";
import { commonPrefix, FIRST_LSN, lsnAfter, lsnAt } from "./wal.js";

const OK = E.right(undefined);

function failure(code: PgFailureCode, message: string, serverErrors?: readonly string[]): E.Either<PgFailure, void> {
  return E.left(serverErrors === undefined ? { code, message } : { code, message, serverErrors });
}

/** Runs `step` after `ms` unless the server's life changed meanwhile (then the action failed). */
function later(pg: SimPostgres, server: SimServer, ms: number, done: SimPgDone, what: string, step: () => void): void {
  const epoch = server.epoch;
  pg.queue.schedule(pg.jitter(ms), () => {
    if (server.epoch !== epoch) done(failure("failed", `${what} on ${server.name} was interrupted: the server stopped or crashed`));
    else step();
  });
}

const isDown = (s: SimServer): boolean => s.process === "stopped" || s.process === "crashed";

export function runAction(pg: SimPostgres, name: MemberName, action: PostgresAction, done: SimPgDone): void {
  const server = pg.server(name);
  const t = pg.timings;
  switch (action.kind) {
    case "bootstrap": {
      if (server.dir !== null || !isDown(server)) return done(failure("wrongState", `${name}: initdb needs an empty data directory and no server`));
      return later(pg, server, t.initdbMs, done, "initdb", () => {
        server.dir = {
          systemId: pg.newSystemId(), wal: [], flushed: 0, replayed: 0, timeline: 1, history: [], control: "shut down",
          checkpointLsn: FIRST_LSN, minRecovery: null, standby: false, upstream: null, syncStandbyNames: "", damaged: null,
        };
        pg.append(server, "checkpoint");
        server.d.flushed = 1;
        start(pg, server, "primary", null, done);
      });
    }
    case "clone":
      if (server.dir !== null || !isDown(server)) return done(failure("wrongState", `${name}: pg_basebackup needs an empty data directory and no server`));
      return clone(pg, server, action.source, done);
    case "reinit":
      if (!isDown(server)) return done(failure("wrongState", `${name}: reinit needs PostgreSQL stopped`));
      server.dir = null;
      return clone(pg, server, action.source, done);
    case "start":
      return start(pg, server, action.as, action.upstream, done);
    case "stop":
      return stop(pg, server, action.mode, done);
    case "promote": {
      if (server.role !== "replica") return done(failure("wrongState", `${name}: only a running replica can be promoted`));
      return later(pg, server, t.promoteMs, done, "the promotion", () => {
        const d = server.d;
        // The startup process replays what was received, then a new timeline begins there.
        d.flushed = d.wal.length;
        d.replayed = d.wal.length;
        const parent = server.replayTimeline();
        const timeline = server.newestTimelineKnown() + 1;
        d.history.push({ timeline, parent, switchLsn: lsnAfter(d.wal) });
        d.timeline = timeline;
        d.standby = false;
        d.control = "in production";
        d.minRecovery = null;
        server.streaming = false;
        pg.append(server, "endOfRecovery");
        pg.scheduleFlush(server);
        pg.emitWritable(server);
        done(OK);
      });
    }
    case "followPrimary":
      if (server.dir === null) return done(failure("wrongState", `${name} has no data directory`));
      return later(pg, server, t.reloadMs, done, "the reload", () => {
        server.d.upstream = action.upstream.member;
        server.d.standby = server.running ? server.d.standby : true;
        server.streaming = false;
        done(OK);
      });
    case "rewind":
      return rewind(pg, server, action.source, done);
    case "setSyncStandbyNames":
      if (server.dir === null) return done(failure("wrongState", `${name} has no data directory`));
      return later(pg, server, t.reloadMs, done, "the reload", () => {
        server.d.syncStandbyNames = action.value ?? "";
        pg.release(name);
        done(OK);
      });
    case "syncSlots":
      return done(OK);
    default:
      return assertNever(action);
  }
}

function start(pg: SimPostgres, server: SimServer, as: "primary" | "replica", upstream: Upstream | null, done: SimPgDone): void {
  if (server.dir === null) return done(failure("failed", `${server.name}: there is no data directory to start`, [`FATAL:  "${server.name}" is not a database cluster directory`]));
  if (!isDown(server)) return done(failure("wrongState", `${server.name}: PostgreSQL is ${server.process}, not stopped`));
  const d = server.d;
  if (d.damaged !== null) return done(failure("failed", `${server.name}: PostgreSQL did not start`, [`PANIC:  ${d.damaged}`]));
  d.standby = as === "replica";
  if (upstream !== null) d.upstream = upstream.member;
  pg.spawn(server);
  later(pg, server, pg.timings.startMs, done, "the start", () => {
    // Crash recovery replays what the files hold; without standby.signal it then takes writes
    // on the timeline it is on (PostgreSQL does not switch timelines for that).
    d.replayed = d.wal.length;
    d.control = d.standby ? "in archive recovery" : "in production";
    server.process = "running";
    if (!d.standby) d.minRecovery = null;
    pg.scheduleFlush(server);
    done(OK);
  });
}

function stop(pg: SimPostgres, server: SimServer, mode: "fast" | "immediate", done: SimPgDone): void {
  if (isDown(server)) return done(OK);
  const wasPrimary = server.role === "primary";
  server.process = "stopping";
  pg.endLife(server, "the server is shutting down");
  const epoch = server.epoch;
  pg.queue.schedule(pg.jitter(pg.timings.stopMs), () => {
    if (server.epoch !== epoch) return done(failure("failed", `the stop of ${server.name} was interrupted by a crash`));
    const d = server.d;
    if (mode === "fast") {
      if (wasPrimary) {
        pg.append(server, "shutdown");
        d.control = "shut down";
      } else {
        d.control = "shut down in recovery";
      }
      d.flushed = d.wal.length;
      // pg_controldata's "Latest checkpoint location" is where the checkpoint record starts.
      d.checkpointLsn = wasPrimary ? lsnAt(d.wal, d.wal.length - 1) : lsnAt(d.wal, d.replayed);
      if (wasPrimary) pg.sendToTheEnd(server);
    }
    server.process = "stopped";
    server.epoch++;
    done(OK);
  });
}

function clone(pg: SimPostgres, server: SimServer, source: Upstream, done: SimPgDone): void {
  const from = pg.server(source.member);
  pg.queue.schedule(pg.jitter(pg.timings.cloneMs), () => {
    if (!from.running || !pg.reachable(server.name, from.name)) return done(failure("sourceLost", `pg_basebackup from ${from.name} failed: it is not running or not reachable`));
    if (server.dir !== null || !isDown(server)) return done(failure("wrongState", `${server.name}: the data directory filled meanwhile`));
    const f = from.d;
    const wal = f.wal.slice(0, f.flushed);
    const end = lsnAfter(wal);
    server.dir = {
      systemId: f.systemId, wal, flushed: wal.length, replayed: 0, timeline: wal.at(-1)?.timeline ?? f.timeline,
      history: [...f.history], control: "in archive recovery", checkpointLsn: end, minRecovery: { lsn: end, timeline: f.timeline },
      standby: true, upstream: from.name, syncStandbyNames: "", damaged: null,
    };
    done(OK);
  });
}

function rewind(pg: SimPostgres, server: SimServer, source: Upstream, done: SimPgDone): void {
  if (server.dir === null || !isDown(server)) return done(failure("wrongState", `${server.name}: pg_rewind needs a stopped data directory`));
  const from = pg.server(source.member);
  later(pg, server, pg.timings.rewindMs, done, "pg_rewind", () => {
    if (!from.running || !pg.reachable(server.name, from.name)) return done(failure("sourceLost", `pg_rewind from ${from.name} failed: it is not running or not reachable`));
    const d = server.d;
    const f = from.d;
    if (f.systemId !== d.systemId) return done(failure("rewindImpossible", `pg_rewind: ${from.name} is another database system (${f.systemId}, not ${d.systemId})`));
    if (pg.prng.chance(pg.rewindFailureRate)) {
      // Half the failures stop before touching the target, half leave it half-copied.
      if (pg.prng.chance(0.5)) d.damaged = "could not locate a valid checkpoint record (an interrupted pg_rewind)";
      return done(failure("failed", `pg_rewind from ${from.name} failed`));
    }
    const sourceWal = f.wal.slice(0, f.flushed);
    d.standby = true;
    d.upstream = from.name;
    if (d.damaged === null && commonPrefix(d.wal, sourceWal) === d.wal.length) return done(OK); // no rewind required
    d.wal = sourceWal;
    d.flushed = sourceWal.length;
    d.replayed = 0;
    d.timeline = sourceWal.at(-1)?.timeline ?? f.timeline;
    d.history = [...f.history];
    d.control = "in archive recovery";
    d.minRecovery = { lsn: lsnAfter(sourceWal), timeline: d.timeline };
    d.checkpointLsn = lsnAfter(sourceWal);
    d.damaged = null;
    done(OK);
  });
}
