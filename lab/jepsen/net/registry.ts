/**
 * Who owns which topology: one record per topology id under /run/raftgres-net (a tmpfs, so it
 * lives exactly as long as the namespaces can), written before any namespace is created. A record
 * whose process is gone marks leftovers of a crashed run; `removeLeftovers` takes them down
 * (processes, namespaces, veths, the bridge, the root namespace's rules). Everything here is
 * synchronous because it also runs from the process exit hook.
 */
import { closeSync, mkdirSync, openSync, readFileSync, readdirSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";
import { tryRunSync } from "./command.js";

export const REGISTRY_DIR = "/run/raftgres-net";
/** Subnets 10.200.1.0/24 … 10.200.250.0/24 are ours to hand out. */
export const SUBNETS_MAX = 250;

interface OwnerRecord {
  readonly id: string;
  readonly pid: number;
  /** The owner's start time in clock ticks since boot (/proc/<pid>/stat), against PID reuse. */
  readonly startTime: string | null;
}

export const names = {
  netns: (id: string, host: string): string => `rg-${id}-${host}`,
  bridge: (id: string): string => `rgbr-${id}`,
  veth: (id: string, index: number): string => `rgv${id}-${index}`,
  rootRuleComment: (id: string): string => `rgnet-${id}`,
};

/** The rules a topology adds to the root namespace, so a host firewall cannot break the bridge. */
export function rootRules(id: string): string[][] {
  const bridge = names.bridge(id);
  const tag = ["-m", "comment", "--comment", names.rootRuleComment(id), "-j", "ACCEPT"];
  return [
    ["INPUT", "-i", bridge, ...tag],
    // With br_netfilter loaded, bridged frames between hosts cross the root FORWARD chain.
    ["FORWARD", "-i", bridge, "-o", bridge, ...tag],
  ];
}

function startTimeOf(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19] ?? null;
  } catch {
    return null;
  }
}

function recordPath(id: string): string {
  return join(REGISTRY_DIR, `${id}.json`);
}

function readRecord(id: string): OwnerRecord | null {
  try {
    return JSON.parse(readFileSync(recordPath(id), "utf8")) as OwnerRecord;
  } catch {
    return null;
  }
}

function alive(record: OwnerRecord | null): boolean {
  if (record === null) return false;
  const now = startTimeOf(record.pid);
  return now !== null && (record.startTime === null || now === record.startTime);
}

/** Writes `text` to a new file; false if it exists already. */
function createExclusive(path: string, text: string): boolean {
  let fd: number;
  try {
    fd = openSync(path, "wx", 0o644);
  } catch (error: unknown) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw error;
  }
  writeSync(fd, text);
  closeSync(fd);
  return true;
}

/** Makes `id` ours, cleaning what a dead owner left; throws if a live process owns it. */
export function claimId(id: string): void {
  mkdirSync(REGISTRY_DIR, { recursive: true, mode: 0o755 });
  const existing = readRecord(id);
  if (alive(existing) && existing !== null) {
    throw new Error(`topology id "${id}" is in use by process ${existing.pid}: give this topology another id`);
  }
  removeLeftovers(id);
  const record: OwnerRecord = { id, pid: process.pid, startTime: startTimeOf(process.pid) };
  if (!createExclusive(recordPath(id), JSON.stringify(record))) {
    throw new Error(`topology id "${id}" was claimed by another process just now: give this topology another id`);
  }
}

function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (const char of text) hash = Math.imul(hash ^ char.charCodeAt(0), 0x01000193) >>> 0;
  return hash;
}

function subnetsInUse(): Set<number> {
  const used = new Set<number>();
  const out = tryRunSync("ip", ["-o", "-4", "addr", "show"]) ?? "";
  for (const match of out.matchAll(/inet 10\.200\.(\d+)\./g)) used.add(Number(match[1]));
  return used;
}

/**
 * Claims the third octet n of 10.200.n.0/24: derived from the id, so a given id usually gets the
 * same addresses, and probing on past subnets held by a live topology or any interface.
 */
export function claimSubnet(id: string): number {
  const preferred = fnv1a(id) % SUBNETS_MAX;
  const used = subnetsInUse();
  for (let k = 0; k < SUBNETS_MAX; k++) {
    const n = 1 + ((preferred + k) % SUBNETS_MAX);
    if (used.has(n)) continue;
    const path = join(REGISTRY_DIR, `subnet-${n}`);
    if (createExclusive(path, id)) return n;
    const owner = readFileSyncOrNull(path);
    if (owner !== null && owner !== id && !alive(readRecord(owner))) {
      removeLeftovers(owner);
      if (createExclusive(path, id)) return n;
    }
  }
  throw new Error(`no free subnet in 10.200.1-${SUBNETS_MAX}.0/24: run Topology.cleanupStale() or destroy live topologies`);
}

function readFileSyncOrNull(path: string): string | null {
  try {
    return readFileSync(path, "utf8").trim();
  } catch {
    return null;
  }
}

function netnsList(): string[] {
  const out = tryRunSync("ip", ["netns", "list"]) ?? "";
  return out.split("\n").map((line) => line.split(" ")[0] ?? "").filter((name) => name !== "");
}

function linkList(): string[] {
  const out = tryRunSync("ip", ["-o", "link", "show"]) ?? "";
  return out
    .split("\n")
    .map((line) => /^\d+: ([^:@\s]+)/.exec(line)?.[1] ?? "")
    .filter((name) => name !== "");
}

/** Removes everything topology `id` may have created; whatever is already gone is skipped. */
export function removeLeftovers(id: string): void {
  const namespaces = netnsList().filter((name) => name.startsWith(`rg-${id}-`));
  for (const netns of namespaces) {
    const pids = tryRunSync("ip", ["netns", "pids", netns]) ?? "";
    for (const pid of pids.split("\n").filter((p) => /^\d+$/.test(p))) {
      try {
        process.kill(Number(pid), "SIGKILL");
      } catch {
        // Already gone.
      }
    }
  }
  // Deleting one end of a veth pair deletes the other, also inside a namespace.
  for (const link of linkList().filter((name) => name.startsWith(`rgv${id}-`))) tryRunSync("ip", ["link", "del", link]);
  for (const netns of namespaces) tryRunSync("ip", ["netns", "del", netns]);
  if (linkList().includes(names.bridge(id))) tryRunSync("ip", ["link", "del", names.bridge(id)]);
  for (const [chain, ...spec] of rootRules(id)) {
    // A crash between two adds could leave a rule twice; delete until there is none.
    for (let i = 0; i < 4 && tryRunSync("iptables", ["-w", "5", "-D", chain!, ...spec]) !== null; i++);
  }
  for (const file of safeReaddir(REGISTRY_DIR)) {
    if (file.startsWith("subnet-") && readFileSyncOrNull(join(REGISTRY_DIR, file)) === id) {
      rmSync(join(REGISTRY_DIR, file), { force: true });
    }
  }
  rmSync(recordPath(id), { force: true });
}

function safeReaddir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

function idsOnMachine(): Set<string> {
  const ids = new Set<string>();
  for (const file of safeReaddir(REGISTRY_DIR)) if (file.endsWith(".json")) ids.add(file.slice(0, -5));
  for (const netns of netnsList()) {
    const match = /^rg-([a-z0-9]+)-/.exec(netns);
    if (match?.[1] !== undefined) ids.add(match[1]);
  }
  for (const link of linkList()) {
    const match = /^rgbr-([a-z0-9]+)$/.exec(link) ?? /^rgv([a-z0-9]+)-\d+$/.exec(link);
    if (match?.[1] !== undefined) ids.add(match[1]);
  }
  const rules = tryRunSync("iptables", ["-w", "5", "-S"]) ?? "";
  for (const match of rules.matchAll(/--comment "?rgnet-([a-z0-9]+)/g)) if (match[1] !== undefined) ids.add(match[1]);
  return ids;
}

/**
 * Removes the leftovers of every topology whose id starts with `prefix` and whose owner process
 * is gone (or unknown); live topologies of other processes are left alone. Returns the ids cleaned.
 */
export function cleanupStale(prefix = ""): string[] {
  const cleaned: string[] = [];
  for (const id of idsOnMachine()) {
    if (!id.startsWith(prefix) || alive(readRecord(id))) continue;
    removeLeftovers(id);
    cleaned.push(id);
  }
  return cleaned.sort();
}
