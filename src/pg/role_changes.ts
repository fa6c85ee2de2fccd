/**
 * promote and followPrimary: the two changes of a running server's role or upstream that need no
 * restart in PostgreSQL 15 (primary_conninfo and primary_slot_name are reloadable since 13).
 */
import { setTimeout as sleep } from "node:timers/promises";
import { performance } from "node:perf_hooks";
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

/** How often a promotion asks whether recovery has ended (pg_promote's own wait polls every 100 ms). */
export const PROMOTE_POLL_MS = 10;

/**
 * pg_promote(wait => false), then pg_is_in_recovery() every PROMOTE_POLL_MS until recovery has
 * ended or the promote timeout passed. From then on the server takes writes: `writable` is called
 * at once (HAProxy's push and pgbouncer's RESUME follow it, issue 16), before the rest — the
 * CHECKPOINT that runs on, and raftgres.conf rewritten without primary_conninfo so that a restart
 * stays a primary. PostgreSQL removes standby.signal itself.
 */
export async function promoteServer(s: ResolvedSettings, postmaster: Postmaster, session: SqlSession, writable: () => void = () => {}): Promise<PgResult> {
  if (postmaster.state !== "running") return failure("wrongState", `cannot promote: PostgreSQL is ${postmaster.state}`);
  const before = await inRecovery(session);
  if (E.isLeft(before)) return failure("failed", `cannot promote: the server does not answer SQL: ${before.left}`);
  if (before.right) {
    const timeoutMs = s.timeouts.promoteTimeoutMs;
    const target = sqlTarget(s, { queryTimeoutMs: timeoutMs + 1_000 });
    const ended = await promoteAndWait(target, session, timeoutMs);
    if (E.isLeft(ended)) return ended;
    writable();
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

/** Asks for the promotion and waits until recovery has ended: Left when it did not in `timeoutMs`. */
async function promoteAndWait(target: ReturnType<typeof sqlTarget>, session: SqlSession, timeoutMs: number): Promise<PgResult> {
  const requested = await queryOnce<{ promoted: boolean }>(target, "SELECT pg_promote(false) AS promoted");
  if (E.isLeft(requested)) return failure("failed", `pg_promote() failed: ${requested.left.message}`);
  if (requested.right[0]?.promoted !== true) return failure("failed", "pg_promote() could not signal the postmaster to promote");
  const deadline = performance.now() + timeoutMs;
  let last = "";
  for (;;) {
    const recovery = await inRecovery(session);
    if (E.isRight(recovery) && !recovery.right) return DONE;
    last = E.isLeft(recovery) ? `the server does not answer SQL: ${recovery.left}` : "the server is still in recovery";
    if (performance.now() >= deadline) break;
    // A server that does not answer is asked less often: the session reconnects each time.
    await sleep(E.isLeft(recovery) ? 10 * PROMOTE_POLL_MS : PROMOTE_POLL_MS);
  }
  return failure("timeout", `the promotion did not finish within ${Math.round(timeoutMs / 1000)} s (${last}); the server may still leave recovery: observe it before promoting again`);
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
