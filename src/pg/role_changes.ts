/**
 * promote and followPrimary: the two changes of a running server's role or upstream that need no
 * restart in PostgreSQL 15 (primary_conninfo and primary_slot_name are reloadable since 13).
 */
import * as E from "fp-ts/lib/Either.js";
import type { Upstream } from "../ha/actions.js";
import type { PgResult } from "../ha/ports.js";
import { writeServerFiles } from "./conf.js";
import { sqlTarget } from "./lifecycle.js";
import type { Postmaster } from "./postmaster.js";
import { DONE, failure } from "./results.js";
import type { ResolvedSettings } from "./settings.js";
import { queryOnce, type SqlSession } from "./sql.js";

async function inRecovery(session: SqlSession): Promise<E.Either<string, boolean>> {
  const rows = await session.query<{ recovery: boolean }>("SELECT pg_is_in_recovery() AS recovery");
  if (E.isLeft(rows)) return E.left(rows.left.message);
  return E.right(rows.right[0]?.recovery === true);
}

/**
 * pg_promote(wait => true) on a connection of its own with the promote timeout, then a check
 * that recovery has ended (from then on the server takes writes: done, though the CHECKPOINT
 * that follows runs on). PostgreSQL removes standby.signal itself; raftgres.conf is rewritten
 * without primary_conninfo so that a restart stays a primary.
 */
export async function promoteServer(s: ResolvedSettings, postmaster: Postmaster, session: SqlSession): Promise<PgResult> {
  if (postmaster.state !== "running") return failure("wrongState", `cannot promote: PostgreSQL is ${postmaster.state}`);
  const before = await inRecovery(session);
  if (E.isLeft(before)) return failure("failed", `cannot promote: the server does not answer SQL: ${before.left}`);
  if (before.right) {
    const timeoutMs = s.timeouts.promoteTimeoutMs;
    const waitSeconds = Math.max(1, Math.floor(timeoutMs / 1000));
    const target = sqlTarget(s, { queryTimeoutMs: timeoutMs + 1_000 });
    const promoted = await queryOnce<{ promoted: boolean }>(target, "SELECT pg_promote(true, $1) AS promoted", [waitSeconds]);
    if (E.isLeft(promoted)) return failure("failed", `pg_promote() failed: ${promoted.left.message}`);
    if (promoted.right[0]?.promoted !== true) {
      return failure("timeout", `pg_promote() did not finish the promotion within ${waitSeconds} s; the server may still leave recovery: observe it before promoting again`);
    }
    const after = await inRecovery(session);
    if (E.isLeft(after) || after.right) {
      return failure("failed", `after pg_promote() the server ${E.isLeft(after) ? `does not answer SQL: ${after.left}` : "is still in recovery"}`);
    }
    // pg_control names the new timeline only after a checkpoint; pg_rewind of the old primary
    // reads it there (rewind.ts, which runs one itself before it rewinds). Not awaited: the
    // server takes writes already, and this CHECKPOINT waits behind the end-of-recovery one
    // PostgreSQL starts on its own (314 ms of a 1.8 s pgbouncer pause in bench:failover's S2),
    // so awaiting it held back everything that follows the promotion: the push of the new
    // primary to HAProxy, pgbouncer's RESUME. Its failure is only logged, as before.
    void queryOnce(target, "CHECKPOINT").then((checkpoint) => {
      if (E.isLeft(checkpoint)) s.logger.warn({ error: checkpoint.left.message }, "CHECKPOINT after promote failed; a rewind against this server will run one");
    });
  }
  const written = await writeServerFiles(s, { role: "primary" });
  if (E.isLeft(written)) return failure("failed", `promoted, but ${written.left}: a restart would come back as a replica`);
  s.logger.info({}, before.right ? "promoted to primary" : "promote: already a primary");
  return DONE;
}

/** Points a replica (running or stopped) at `upstream`; a running one reloads (SIGHUP). */
export async function followUpstream(s: ResolvedSettings, postmaster: Postmaster, session: SqlSession, upstream: Upstream): Promise<PgResult> {
  const running = postmaster.state === "running";
  if (running) {
    const recovery = await inRecovery(session);
    if (E.isLeft(recovery)) return failure("failed", `cannot follow ${upstream.member}: the server does not answer SQL: ${recovery.left}`);
    if (!recovery.right) return failure("wrongState", `cannot follow ${upstream.member}: this server is a primary; stop it and rewind first`);
  }
  const written = await writeServerFiles(s, { role: "replica", upstream });
  if (E.isLeft(written)) return failure("failed", `cannot follow ${upstream.member}: ${written.left}`);
  const reload = postmaster.pid !== null;
  if (reload && !postmaster.signal("SIGHUP")) return failure("failed", `cannot follow ${upstream.member}: the reload signal did not reach the postmaster`);
  s.logger.info({ upstream: upstream.member, reloaded: reload }, `following ${upstream.member}`);
  return DONE;
}
