/**
 * Network faults as iptables rules: a pure translation from a fault to the rules each host's
 * namespace gets in its RGFAULT chain. No I/O here; topology.ts applies the rules.
 *
 * Every rule drops on the receiving side (RGFAULT is jumped to from INPUT only), by source
 * address, without any conntrack state match, so established connections lose their packets too.
 * Dropping on the receiving side is what a broken wire looks like: the sender's packets leave and
 * vanish. Dropping in OUTPUT instead would make the sender's own kernel fail the send at once
 * (connect() and sendto() return EPERM), a signal no real network gives.
 */
import { assertNever } from "../../../src/lib/assert.js";

/** A fault as the nemesis asked for it (also what the report prints). */
export type Fault =
  | { readonly kind: "partition"; readonly groups: readonly (readonly string[])[]; readonly clients: boolean }
  | { readonly kind: "isolate"; readonly host: string; readonly clients: boolean }
  | { readonly kind: "dropOneWay"; readonly from: string; readonly to: string }
  | { readonly kind: "loss"; readonly host: string; readonly probability: number };

/** The addresses a fault is expressed in. */
export interface Addresses {
  /** Host name → its IPv4 address. */
  readonly hosts: ReadonlyMap<string, string>;
  /** The bridge's address in the root namespace: where test clients and the harness come from. */
  readonly bridgeIp: string;
}

/** Host name → the rule specifications (after `-A RGFAULT`) that the fault adds there. */
export type RulesByHost = Map<string, string[]>;

export const FAULT_CHAIN = "RGFAULT";

function ipOf(addresses: Addresses, host: string): string {
  const ip = addresses.hosts.get(host);
  if (ip === undefined) {
    throw new Error(`unknown host "${host}": the topology has ${[...addresses.hosts.keys()].join(", ")}`);
  }
  return ip;
}

function add(rules: RulesByHost, host: string, rule: string): void {
  const list = rules.get(host) ?? [];
  list.push(rule);
  rules.set(host, list);
}

function drop(sourceIp: string, comment: string): string {
  return `-s ${sourceIp}/32 -m comment --comment "${comment}" -j DROP`;
}

/** Both directions between a and b: each drops what comes from the other. */
function cut(rules: RulesByHost, addresses: Addresses, a: string, b: string, comment: string): void {
  add(rules, a, drop(ipOf(addresses, b), comment));
  add(rules, b, drop(ipOf(addresses, a), comment));
}

/**
 * Two hosts named in the partition talk if and only if some group holds both. Groups may overlap:
 * [[a, b, m], [m, c, d]] is Jepsen's bridge, where m talks to everyone and the sides do not talk.
 * Hosts named in no group are not affected.
 */
function partitionRules(fault: Extract<Fault, { kind: "partition" }>, addresses: Addresses): RulesByHost {
  const rules: RulesByHost = new Map();
  const named = [...new Set(fault.groups.flat())];
  for (const host of named) ipOf(addresses, host);
  const together = (a: string, b: string): boolean => fault.groups.some((g) => g.includes(a) && g.includes(b));
  named.forEach((a, index) => {
    for (const b of named.slice(index + 1)) if (!together(a, b)) cut(rules, addresses, a, b, `rg partition ${a}|${b}`);
  });
  if (!fault.clients) for (const host of named) add(rules, host, drop(addresses.bridgeIp, "rg partition clients"));
  return rules;
}

function lossRule(sourceIp: string, probability: number, comment: string): string {
  // A probability of 1 is a plain DROP: the statistic match rounds to 32 bits, which is not 1.
  if (probability >= 1) return drop(sourceIp, comment);
  const p = probability.toFixed(6);
  return `-s ${sourceIp}/32 -m statistic --mode random --probability ${p} -m comment --comment "${comment}" -j DROP`;
}

/** The rules one fault adds, per host; hosts without rules are absent. */
export function faultRules(fault: Fault, addresses: Addresses): RulesByHost {
  const rules: RulesByHost = new Map();
  switch (fault.kind) {
    case "partition":
      return partitionRules(fault, addresses);
    case "isolate": {
      for (const other of addresses.hosts.keys()) {
        if (other !== fault.host) cut(rules, addresses, fault.host, other, `rg isolate ${fault.host}`);
      }
      ipOf(addresses, fault.host);
      if (!fault.clients) add(rules, fault.host, drop(addresses.bridgeIp, `rg isolate ${fault.host} clients`));
      return rules;
    }
    case "dropOneWay":
      if (fault.from === fault.to) throw new Error(`dropOneWay needs two different hosts, got "${fault.from}" twice`);
      ipOf(addresses, fault.to);
      add(rules, fault.to, drop(ipOf(addresses, fault.from), `rg oneway ${fault.from}>${fault.to}`));
      return rules;
    case "loss": {
      const { host, probability } = fault;
      if (!(probability >= 0 && probability <= 1)) {
        throw new Error(`loss probability must be in [0, 1], got ${probability}`);
      }
      const ip = ipOf(addresses, host);
      // Each packet between host and a peer crosses exactly one INPUT (the receiver's), so each
      // is dropped once with the given probability, in both directions.
      for (const [other, otherIp] of addresses.hosts) {
        if (other === host) continue;
        add(rules, host, lossRule(otherIp, probability, `rg loss ${host}`));
        add(rules, other, lossRule(ip, probability, `rg loss ${host}`));
      }
      return rules;
    }
    default:
      return assertNever(fault, "fault");
  }
}

/** A short sentence for logs and the report: "partition [a] [b c]". */
export function describeFault(fault: Fault): string {
  switch (fault.kind) {
    case "partition":
      const groups = fault.groups.map((g) => `[${g.join(" ")}]`).join(" ");
      return `partition ${groups}${fault.clients ? "" : " (clients cut too)"}`;
    case "isolate":
      return `isolate ${fault.host}${fault.clients ? " (clients still reach it)" : " (from clients too)"}`;
    case "dropOneWay":
      return `drop ${fault.from} -> ${fault.to}`;
    case "loss":
      return `loss ${fault.host} p=${fault.probability}`;
    default:
      return assertNever(fault, "fault");
  }
}
