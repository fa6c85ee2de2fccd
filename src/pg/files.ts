/**
 * Small file operations on the data directory as root on behalf of the OS user: atomic writes
 * owned by that user, the data directory's state, creating and wiping it.
 */
import { chmod, chown, mkdir, open, readdir, rename, rm, stat, unlink } from "node:fs/promises";
import { dirname } from "node:path";
import type { DataDirState } from "../ha/observation.js";
import type { OsUser } from "./os_user.js";
import { unreachableDirectory } from "./os_user.js";

/** Writes temp + fsync + rename: a crash leaves the old file or the new one, never half of one. */
export async function writeFileAtomic(path: string, content: string, user: OsUser, mode = 0o600): Promise<void> {
  const temp = `${path}.tmp-${process.pid}`;
  const handle = await open(temp, "w", mode);
  try {
    await handle.writeFile(content, "utf8");
    await handle.chmod(mode);
    await handle.chown(user.uid, user.gid);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(temp, path);
}

export async function removeIfPresent(path: string): Promise<void> {
  try {
    await unlink(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
}

export async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

export interface DataDirCheck {
  readonly state: DataDirState;
  /** Why it is inaccessible, for operators; null otherwise. */
  readonly problem: string | null;
}

/**
 * empty: missing or without entries; initialized: holds PG_VERSION; inaccessible: the OS user
 * cannot reach it, it cannot be read, or it holds files but no PG_VERSION (a leftover that
 * neither initdb nor pg_basebackup would accept).
 */
export async function checkDataDir(dataDir: string, user: OsUser): Promise<DataDirCheck> {
  const unreachable = unreachableDirectory(dataDir, user);
  if (unreachable !== null) return { state: "inaccessible", problem: unreachable };
  let entries: string[];
  try {
    entries = await readdir(dataDir);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return { state: "empty", problem: null };
    return { state: "inaccessible", problem: `cannot read data directory ${dataDir}: ${code ?? String(error)}` };
  }
  if (entries.length === 0) return { state: "empty", problem: null };
  if (entries.includes("PG_VERSION")) return { state: "initialized", problem: null };
  return {
    state: "inaccessible",
    problem: `data directory ${dataDir} holds ${entries.length} entries but no PG_VERSION: move them away or wipe it (reinit)`,
  };
}

/** Creates `dir` (and missing parents) and gives it to the OS user with `mode`. */
export async function ensureOwnedDirectory(dir: string, user: OsUser, mode = 0o700): Promise<void> {
  await mkdir(dirname(dir), { recursive: true });
  await mkdir(dir, { recursive: true });
  await chown(dir, user.uid, user.gid);
  await chmod(dir, mode);
}

/** Removes everything inside `dir`, keeping the directory itself (its owner and mode). */
export async function wipeDirectoryContents(dir: string): Promise<void> {
  let entries: string[];
  try {
    entries = await readdir(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return;
    throw error;
  }
  for (const entry of entries) await rm(`${dir}/${entry}`, { recursive: true, force: true });
}
