/**
 * pg_hba.conf as the user configured it (postgresql.pg_hba, else bootstrap.pg_hba), then only the
 * lines raftgres's own connections need: the superuser and the replication role from this host
 * and from the members' addresses (streaming, pg_basebackup, pg_rewind and the remote CHECKPOINT
 * before it), and the replication role's replication=database session to itself. Nothing "from
 * anywhere": applications get in by the user's lines (issue 15).
 *
 * The members' addresses change as members come and go: the agent passes them in (HbaPeers), and
 * the file is rewritten and reloaded when they change (postgres_instance.ts).
 */
import { isIP } from "node:net";

/** The members' addresses as the agent last saw them; read whenever pg_hba.conf is written. */
export class HbaPeers {
  private hosts: readonly string[] = [];

  /** Sets the addresses; true when they changed. */
  set(hosts: readonly string[]): boolean {
    const next = [...new Set(hosts.filter((h) => h !== ""))].sort();
    if (next.length === this.hosts.length && next.every((h, i) => h === this.hosts[i])) return false;
    this.hosts = next;
    return true;
  }

  current(): readonly string[] {
    return this.hosts;
  }
}

const LOOPBACK = ["127.0.0.1/32", "::1/128"];
/** A host name as pg_hba.conf takes one (no spaces, no quotes, no comment). */
const HOST_NAME = /^[A-Za-z0-9][A-Za-z0-9.-]{0,252}$/;

/** The address column for one host: an IP as a one-address network, a name as it is. */
export function hbaAddress(host: string): string | null {
  const bare = host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
  const family = isIP(bare);
  if (family === 4) return `${bare}/32`;
  if (family === 6) return `${bare}/128`;
  return HOST_NAME.test(bare) ? bare : null;
}

export interface HbaInput {
  readonly superuser: string;
  readonly replication: string;
  /** postgresql.pg_hba: the whole list when given. */
  readonly pgHba: readonly string[];
  /** bootstrap.pg_hba: used when postgresql.pg_hba is empty. */
  readonly bootstrapPgHba: readonly string[];
  readonly peers: readonly string[];
  /** The address the agent connects to its own server on (listen_addresses, loopback when a wildcard). */
  readonly self: string;
}

/** The file's text: the user's lines first (first match wins), then ours. */
export function renderHbaText(input: HbaInput): string {
  const quote = (role: string) => `"${role.replace(/"/g, '""')}"`;
  const user = input.pgHba.length > 0 ? input.pgHba : input.bootstrapPgHba;
  const own = [...new Set([...LOOPBACK, ...[hbaAddress(input.self)].filter((a): a is string => a !== null)])];
  const addresses = [...own, ...input.peers.map(hbaAddress).filter((a): a is string => a !== null && !own.includes(a))];
  const lines = [
    "# Written by raftgres before each start and when the members change: do not edit, set",
    "# postgresql.pg_hba (or bootstrap.pg_hba) in its configuration.",
    ...user,
    "# raftgres's own connections: the superuser and the replication role, from this host and the members.",
    "local all all peer",
  ];
  for (const address of [...new Set(addresses)]) {
    lines.push(`host all ${quote(input.superuser)} ${address} scram-sha-256`);
    lines.push(`host replication ${quote(input.replication)} ${address} scram-sha-256`);
  }
  // The agent reads a replica's replay timeline over a replication=database session, which
  // pg_hba matches as a connection to that database (observe.ts): from this host only.
  for (const address of own) lines.push(`host postgres ${quote(input.replication)} ${address} scram-sha-256`);
  return `${lines.join("\n")}\n`;
}
