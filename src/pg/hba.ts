/**
 * pg_hba.conf as the user configured it, then only the lines raftgres's own connections need: the superuser and the replication role from this host
 * and from the members' addresses (streaming, pg_basebackup, pg_rewind and the remote CHECKPOINT
 * before it), and the replication role's replication=database session to itself. Nothing "from
 * anywhere": applications get in by the user's lines (issue 15).
 *
 * The user's lines are node.yml's postgresql.pg_hba when it has any (Patroni: the local file wins
 * over the dynamic config), else the cluster's postgresql.pg_hba when it sets one (an empty list
 * included: no lines of the user's), else bootstrap.pg_hba (Patroni 3's spelling). The cluster's
 * lines change with edit-config: the agent passes them in (ClusterHbaLines), and the file is
 * rewritten and reloaded, no restart needed (postgres_instance.ts).
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

/** The most lines of the cluster's pg_hba, and the longest (src/dcs/dynamic_postgresql.ts checks them at the edges). */
export const CLUSTER_HBA_LINES_MAX = 256;
export const CLUSTER_HBA_LINE_CHARS_MAX = 1024;

/**
 * The cluster's postgresql.pg_hba as the agent last read it (null: unset). The edges checked each
 * line; here, where a line is written into the file, only what would do harm is refused again:
 * too many or too long lines, and a control character that would start a line of its own.
 */
export class ClusterHbaLines {
  private lines: readonly string[] | null;

  constructor(initial: readonly string[] | null) {
    this.lines = ClusterHbaLines.problem(initial) === null ? initial : null;
  }

  static problem(lines: readonly string[] | null): string | null {
    if (lines === null) return null;
    if (lines.length > CLUSTER_HBA_LINES_MAX) return `the cluster's postgresql.pg_hba has ${lines.length} lines, more than ${CLUSTER_HBA_LINES_MAX}`;
    const bad = lines.findIndex((line) => line.length > CLUSTER_HBA_LINE_CHARS_MAX || /[\u0000-\u0008\u000a-\u001f\u007f]/.test(line));
    return bad < 0 ? null : `the cluster's postgresql.pg_hba[${bad}] is longer than ${CLUSTER_HBA_LINE_CHARS_MAX} characters or holds a control character`;
  }

  /** Sets the lines: "changed", "same", or a sentence saying why they were refused (the old ones stay). */
  set(lines: readonly string[] | null): "changed" | "same" | string {
    const problem = ClusterHbaLines.problem(lines);
    if (problem !== null) return problem;
    if (JSON.stringify(lines) === JSON.stringify(this.lines)) return "same";
    this.lines = lines === null ? null : [...lines];
    return "changed";
  }

  current(): readonly string[] | null {
    return this.lines;
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
  /** node.yml's postgresql.pg_hba: the whole list when given. */
  readonly pgHba: readonly string[];
  /** The cluster's postgresql.pg_hba when it sets one: used when node.yml's is empty. */
  readonly clusterPgHba: readonly string[] | null;
  /** bootstrap.pg_hba: used when neither of those gives lines. */
  readonly bootstrapPgHba: readonly string[];
  readonly peers: readonly string[];
  /** The address the agent connects to its own server on (listen_addresses, loopback when a wildcard). */
  readonly self: string;
}

/** The user's lines and the setting they come from, by the precedence above. */
export function userHbaLines(input: Pick<HbaInput, "pgHba" | "clusterPgHba" | "bootstrapPgHba">): { readonly lines: readonly string[]; readonly from: string } {
  if (input.pgHba.length > 0) return { lines: input.pgHba, from: "node.yml's postgresql.pg_hba" };
  if (input.clusterPgHba !== null) return { lines: input.clusterPgHba, from: "the cluster's postgresql.pg_hba (edit-config, bootstrap.dcs)" };
  if (input.bootstrapPgHba.length > 0) return { lines: input.bootstrapPgHba, from: "node.yml's bootstrap.pg_hba" };
  return { lines: [], from: "no setting: no postgresql.pg_hba in node.yml or in the cluster's config, no bootstrap.pg_hba" };
}

/** The file's text: the user's lines first (first match wins), then ours. */
export function renderHbaText(input: HbaInput): string {
  const quote = (role: string) => `"${role.replace(/"/g, '""')}"`;
  const user = userHbaLines(input);
  const own = [...new Set([...LOOPBACK, ...[hbaAddress(input.self)].filter((a): a is string => a !== null)])];
  const addresses = [...own, ...input.peers.map(hbaAddress).filter((a): a is string => a !== null && !own.includes(a))];
  const lines = [
    "# Written by raftgres before each start and when the members or the cluster's pg_hba change:",
    "# do not edit; set postgresql.pg_hba (raftgres edit-config, or node.yml to override it here).",
    `# The user's lines, from ${user.from}:`,
    ...user.lines,
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
