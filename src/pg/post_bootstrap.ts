/**
 * post_bootstrap (Patroni's, also spelt post_init): a command run once after the bootstrap, with
 * the superuser's connection URL as its one argument and PGPASSFILE set (the password is never
 * on a command line), e.g. to create databases and extensions. Run by /bin/sh, so it may carry
 * its own arguments; bounded in time. Its failure fails the bootstrap, as in Patroni.
 */
import { spawn } from "node:child_process";
import type { ResolvedSettings } from "./settings.js";

export const POST_BOOTSTRAP_TIMEOUT_MS = 600_000;
const OUTPUT_BYTES_MAX = 4096;

/** The URL the command gets: the superuser on this server's own address, database postgres. */
export function postBootstrapUrl(s: ResolvedSettings): string {
  const host = s.connectHost.includes(":") ? `[${s.connectHost}]` : s.connectHost;
  return `postgres://${encodeURIComponent(s.superuser.username)}@${host}:${s.port}/postgres`;
}

/** Null when the command succeeded; otherwise what went wrong (its exit and the end of its stderr). */
export function runPostBootstrap(s: ResolvedSettings, command: string, timeoutMs = POST_BOOTSTRAP_TIMEOUT_MS): Promise<string | null> {
  return new Promise((resolve) => {
    const child = spawn("/bin/sh", ["-c", `${command} "$@"`, "raftgres-post-bootstrap", postBootstrapUrl(s)], {
      stdio: ["ignore", "ignore", "pipe"],
      env: { ...process.env, PGPASSFILE: s.passfile },
      // Its own process group: a time-out kills whatever the command started, too.
      detached: true,
    });
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => {
      stderr = (stderr + chunk.toString("utf8")).slice(-OUTPUT_BYTES_MAX);
    });
    const timer = setTimeout(() => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, "SIGKILL");
      } catch {
        child.kill("SIGKILL");
      }
    }, timeoutMs);
    child.on("error", (error) => {
      clearTimeout(timer);
      resolve(`post_bootstrap could not be started: ${error.message}`);
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      if (code === 0) return resolve(null);
      const how = signal === "SIGKILL" ? `was killed after ${timeoutMs / 1000} s` : signal !== null ? `was ended by ${signal}` : `exited with code ${code}`;
      resolve(`post_bootstrap ${JSON.stringify(command)} ${how}${stderr.trim() === "" ? "" : `: ${stderr.trim().split("\n").slice(-3).join(" / ")}`}`);
    });
  });
}
