/**
 * Writers for the failover benchmark:
 * - LibpqWriter writes through a libpq multi-host DSN with target_session_attrs=read-write, one
 *   `psql` process per attempt — what an application using libpq experiences during a failover;
 * - DirectWriter keeps one connection to one node and writes as fast as it can, recording when
 *   each write was acknowledged and the WAL flush position right after it.
 */
import { spawn } from "node:child_process";
import type { Client } from "pg";

const PSQL = "/usr/lib/postgresql/15/bin/psql";
/** Pause between two attempts of the libpq writer. */
const ATTEMPT_PAUSE_MS = 20;
/** One attempt (connect over every host + insert) may take at most this long. */
const ATTEMPT_TIMEOUT_MS = 5000;

function psql(dsn: string, sql: string): Promise<boolean> {
  return new Promise((resolve) => {
    const child = spawn(PSQL, [dsn, "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-c", sql], { stdio: "ignore", env: { ...process.env, PGCONNECT_TIMEOUT: "1" } });
    const timer = setTimeout(() => child.kill("SIGKILL"), ATTEMPT_TIMEOUT_MS);
    child.once("exit", (code) => {
      clearTimeout(timer);
      resolve(code === 0);
    });
    child.once("error", () => resolve(false));
  });
}

export class LibpqWriter {
  private running = true;
  private loop: Promise<void> = Promise.resolve();
  /** Acknowledged writes: the row's id, when the attempt started and when it was acknowledged (ms). */
  readonly acks: { readonly id: number; readonly startMs: number; readonly ackMs: number }[] = [];
  attempts = 0;

  constructor(private readonly dsn: string, private readonly table: string, private nextId: number) {}

  start(): void {
    this.loop = (async () => {
      while (this.running) {
        this.attempts++;
        const id = this.nextId++;
        const startMs = Date.now();
        if (await psql(this.dsn, `INSERT INTO ${this.table} (id) VALUES (${id})`)) this.acks.push({ id, startMs, ackMs: Date.now() });
        await new Promise((resolve) => setTimeout(resolve, ATTEMPT_PAUSE_MS));
      }
    })();
  }

  /** When the first write attempted at or after `sinceMs` was acknowledged, waiting up to `timeoutMs`. */
  async firstAckAfter(sinceMs: number, timeoutMs: number): Promise<number | null> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const ack = this.acks.find((a) => a.startMs >= sinceMs);
      if (ack !== undefined) return ack.ackMs;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    return null;
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }
}

export interface DirectAck {
  readonly id: number;
  readonly atMs: number;
  /** pg_current_wal_flush_lsn() right after the commit was acknowledged: at or past its commit record. */
  readonly flushLsn: bigint;
}

export function parseLsn(text: string): bigint {
  const [high, low] = text.split("/");
  return (BigInt(`0x${high}`) << 32n) + BigInt(`0x${low}`);
}

export class DirectWriter {
  private running = true;
  private loop: Promise<void> = Promise.resolve();
  readonly acks: DirectAck[] = [];
  error: string | null = null;

  constructor(private readonly client: Client, private readonly table: string, private nextId: number) {}

  start(): void {
    this.loop = (async () => {
      while (this.running) {
        const id = this.nextId++;
        try {
          await this.client.query(`INSERT INTO ${this.table} (id) VALUES ($1)`, [id]);
          const atMs = Date.now();
          const rows = await this.client.query<{ lsn: string }>("SELECT pg_current_wal_flush_lsn()::text AS lsn");
          this.acks.push({ id, atMs, flushLsn: parseLsn(rows.rows[0]!.lsn) });
        } catch (error: unknown) {
          this.error = error instanceof Error ? error.message : String(error);
          return;
        }
      }
    })();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }
}
