/**
 * A copy of the target's own WAL, kept beside the data directory while pg_rewind runs, so that a
 * rewind interrupted half-way can be run again (issue 14).
 *
 * pg_rewind finds the blocks to fetch by reading the target's WAL from the last common checkpoint
 * on, then overwrites files in place — pg_wal's segments among them, with the source's. Cut off
 * in the middle (its source went away in a second failover), it leaves a target whose WAL it can
 * no longer read ("could not read file …/pg_wal/…"), and only a new clone would do. With the
 * target's segments put back first, a second run reads the same WAL, fetches every block the
 * target changed since the fork again and rewrites the control file at its end: data files it
 * had already replaced hold the source's newer pages, which the recovery that follows treats as
 * it treats a base backup's (page LSNs).
 *
 * The control file goes with the WAL (they must agree), and the directory must have been shut
 * down cleanly before the copy (postgres_instance.ts recovers a crashed one first): pg_rewind's
 * own single-user crash recovery would write a checkpoint the copied WAL does not have.
 *
 * The copy lives in `<data_dir>.rewind-wal` (pg_rewind removes files of the target the source
 * does not have, so never inside): made before the first run, put back before every later run,
 * removed once a rewind succeeded or the directory is cloned again.
 */
import { chmod, chown, copyFile, mkdir, readdir, rename, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import * as E from "fp-ts/lib/Either.js";
import type { ResolvedSettings } from "./settings.js";

/** WAL segments and timeline history files (pg_wal's regular files we keep). */
const WAL_FILE = /^[0-9A-F]{24}(\.partial)?$|^[0-9A-F]{8}\.history$/;
const COMPLETE = "COMPLETE";
/** global/pg_control, kept as this name in the copy. */
const CONTROL = "pg_control";
/** More WAL than this is not copied: the rewind runs without a way back, as before. */
export const WAL_BACKUP_BYTES_MAX = 4 * 1024 ** 3;

export function walBackupDir(dataDir: string): string {
  return `${dataDir}.rewind-wal`;
}

async function present(path: string): Promise<boolean> {
  return stat(path).then(() => true, () => false);
}

/**
 * Before a run of pg_rewind: puts the copy back when an earlier run was interrupted, else makes
 * it. Left: why there is no copy (the rewind may still run). Right(true) when it was put back.
 */
export async function prepareWalBackup(s: ResolvedSettings): Promise<E.Either<string, boolean>> {
  const backup = walBackupDir(s.dataDir);
  const wal = join(s.dataDir, "pg_wal");
  try {
    if (await present(join(backup, COMPLETE))) {
      for (const name of await readdir(backup)) {
        if (!WAL_FILE.test(name) && name !== CONTROL) continue;
        const target = name === CONTROL ? join(s.dataDir, "global", "pg_control") : join(wal, name);
        await copyFile(join(backup, name), target);
        await chown(target, s.osUser.uid, s.osUser.gid);
        await chmod(target, 0o600);
      }
      return E.right(true);
    }
    const names = (await readdir(wal, { withFileTypes: true })).filter((d) => d.isFile() && WAL_FILE.test(d.name)).map((d) => d.name);
    let bytes = 0;
    for (const name of names) bytes += (await stat(join(wal, name))).size;
    if (bytes > WAL_BACKUP_BYTES_MAX) return E.left(`pg_wal holds ${Math.round(bytes / 1024 ** 2)} MB, over the ${WAL_BACKUP_BYTES_MAX / 1024 ** 3} GB kept for a second run`);
    const temp = `${backup}.tmp`;
    await rm(temp, { recursive: true, force: true });
    await rm(backup, { recursive: true, force: true });
    await mkdir(temp, { mode: 0o700 });
    for (const name of names) await copyFile(join(wal, name), join(temp, name));
    await copyFile(join(s.dataDir, "global", "pg_control"), join(temp, CONTROL));
    await writeFile(join(temp, COMPLETE), `${names.length} files, ${bytes} bytes\n`);
    await rename(temp, backup);
    return E.right(false);
  } catch (error: unknown) {
    return E.left(`the copy of pg_wal in ${backup} failed: ${error instanceof Error ? error.message : String(error)}`);
  }
}

/** After a rewind that succeeded, or before the directory is cloned again. */
export async function dropWalBackup(dataDir: string): Promise<void> {
  await rm(`${walBackupDir(dataDir)}.tmp`, { recursive: true, force: true });
  await rm(walBackupDir(dataDir), { recursive: true, force: true });
}
