/**
 * pg_controldata, run as the OS user and parsed: the system identifier, the cluster state, the
 * latest checkpoint's timeline and whether pg_rewind can work (checksums or wal_log_hints).
 */
import * as E from "fp-ts/lib/Either.js";
import type { ControlState } from "../ha/observation.js";
import type { Lsn } from "./types.js";
import { CONTROLDATA_TIMEOUT_MS } from "./constants.js";
import { lsnOrNull } from "./lsn.js";
import type { OsUser } from "./os_user.js";
import { describeOutcome, runProgram, succeeded } from "./programs.js";

export interface ControlData {
  readonly systemId: string;
  readonly state: ControlState;
  readonly checkpointTimeline: number;
  /** "Latest checkpoint location": where the last checkpoint record starts (after a clean shutdown, the last record). */
  readonly checkpointLsn: Lsn | null;
  /** "Minimum recovery ending location" and its timeline; null when 0/0 (never in recovery, or reset). */
  readonly minRecoveryLsn: Lsn | null;
  readonly minRecoveryTimeline: number | null;
  readonly dataChecksums: boolean;
  readonly walLogHints: boolean;
}

const STATES: ReadonlySet<string> = new Set<ControlState>([
  "shut down",
  "shut down in recovery",
  "in production",
  "in archive recovery",
  "in crash recovery",
  "shutting down",
]);

/** Parses the output of `LC_ALL=C pg_controldata` ("Name:   value" lines). */
export function parseControlData(text: string): E.Either<string, ControlData> {
  const fields = new Map<string, string>();
  for (const line of text.split("\n")) {
    const colon = line.indexOf(":");
    if (colon > 0) fields.set(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
  }
  const systemId = fields.get("Database system identifier");
  const state = fields.get("Database cluster state");
  const timeline = Number(fields.get("Latest checkpoint's TimeLineID"));
  const checksums = fields.get("Data page checksum version");
  const hints = fields.get("wal_log_hints setting");
  if (systemId === undefined || !/^\d+$/.test(systemId) || state === undefined || !Number.isInteger(timeline)) {
    return E.left("pg_controldata printed no system identifier, cluster state or timeline");
  }
  return E.right({
    systemId,
    state: STATES.has(state) ? (state as ControlState) : "unknown",
    checkpointTimeline: timeline,
    checkpointLsn: lsnOrNull(fields.get("Latest checkpoint location") ?? null),
    ...minRecovery(fields),
    dataChecksums: checksums !== undefined && checksums !== "0",
    walLogHints: hints === "on",
  });
}

function minRecovery(fields: ReadonlyMap<string, string>): Pick<ControlData, "minRecoveryLsn" | "minRecoveryTimeline"> {
  const lsn = lsnOrNull(fields.get("Minimum recovery ending location") ?? null);
  const timeline = Number(fields.get("Min recovery ending loc's timeline"));
  if (lsn === null || lsn === 0n || !Number.isInteger(timeline) || timeline <= 0) return { minRecoveryLsn: null, minRecoveryTimeline: null };
  return { minRecoveryLsn: lsn, minRecoveryTimeline: timeline };
}

export async function readControlData(binDir: string, user: OsUser, dataDir: string): Promise<E.Either<string, ControlData>> {
  const outcome = await runProgram(binDir, user, {
    program: "pg_controldata",
    args: ["-D", dataDir],
    timeoutMs: CONTROLDATA_TIMEOUT_MS,
  });
  if (!succeeded(outcome)) return E.left(describeOutcome("pg_controldata", outcome, CONTROLDATA_TIMEOUT_MS));
  return parseControlData(outcome.stdout);
}
