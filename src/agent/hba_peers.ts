/**
 * The members' addresses for pg_hba.conf (src/pg/hba.ts): the Raft members this node.yml names
 * (known before they report) and every member's PostgreSQL address in the cluster state.
 */
import type { ScopeView } from "../dcs/views.js";

/** The host of "host:port" or "[v6]:port"; null when it is not that. */
export function hostOfAddress(address: string): string | null {
  const match = /^\[?([^\]]+?)\]?:\d+$/.exec(address);
  return match === null ? null : match[1]!;
}

/** The host of a member's connection URL ("postgresql://10.0.0.2:5432/postgres"); null when none. */
export function hostOfConnUrl(url: string): string | null {
  try {
    const host = new URL(url).hostname;
    return host === "" ? null : host.replace(/^\[|\]$/g, "");
  } catch {
    return null;
  }
}

export function hbaPeerHosts(raftAddresses: readonly string[], view: ScopeView | null): string[] {
  const hosts = [...raftAddresses.map(hostOfAddress), ...(view?.members ?? []).map((m) => hostOfConnUrl(m.connUrl))];
  return [...new Set(hosts.filter((h): h is string => h !== null))];
}
