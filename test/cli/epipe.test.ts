/**
 * `raftgres --help | head -1`: a reader that goes away ends the CLI quietly (exit 0), not with an
 * unhandled EPIPE and a stack trace.
 */
import { spawn } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import t from "tap";

const MAIN = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "src", "agent", "main.ts");

t.test("a closed stdout ends the CLI with exit 0 and nothing on stderr", async (t) => {
  const child = spawn(process.execPath, ["--import", "tsx", MAIN, "--help"], { stdio: ["ignore", "pipe", "pipe"] });
  // The reader leaves before the help is written: the CLI's write meets EPIPE.
  child.stdout.destroy();
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")));
  const code = await new Promise<number | null>((resolve) => child.on("close", (c) => resolve(c)));
  t.equal(code, 0, stderr);
  t.notMatch(stderr, /EPIPE|Unhandled/);
});
