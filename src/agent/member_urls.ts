/**
 * The members' REST URLs, kept by each agent in a file beside its Raft log, so that the CLI given
 * only this node's node.yml still reaches the cluster when this agent is down (patronictl reads
 * the DCS and works from any node; issue 15). The file is rewritten when the set changes; the
 * CLI reads it (src/api/cli/member_urls_file.ts checks what it reads).
 */
import { rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { ScopeView } from "../dcs/views.js";
import type { Logger } from "../lib/logger.js";
import { MEMBER_URLS_FILE, MEMBER_URLS_MAX } from "../api/cli/member_urls_file.js";

/** The members' REST URLs in name order (bounded), from the cluster's view. */
export function memberUrls(view: ScopeView): string[] {
  return view.members
    .filter((m) => m.apiUrl !== "")
    .map((m) => [m.name, m.apiUrl] as const)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([, url]) => url)
    .slice(0, MEMBER_URLS_MAX);
}

/** Writes the file when the URLs change; a write that fails is logged and tried on the next change. */
export class MemberUrlsWriter {
  private written = "";
  private writing: Promise<void> = Promise.resolve();

  constructor(
    private readonly raftDataDir: string,
    private readonly scope: string,
    private readonly logger: Logger,
  ) {}

  /** Called with every view of the scope; returns once a write it started is over. */
  update(view: ScopeView): Promise<void> {
    const urls = memberUrls(view);
    if (urls.length === 0) return this.writing;
    const text = `${JSON.stringify({ scope: this.scope, urls })}\n`;
    if (text === this.written) return this.writing;
    this.written = text;
    this.writing = this.writing.then(() => this.write(text));
    return this.writing;
  }

  private async write(text: string): Promise<void> {
    const path = join(this.raftDataDir, MEMBER_URLS_FILE);
    const temporary = `${path}.tmp`;
    try {
      await writeFile(temporary, text, { mode: 0o644 });
      await rename(temporary, path);
    } catch (error) {
      this.written = "";
      this.logger.warn({ path, error: String(error) }, "cannot write the members' REST URLs for the CLI; it will reach only this node's API");
    }
  }
}
