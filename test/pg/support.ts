/**
 * Helpers for the tests of src/pg on real PostgreSQL 15: a temp root the OS user can traverse,
 * instances on free ports with small settings, SQL as the superuser, and a teardown that leaves
 * no postmaster and no directory behind.
 */
import { chmodSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { either as E } from "fp-ts";
import type { Upstream } from "../../src/ha/actions.js";
import { createRecordingLogger, type Logger, SILENT_LOGGER } from "../../src/lib/logger.js";
import { PostgresInstance } from "../../src/pg/postgres_instance.js";
import type { PostgresSettings } from "../../src/pg/settings.js";
import { queryOnce, type Row } from "../../src/pg/sql.js";
import type { MemberName } from "../../src/pg/types.js";
import { freePort } from "../../lab/sockets.js";

/** Passwords with a quote, a backslash and a space: they must survive every quoting layer. */
export const SUPERUSER = { username: "rg_admin", password: "admin 'pw' \\x" };
export const REPLICATION = { username: "rg_repl", password: "repl 'pw' \\y" };

/** Small and quick: two cores run several servers at once. */
export const TEST_PARAMETERS = {
  shared_buffers: "16MB",
  max_connections: 30,
  wal_retrieve_retry_interval: "200ms",
  checkpoint_timeout: "5min",
};

interface Teardown {
  teardown(fn: () => unknown): void;
}

export interface PgRoot {
  readonly root: string;
  make(name: string, overrides?: Partial<PostgresSettings>): Promise<PostgresInstance>;
}

export async function pgRoot(t: Teardown, logger: Logger = SILENT_LOGGER): Promise<PgRoot> {
  const root = mkdtempSync(join(tmpdir(), "raftgres-pg-"));
  // mkdtemp makes it 0700 root: the postgres user must be able to traverse it.
  chmodSync(root, 0o711);
  const instances: PostgresInstance[] = [];
  t.teardown(async () => {
    for (const instance of instances) {
      await instance.run({ kind: "stop", mode: "immediate" }).catch(() => {});
      instance.close();
      killLeftover(instance.settings.dataDir);
    }
    rmSync(root, { recursive: true, force: true });
  });
  return {
    root,
    async make(name, overrides = {}) {
      const created = PostgresInstance.create({
        memberName: name as MemberName,
        dataDir: join(root, name, "data"),
        listenHost: "127.0.0.1",
        port: await freePort(),
        superuser: SUPERUSER,
        replication: REPLICATION,
        parameters: TEST_PARAMETERS,
        timeouts: { startTimeoutMs: 30_000, stopTimeoutMs: 10_000 },
        logger: logger.child({ member: name }),
        ...overrides,
      });
      if (E.isLeft(created)) throw new Error(created.left);
      instances.push(created.right);
      return created.right;
    },
  };
}

/** A postmaster adopted by another instance in a test: kill its group by the pid file. */
function killLeftover(dataDir: string): void {
  try {
    const pid = Number(readFileSync(join(dataDir, "postmaster.pid"), "utf8").split("\n", 1)[0]);
    if (pid > 0) process.kill(-pid, "SIGKILL");
  } catch {
    // No pid file, or nothing left to kill.
  }
}

export function upstreamOf(instance: PostgresInstance): Upstream {
  return { member: instance.settings.memberName, connUrl: instance.connUrl("127.0.0.1") };
}

/** A query as the superuser on a connection of its own; throws on error (tests only). */
export async function sql<R extends Row = Row>(instance: PostgresInstance, text: string, values: unknown[] = []): Promise<R[]> {
  const s = instance.settings;
  const rows = await queryOnce<R>(
    { host: "127.0.0.1", port: s.port, user: SUPERUSER.username, password: SUPERUSER.password, database: "postgres", connectTimeoutMs: 3_000, queryTimeoutMs: 10_000 },
    text,
    values,
  );
  if (E.isLeft(rows)) throw new Error(`${text}: ${rows.left.message}`);
  return rows.right;
}

/** Polls `probe` until it returns a value (not undefined) or `timeoutMs` passes. */
export async function eventually<T>(probe: () => Promise<T | undefined>, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(100);
  }
}

export { createRecordingLogger };
