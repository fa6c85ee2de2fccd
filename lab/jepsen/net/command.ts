/**
 * Running the system commands of the network layer (ip, iptables-restore): every call has a time
 * limit, and a failure says which command failed, what it printed and what to do about it.
 */
import { execFile, execFileSync } from "node:child_process";

/** The longest any single ip/iptables command may take; they normally take a few milliseconds. */
export const COMMAND_TIMEOUT_MS = 10_000;

export interface CommandOptions {
  readonly timeoutMs?: number;
  /** Bytes written to the command's stdin (iptables-restore reads its rules there). */
  readonly input?: string;
}

/** A failed command, with the hint an operator needs ("run as root", "apt-get install …"). */
export class CommandError extends Error {
  constructor(
    readonly command: string,
    readonly stderr: string,
    detail: string,
  ) {
    super(`${command} failed: ${detail}${stderr === "" ? "" : `: ${stderr.trim()}`}${hint(command, stderr)}`);
  }
}

function hint(command: string, stderr: string): string {
  if (/not permitted|permission denied|must be root|you must be root/i.test(stderr)) {
    return " (the network layer needs root: run the tests as root)";
  }
  if (/ENOENT|not found|No such file/i.test(stderr) && /^(ip|iptables|setpriv)\b/.test(command)) {
    return " (install the Debian packages iproute2, iptables and util-linux)";
  }
  return "";
}

function describe(file: string, args: readonly string[]): string {
  return [file, ...args].join(" ");
}

/** Runs `file args` and resolves with its stdout; rejects with a CommandError. */
export function run(file: string, args: readonly string[], options: CommandOptions = {}): Promise<string> {
  const command = describe(file, args);
  return new Promise((resolve, reject) => {
    const child = execFile(
      file,
      args,
      { timeout: options.timeoutMs ?? COMMAND_TIMEOUT_MS, killSignal: "SIGKILL", encoding: "utf8" },
      (error, stdout, stderr) => {
        if (error === null) return resolve(stdout);
        const code = (error as NodeJS.ErrnoException).code;
        if (code === "ENOENT") return reject(new CommandError(command, `ENOENT: ${file} not found`, "no such program"));
        const limitMs = options.timeoutMs ?? COMMAND_TIMEOUT_MS;
        const detail = error.killed ? `no answer within ${limitMs} ms` : `exit code ${String(code)}`;
        reject(new CommandError(command, stderr, detail));
      },
    );
    if (options.input !== undefined) child.stdin?.end(options.input);
  });
}

/** The synchronous twin of run(), for the process exit hook (no event loop is left there). */
export function runSync(file: string, args: readonly string[], options: CommandOptions = {}): string {
  const command = describe(file, args);
  try {
    return execFileSync(file, args, {
      timeout: options.timeoutMs ?? COMMAND_TIMEOUT_MS,
      killSignal: "SIGKILL",
      encoding: "utf8",
      stdio: ["pipe", "pipe", "pipe"],
      ...(options.input === undefined ? {} : { input: options.input }),
    });
  } catch (error: unknown) {
    const failure = error as { stderr?: string | Buffer; status?: number | null; code?: string };
    const stderr = failure.code === "ENOENT" ? `ENOENT: ${file} not found` : String(failure.stderr ?? "");
    throw new CommandError(command, stderr, `exit code ${String(failure.status ?? failure.code)}`);
  }
}

/** Like runSync but never throws: cleanup keeps going past what is already gone. */
export function tryRunSync(file: string, args: readonly string[]): string | null {
  try {
    return runSync(file, args);
  } catch {
    return null;
  }
}

/**
 * Why this machine cannot run the network layer, or null if it can: the tests skip with this
 * sentence, the harness refuses to start with it.
 */
export function missingPrerequisite(): string | null {
  if (process.platform !== "linux") return `network namespaces need Linux (this is ${process.platform})`;
  if (process.getuid?.() !== 0) return "network namespaces and iptables need root: run the tests as root";
  for (const [program, args, pkg] of [
    ["ip", ["-V"], "iproute2"],
    ["iptables-restore", ["--version"], "iptables"],
    ["iptables", ["--version"], "iptables"],
    ["setpriv", ["--version"], "util-linux"],
  ] as const) {
    try {
      runSync(program, args, { timeoutMs: 5_000 });
    } catch {
      return `${program} is missing or broken: apt-get install ${pkg}`;
    }
  }
  try {
    runSync("ip", ["netns", "list"], { timeoutMs: 5_000 });
  } catch (error: unknown) {
    return `ip netns does not work here (${(error as Error).message})`;
  }
  return null;
}
