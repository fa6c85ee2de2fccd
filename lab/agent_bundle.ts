/**
 * The agent bundle that tests start their agents from: the packaged form (scripts/package,
 * esbuild) of the source tree as it is now, built once and shared by every test process.
 * Starting an agent from the bundle costs a third of the CPU of starting it through tsx, and a
 * test run starts hundreds of agents and watchdogs on two cores; it also runs what ships.
 *
 * The bundle lives in the temporary directory under a hash of everything it is built from
 * (src/, scripts/package/build.ts, package-lock.json): an edit makes a new one, so a test never
 * runs an agent older than the source. Test processes race to build it; a lock directory (with
 * the builder's PID, taken over when that process is gone) lets one build while the others wait.
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { buildBundles } from "../scripts/package/build.js";
import { processAlive } from "./process_alive.js";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
/** A build takes about 2 s here; one not done in this time is stuck. */
const BUILD_WAIT_MS = 180_000;

function listFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    return entry.isDirectory() ? listFiles(path) : [path];
  });
}

/** A hash of every input of the bundle, so an edit anywhere in them makes a new bundle. */
export function bundleKey(): string {
  const hash = createHash("sha256");
  const inputs = [...listFiles(join(ROOT, "src")), join(ROOT, "scripts", "package", "build.ts"), join(ROOT, "package-lock.json")].sort();
  for (const file of inputs) {
    hash.update(relative(ROOT, file));
    hash.update("\0");
    hash.update(readFileSync(file));
    hash.update("\0");
  }
  return hash.digest("hex").slice(0, 20);
}

/** Takes the lock directory, or returns false while a live process holds it. */
function tryLock(lock: string): boolean {
  try {
    mkdirSync(lock);
  } catch (error: unknown) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    let holder = Number.NaN;
    try {
      holder = Number(readFileSync(join(lock, "pid"), "utf8"));
    } catch {
      // Taken a moment ago, its PID not written yet: wait for it.
      return false;
    }
    if (Number.isSafeInteger(holder) && processAlive(holder)) return false;
    rmSync(lock, { recursive: true, force: true });
    return tryLock(lock);
  }
  writeFileSync(join(lock, "pid"), String(process.pid));
  return true;
}

/** Bundles of older trees, untouched for a day, are removed when a new one is built. */
const STALE_MS = 24 * 3600_000;

function removeStaleBundles(keep: string): void {
  for (const entry of readdirSync(tmpdir())) {
    const path = join(tmpdir(), entry);
    if (!entry.startsWith("raftgres-test-bundle-") || path === keep) continue;
    try {
      if (Date.now() - statSync(path).mtimeMs > STALE_MS) rmSync(path, { recursive: true, force: true });
    } catch {
      // Removed by another process meanwhile.
    }
  }
}

let built: Promise<string> | null = null;

/**
 * The path of the bundled agent (raftgres.js) for the source tree as it was when this process
 * first asked, built if needed; later calls reuse it without reading the tree again.
 */
export function agentBundle(): Promise<string> {
  built ??= findOrBuild().catch((error: unknown) => {
    built = null;
    throw error;
  });
  return built;
}

async function findOrBuild(): Promise<string> {
  const dir = join(tmpdir(), `raftgres-test-bundle-${bundleKey()}`);
  const main = join(dir, "raftgres.js");
  const lock = `${dir}.lock`;
  const deadline = Date.now() + BUILD_WAIT_MS;
  while (!existsSync(main)) {
    if (tryLock(lock)) {
      try {
        if (!existsSync(main)) {
          // Built beside, then moved in whole: a reader never sees half a bundle.
          const building = `${dir}.building-${process.pid}`;
          rmSync(building, { recursive: true, force: true });
          await buildBundles(building);
          renameSync(building, dir);
          removeStaleBundles(dir);
        }
      } finally {
        rmSync(lock, { recursive: true, force: true });
      }
      break;
    }
    if (Date.now() > deadline) throw new Error(`the agent bundle ${dir} was not built within ${BUILD_WAIT_MS / 1000} s (lock ${lock})`);
    await sleep(200);
  }
  return main;
}
