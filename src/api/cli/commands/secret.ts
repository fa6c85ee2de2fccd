/**
 * `raftgres secret [--out FILE] [--force]`: a new shared secret for raft.secret_file — 48 random
 * bytes, base64 (64 characters) — written to FILE readable by its owner only (0600), or printed.
 * The agent refuses a secret file shorter than 32 bytes or readable by others
 * (src/agent/config_reader.ts); this makes one it accepts. Copy the same file to every member.
 */
import { randomBytes } from "node:crypto";
import { chmodSync, writeFileSync } from "node:fs";
import type { Command } from "commander";
import type { CliContext } from "../context.js";
import { failed } from "../exit.js";

const SECRET_BYTES = 48;

export function registerSecret(program: Command, ctx: CliContext): void {
  program.command("secret")
    .description("make a new shared secret for raft.secret_file (written 0600 with --out, else printed)")
    .option("--out <file>", "write it to this file, readable by its owner only")
    .option("--force", "replace the file if it exists")
    .action((opts: { out?: string; force?: boolean }) => {
      const secret = randomBytes(SECRET_BYTES).toString("base64");
      if (opts.out === undefined) {
        ctx.out(secret);
        return;
      }
      try {
        writeFileSync(opts.out, `${secret}\n`, { mode: 0o600, flag: opts.force === true ? "w" : "wx" });
        // An existing file keeps its mode through "w": make it private whatever it was.
        chmodSync(opts.out, 0o600);
      } catch (error: unknown) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code === "EEXIST") throw failed(`${opts.out} exists; a cluster's secret is replaced on every member at once: pass --force to overwrite it`);
        throw failed(`cannot write ${opts.out}: ${error instanceof Error ? error.message : String(error)}`);
      }
      ctx.out(`wrote a new secret to ${opts.out} (mode 0600); copy the same file to every member and set raft.secret_file to it`);
    });
}
