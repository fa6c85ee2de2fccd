/**
 * synchronous_standby_names as HA manages it: its own file, raftgres.sync.conf, included last by
 * raftgres.conf so it wins over the user's parameters while synchronous_mode is on, and empty
 * (the user's value applies) while it is off. The file stays across restarts: a primary that
 * restarts in strict mode comes back with its standbys listed, never asynchronous.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import * as E from "fp-ts/lib/Either.js";
import { DONE, failure } from "./results.js";
import type { PgResult } from "../ha/ports.js";
import { confValue, SYNC_CONF_FILE } from "./conf.js";
import { writeFileAtomic } from "./files.js";
import type { Postmaster } from "./postmaster.js";
import type { ResolvedSettings } from "./settings.js";
import type { SqlSession } from "./sql.js";

/** How long a reload may take to show in SHOW synchronous_standby_names. */
const CONFIRM_TIMEOUT_MS = 3000;
const CONFIRM_POLL_MS = 20;

export function renderSyncConf(value: string | null): string {
  const head = "# Written by raftgres (synchronous_mode): do not edit.";
  return value === null ? `${head}\n` : `${head}\nsynchronous_standby_names = ${confValue(value)}\n`;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Writes the file; a running server reloads and is asked until it runs with `value` (every new
 * backend and, after a moment, every walsender, then has it). A stopped one reads it at start.
 */
export async function applySyncStandbyNames(s: ResolvedSettings, postmaster: Postmaster, session: SqlSession, value: string | null): Promise<PgResult> {
  const path = join(s.dataDir, SYNC_CONF_FILE);
  const text = renderSyncConf(value);
  const before = await readFile(path, "utf8").catch(() => null);
  if (before !== text) {
    try {
      await writeFileAtomic(path, text, s.osUser);
    } catch (error) {
      return failure("failed", `cannot write ${path}: ${String(error)}`);
    }
    s.logger.info({ synchronous_standby_names: value }, value === null ? "synchronous_standby_names: back to the configured parameters" : `synchronous_standby_names = '${value}'`);
  }
  if (postmaster.state !== "running") return DONE;
  if (before !== text && !postmaster.signal("SIGHUP")) return failure("failed", "could not signal the postmaster to reload synchronous_standby_names");
  if (value === null) return DONE;
  const deadline = Date.now() + CONFIRM_TIMEOUT_MS;
  for (;;) {
    const shown = await session.query<{ value: string }>("SELECT current_setting('synchronous_standby_names') AS value");
    if (E.isRight(shown) && shown.right[0]?.value === value) return DONE;
    if (Date.now() >= deadline) {
      const now = E.isRight(shown) ? `'${shown.right[0]?.value ?? "?"}'` : shown.left.message;
      return failure("timeout", `synchronous_standby_names is still ${now} ${CONFIRM_TIMEOUT_MS} ms after the reload (wanted '${value}'); check the server log for a configuration error`);
    }
    await sleep(CONFIRM_POLL_MS);
  }
}
