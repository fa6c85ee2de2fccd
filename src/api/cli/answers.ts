/**
 * What the CLI reads out of the REST API's answers (shared/reference/patroni-behaviour.md §1.3):
 * GET /cluster, /patroni, /history, and the error bodies {error, message, candidates?}. The
 * server is another program, maybe of another version: every field is read defensively, and a
 * missing one becomes null rather than a crash.
 */
import { isJsonObject, type JsonObject, type JsonValue } from "../../dcs/json.js";
import type { Answer } from "./http.js";
import { CliExit, EXIT } from "./exit.js";

export interface ClusterMember {
  readonly name: string;
  /** leader, standby_leader, sync_standby, quorum_standby, replica. */
  readonly role: string;
  readonly state: string;
  readonly apiUrl: string | null;
  readonly host: string | null;
  readonly port: number | null;
  readonly timeline: number | null;
  /** LSNs as the server gave them (text like 0/3000060, or a byte position); lags in bytes or "unknown". */
  readonly receiveLsn: JsonValue;
  readonly receiveLag: JsonValue;
  readonly replayLsn: JsonValue;
  readonly replayLag: JsonValue;
  readonly lag: JsonValue;
  readonly pendingRestart: boolean;
  readonly pendingRestartReason: JsonValue;
  readonly scheduledRestart: JsonValue;
  readonly tags: JsonObject;
}

export interface ClusterView {
  readonly scope: string | null;
  readonly pause: boolean;
  readonly scheduledSwitchover: { readonly at: string; readonly from: string | null; readonly to: string | null } | null;
  readonly members: readonly ClusterMember[];
}

export interface HistoryEntry {
  readonly timeline: JsonValue;
  readonly lsn: JsonValue;
  readonly reason: JsonValue;
  readonly timestamp: JsonValue;
  readonly newLeader: JsonValue;
}

function str(value: JsonValue | undefined): string | null {
  return typeof value === "string" ? value : null;
}

function num(value: JsonValue | undefined): number | null {
  return typeof value === "number" && Number.isFinite(value) ? value : null;
}

export function readCluster(body: unknown): ClusterView {
  if (!isJsonObject(body)) throw new CliExit(EXIT.failed, "GET /cluster did not answer with a JSON object");
  const members = Array.isArray(body["members"]) ? body["members"].filter(isJsonObject).map(readMember) : [];
  const scheduled = body["scheduled_switchover"];
  return {
    scope: str(body["scope"]),
    pause: body["pause"] === true,
    scheduledSwitchover: isJsonObject(scheduled) && typeof scheduled["at"] === "string" ? { at: scheduled["at"], from: str(scheduled["from"]), to: str(scheduled["to"]) } : null,
    members: [...members].sort((a, b) => a.name.localeCompare(b.name)),
  };
}

function readMember(m: JsonObject): ClusterMember {
  return {
    name: str(m["name"]) ?? "?",
    role: str(m["role"]) ?? "unknown",
    // A server of another version may mark a silent member gone and keep its last state: not shown.
    state: m["gone"] === true ? "unknown" : (str(m["state"]) ?? "unknown"),
    apiUrl: str(m["api_url"]),
    host: str(m["host"]),
    port: num(m["port"]),
    timeline: num(m["timeline"]),
    receiveLsn: m["receive_lsn"] ?? null,
    receiveLag: m["receive_lag"] ?? null,
    replayLsn: m["replay_lsn"] ?? null,
    replayLag: m["replay_lag"] ?? null,
    lag: m["lag"] ?? null,
    pendingRestart: m["pending_restart"] === true,
    pendingRestartReason: m["pending_restart_reason"] ?? null,
    scheduledRestart: m["scheduled_restart"] ?? null,
    tags: isJsonObject(m["tags"]) ? m["tags"] : {},
  };
}

/** leader and standby_leader hold the lease: the primary of the cluster (or of a standby cluster). */
export function isLeaderRole(role: string): boolean {
  return role === "leader" || role === "standby_leader" || role === "primary";
}

export function leaderOf(cluster: ClusterView): ClusterMember | null {
  return cluster.members.find((m) => isLeaderRole(m.role)) ?? null;
}

export function readHistory(body: unknown): HistoryEntry[] {
  if (!Array.isArray(body)) throw new CliExit(EXIT.failed, "GET /history did not answer with a JSON list");
  return body.map((row: unknown) => {
    if (Array.isArray(row)) {
      const r = row as JsonValue[];
      return { timeline: r[0] ?? null, lsn: r[1] ?? null, reason: r[2] ?? null, timestamp: r[3] ?? null, newLeader: r[4] ?? null };
    }
    const o = isJsonObject(row) ? row : {};
    return { timeline: o["timeline"] ?? null, lsn: o["lsn"] ?? null, reason: o["reason"] ?? null, timestamp: o["timestamp"] ?? null, newLeader: o["new_leader"] ?? o["newLeader"] ?? null };
  });
}

/** The server's own words: `message`, else `error`, else the body text, else the status. */
export function serverMessage(answer: Answer): string {
  const body = answer.json;
  if (isJsonObject(body)) {
    const message = str(body["message"]) ?? str(body["error"]);
    if (message !== null) return message;
  }
  if (typeof body === "string") return body;
  const text = answer.text.trim();
  return text === "" ? `HTTP ${answer.status}` : text;
}

/** Per-candidate reasons of a refused switchover or failover, one line each. */
export function candidateReasons(answer: Answer): string[] {
  const body = answer.json;
  if (!isJsonObject(body)) return [];
  const candidates = body["candidates"];
  if (Array.isArray(candidates)) {
    return candidates.map((c) => {
      if (!isJsonObject(c)) return `  ${String(c)}`;
      const name = str(c["name"]) ?? str(c["member"]) ?? "?";
      const reason = str(c["reason"]) ?? str(c["message"]) ?? JSON.stringify(c);
      return `  ${name}: ${reason}`;
    });
  }
  if (isJsonObject(candidates)) return Object.entries(candidates).map(([name, reason]) => `  ${name}: ${typeof reason === "string" ? reason : JSON.stringify(reason)}`);
  return [];
}

/** A 2xx answer, or the command ends with exit code 1 and the server's message. */
export function expectSuccess(answer: Answer, what: string): Answer {
  if (answer.status >= 200 && answer.status < 300) return answer;
  throw refusal(answer, what);
}

export function refusal(answer: Answer, what: string): CliExit {
  const lines = [`${what} failed (HTTP ${answer.status} from ${answer.url}): ${serverMessage(answer)}`, ...candidateReasons(answer)];
  if (answer.status === 401 || answer.status === 403) {
    lines.push("The API wants credentials: pass --username/--password (or RAFTGRES_USERNAME/RAFTGRES_PASSWORD),", "or put them under ctl.authentication or restapi.authentication in the file given with -c.");
  }
  return new CliExit(EXIT.failed, lines.join("\n"));
}
