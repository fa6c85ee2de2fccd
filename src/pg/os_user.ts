/**
 * The unprivileged OS user every PostgreSQL program runs as (PostgreSQL refuses to run as root),
 * and the file-system checks that go with it: a data directory is useless unless that user can
 * reach it through every parent directory.
 */
import { chownSync, readFileSync, statSync } from "node:fs";
import { dirname, resolve } from "node:path";
import * as E from "fp-ts/lib/Either.js";

export interface OsUser {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
  readonly home: string;
}

/** Looks the user up in /etc/passwd (no NSS: the agent runs on plain machines and containers). */
export function lookupOsUser(name: string, passwdPath = "/etc/passwd"): E.Either<string, OsUser> {
  let text: string;
  try {
    text = readFileSync(passwdPath, "utf8");
  } catch (error) {
    return E.left(`cannot read ${passwdPath} to find OS user "${name}": ${String(error)}`);
  }
  for (const line of text.split("\n")) {
    const fields = line.split(":");
    if (fields[0] !== name || fields.length < 7) continue;
    const uid = Number(fields[2]);
    const gid = Number(fields[3]);
    if (!Number.isSafeInteger(uid) || !Number.isSafeInteger(gid)) {
      return E.left(`OS user "${name}" has a malformed line in ${passwdPath}`);
    }
    if (uid === 0) return E.left(`OS user "${name}" is root: PostgreSQL refuses to run as root`);
    return E.right({ name, uid, gid, home: fields[5] || "/" });
  }
  return E.left(`OS user "${name}" does not exist (${passwdPath}): create it or set osUser`);
}

/**
 * The first directory on the way to `path` (its parents, and `path` itself when it exists) that
 * `user` cannot traverse, with a sentence saying why; null when every one is reachable. Only
 * the user's primary group counts: spawning with a uid drops supplementary groups.
 */
export function unreachableDirectory(path: string, user: OsUser): string | null {
  const chain: string[] = [];
  for (let dir = resolve(path); ; dir = dirname(dir)) {
    chain.unshift(dir);
    if (dir === dirname(dir)) break;
  }
  for (const dir of chain) {
    let stats;
    try {
      stats = statSync(dir);
    } catch {
      return null; // The rest does not exist yet; whoever creates it sets the owner and mode.
    }
    if (!stats.isDirectory()) return `${dir} is not a directory`;
    const bit = stats.uid === user.uid ? 0o100 : stats.gid === user.gid ? 0o010 : 0o001;
    if ((stats.mode & bit) === 0) {
      const mode = (stats.mode & 0o777).toString(8).padStart(4, "0");
      return (
        `directory ${dir} (mode ${mode}, owner uid ${stats.uid}) is not reachable by OS user ` +
        `"${user.name}": give it the search permission (chmod o+x ${dir}) or chown it to that user`
      );
    }
  }
  return null;
}

export function chownToUser(path: string, user: OsUser): void {
  chownSync(path, user.uid, user.gid);
}
