/**
 * The file each agent keeps beside its Raft log with every member's REST URL (written by
 * src/agent/member_urls.ts). The CLI given `-c node.yml` tries this node's API first, then these,
 * so that it works from any node when its own agent is down (patronictl reads the DCS instead).
 * What is read is checked: a damaged or foreign file adds nothing.
 */
import { join } from "node:path";

export const MEMBER_URLS_FILE = "member_api_urls.json";
export const MEMBER_URLS_MAX = 64;
const FILE_BYTES_MAX = 64 * 1024;

/** The URLs in the file under `raftDataDir` for `scope`; [] when it is missing, damaged or another scope's. */
export function readMemberUrls(raftDataDir: string, scope: string | null, readFile: (path: string) => string): string[] {
  let text: string;
  try {
    text = readFile(join(raftDataDir, MEMBER_URLS_FILE));
  } catch {
    return [];
  }
  if (text.length > FILE_BYTES_MAX) return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return [];
  }
  if (typeof parsed !== "object" || parsed === null) return [];
  const { scope: fileScope, urls } = parsed as { scope?: unknown; urls?: unknown };
  if (scope !== null && fileScope !== scope) return [];
  if (!Array.isArray(urls)) return [];
  return urls.filter((u): u is string => typeof u === "string" && /^https?:\/\/[^\s/]+$/.test(u)).slice(0, MEMBER_URLS_MAX);
}
