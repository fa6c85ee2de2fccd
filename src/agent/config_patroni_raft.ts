/**
 * Patroni's own `raft:` keys in a node's file (patroni/dcs/raft.py; docs/yaml_configuration.rst,
 * "Raft"), so a patroni.yml keeps its raft section. Each key that means the same in raftgres
 * becomes our key, with a line saying what it became; `password`, whose meaning differs, is
 * refused with what to write instead; pysyncobj's tunables raftgres has no counterpart for are
 * accepted and reported as ignored, with why. A file that gives both spellings of one setting
 * and makes them disagree has a problem. This runs on the parsed document before it is read,
 * and tells the reader which of our keys the file spelled Patroni's way, so a problem with the
 * value names the key the file has.
 */
import { DEFAULT_TRANSPORT_LIMITS } from "../raft/runtime/transport_limits.js";
import { ConfigReader, SECRET_FILE_EXAMPLE } from "./config_reader.js";
import { RAFT_ELECTION_TIMEOUT_MS, RAFT_HEARTBEAT_MS, type MsRange } from "./config_raft.js";

/** Each Patroni raft key and what it is in raftgres: the README's table is these rows. */
export const PATRONI_RAFT_KEYS: Readonly<Record<string, string>> = {
  self_addr: "raft.listen when neither listen nor bind_addr is given; must equal this node's raft.members entry",
  bind_addr: "raft.listen",
  partner_addrs: "checked against the other members' addresses in raft.members (or raft.join), which raftgres needs: it knows each Raft member by name",
  data_dir: "raft.data_dir (the same key; raftgres needs it, as an absolute path)",
  password: "refused: Patroni encrypts Raft traffic with it, raftgres authenticates peers with raft.secret_file (or raft.secret) and does not encrypt",
  min_timeout: "raft.election_timeout_ms (seconds × 1000)",
  append_entries_period: "raft.heartbeat_ms (seconds × 1000)",
  max_timeout: "ignored: an election waits a random time from raft.election_timeout_ms to twice it",
  connection_timeout: `ignored: a Raft connection silent for ${DEFAULT_TRANSPORT_LIMITS.keepaliveTimeoutMs / 1000} s is dropped`,
  connection_retry_time: `ignored: raftgres redials after ${DEFAULT_TRANSPORT_LIMITS.reconnectDelayMinMs} ms, doubling up to ${DEFAULT_TRANSPORT_LIMITS.reconnectDelayMaxMs / 1000} s`,
  leader_fallback_timeout: "ignored: a Raft leader steps down after one election timeout without hearing from a majority",
};

const IGNORED = ["max_timeout", "connection_timeout", "connection_retry_time", "leader_fallback_timeout"] as const;
/** Keys this module takes out of the raft section (data_dir is ours too and stays). */
const TRANSLATED = ["self_addr", "bind_addr", "partner_addrs", "password", "min_timeout", "append_entries_period", ...IGNORED];

export interface PatroniRaftTranslation {
  /** The document with Patroni's raft keys replaced by ours. */
  readonly document: unknown;
  /** Our raft key → the Patroni key the file gave it as (for the reader's problem lines). */
  readonly spellings: ReadonlyMap<string, string>;
}

type Raw = Record<string, unknown>;

/** The shape ConfigReader.hostPort accepts (the port's range is its to check). */
const HOST_PORT = /^[^:\s]+:\d{1,5}$/;

function isMapping(value: unknown): value is Raw {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * Rewrites the raft section of `document` (after the environment overrides) into our keys; lines
 * for the operator go to `warnings`, problems to `problems`, both as `FILE: KEY: …`.
 */
export function translatePatroniRaft(document: unknown, file: string, warnings: string[], problems: string[]): PatroniRaftTranslation {
  if (!isMapping(document) || !isMapping(document["raft"])) return { document, spellings: new Map() };
  const given = document["raft"];
  if (!TRANSLATED.some((key) => given[key] !== undefined)) return { document, spellings: new Map() };
  const patroni = new ConfigReader(given, file, "raft", warnings, problems);
  const ours: Raw = Object.fromEntries(Object.entries(given).filter(([key]) => !TRANSLATED.includes(key)));
  const spellings = new Map<string, string>();
  const name = typeof document["name"] === "string" ? document["name"] : null;
  translateAddresses(patroni, ours, spellings, name);
  translateTiming(patroni, ours, spellings, { key: "min_timeout", our: "election_timeout_ms", range: RAFT_ELECTION_TIMEOUT_MS, what: "the election timeout", note: (ms) => `an election waits a random time from ${ms} to ${2 * ms} ms` });
  translateTiming(patroni, ours, spellings, { key: "append_entries_period", our: "heartbeat_ms", range: RAFT_HEARTBEAT_MS, what: "the Raft leader's heartbeat interval" });
  if (patroni.has("password")) patroni.fail("password", passwordProblem(ours));
  for (const key of IGNORED) if (patroni.has(key)) patroni.warn(key, `a Patroni setting raftgres does not use; ${PATRONI_RAFT_KEYS[key]}`);
  return { document: { ...document, raft: ours }, spellings };
}

/**
 * pysyncobj encrypts the Raft traffic with `password` (and so only peers that know it get in);
 * raftgres's transport authenticates peers with the shared secret (HMAC, handshake.ts) and sends
 * in the clear. Reading one as the other would let a file that asked for encryption run without
 * it, so the key is refused with what to write instead.
 */
function passwordProblem(ours: Raw): string {
  const meaning = "Patroni encrypts the Raft traffic with it; raftgres authenticates its Raft peers with a shared secret and does not encrypt (keep Raft on a private network or a tunnel)";
  const secret = ours["secret_file"] !== undefined ? "raft.secret_file" : ours["secret"] !== undefined ? "raft.secret" : null;
  if (secret !== null) return `${meaning}. ${secret} is that secret here: remove password`;
  return `${meaning}. To use this value as that secret, rename password to secret (8 characters or more); better, make a secret file with \`raftgres secret --out ${SECRET_FILE_EXAMPLE}\`, copy it to every member and set raft.secret_file`;
}

/** self_addr, bind_addr and partner_addrs: where this node listens, and who its peers are. */
function translateAddresses(patroni: ConfigReader, ours: Raw, spellings: Map<string, string>, name: string | null): void {
  const members = isMapping(ours["members"]) ? ours["members"] : null;
  const join = isMapping(ours["join"]) ? ours["join"] : null;
  const ownEntry = name !== null && members !== null ? members[name] : undefined;
  if (patroni.has("bind_addr")) {
    const bind = patroni.raw()["bind_addr"];
    if (ours["listen"] === undefined) {
      ours["listen"] = bind;
      spellings.set("listen", "bind_addr");
      patroni.warn("bind_addr", `Patroni's key, read as raft.listen: ${JSON.stringify(bind)}`);
    } else if (ours["listen"] === bind) {
      patroni.warn("bind_addr", "Patroni's key, the same as raft.listen");
    } else {
      patroni.fail("bind_addr", `is ${JSON.stringify(bind)} but raft.listen is ${JSON.stringify(ours["listen"])}: both are where this node listens for Raft; keep one`);
    }
  }
  let self: string | null = null;
  if (patroni.has("self_addr")) {
    patroni.hostPort("self_addr");
    const given = patroni.raw()["self_addr"];
    self = typeof given === "string" && HOST_PORT.test(given) ? given : null;
    const became: string[] = [];
    if (ours["listen"] === undefined) {
      ours["listen"] = given;
      spellings.set("listen", "self_addr");
      became.push(`read as raft.listen: ${JSON.stringify(given)}`);
    }
    if (typeof ownEntry === "string" && self !== null) {
      if (ownEntry !== self) {
        patroni.fail("self_addr", `is ${JSON.stringify(self)} but raft.members.${name} is ${JSON.stringify(ownEntry)}: both are where the other members reach this node; make them the same, or drop self_addr`);
      } else {
        became.push(`the same as raft.members.${name}`);
      }
    }
    if (became.length === 0) became.push("not used: this node listens on raft.listen and the other members reach it at the address they list for it");
    patroni.warn("self_addr", `Patroni's key, ${became.join("; ")}`);
  }
  if (patroni.has("partner_addrs")) checkPartners(patroni, members, join, name, self ?? (typeof ownEntry === "string" ? ownEntry : null));
}

/**
 * partner_addrs lists the other members by address only; raftgres knows each Raft member by its
 * name (the votes and the log name members), so the list cannot stand for raft.members: beside
 * it, it must list the same addresses; alone, the problem says how to write raft.members.
 */
function checkPartners(patroni: ConfigReader, members: Raw | null, join: Raw | null, name: string | null, self: string | null): void {
  const listed = patroni.stringList("partner_addrs");
  for (const address of listed) {
    if (!HOST_PORT.test(address)) patroni.fail("partner_addrs", `${JSON.stringify(address)} is not host:port`);
  }
  const partners = new Set(listed.filter((address) => address !== self));
  const against = members ?? join;
  if (against === null) {
    const own = name ?? "<this node's name>";
    const example = [`${own}: "${self ?? "<its host:port>"}"`, ...[...partners].map((address) => `<name of ${address}>: "${address}"`)].join(", ");
    patroni.fail("members", `is required: raftgres knows each Raft member by its name, and raft.partner_addrs (Patroni's) gives addresses only. Write members: { ${example} }, each name being that member's \`name\` setting (on a node joining a running group, join: { … } the same way, without this node)`);
    return;
  }
  const section = members === null ? "raft.join" : "raft.members";
  const others = new Set(Object.entries(against).filter(([member]) => member !== name).map(([, address]) => address).filter((address): address is string => typeof address === "string"));
  const extra = [...partners].filter((address) => !others.has(address));
  const missing = [...others].filter((address) => !partners.has(address));
  if (extra.length === 0 && missing.length === 0) {
    patroni.warn("partner_addrs", `Patroni's key, the same addresses as ${section}, which raftgres uses`);
    return;
  }
  const differences = [...extra.map((address) => `has ${address}`), ...missing.map((address) => `lacks ${address}`)].join(", ");
  patroni.fail("partner_addrs", `differs from ${section}: it ${differences}; raftgres uses ${section} (it knows each member by name): make them agree, or drop partner_addrs`);
}

interface Interval {
  /** Patroni's key, in seconds. */
  readonly key: string;
  /** Ours, in milliseconds. */
  readonly our: string;
  readonly range: MsRange;
  readonly what: string;
  /** How raftgres uses the value, when there is more to say than `what`. */
  readonly note?: (ms: number) => string;
}

/** A pysyncobj interval in seconds that is one of ours in milliseconds. */
function translateTiming(patroni: ConfigReader, ours: Raw, spellings: Map<string, string>, { key, our, range, what, note }: Interval): void {
  const seconds = patroni.raw()[key];
  if (seconds === undefined) return;
  const ms = typeof seconds === "number" && Number.isFinite(seconds) ? Math.round(seconds * 1000) : Number.NaN;
  if (!(ms >= range.min && ms <= range.max)) {
    patroni.fail(key, `must be a number of seconds from ${range.min / 1000} to ${range.max / 1000}, got ${JSON.stringify(seconds)?.slice(0, 60)}`);
    return;
  }
  if (ours[our] === undefined) {
    ours[our] = ms;
    spellings.set(our, key);
    patroni.warn(key, `Patroni's key, read as raft.${our}: ${ms} (${note?.(ms) ?? what})`);
  } else if (ours[our] === ms) {
    patroni.warn(key, `Patroni's key, the same as raft.${our}`);
  } else {
    patroni.fail(key, `is ${seconds} s but raft.${our} is ${JSON.stringify(ours[our])?.slice(0, 60)}: both set ${what}; keep one`);
  }
}
