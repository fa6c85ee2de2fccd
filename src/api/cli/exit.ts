/**
 * The exit codes scripts can rely on, and the one way a command stops early with one of them.
 *
 * A command may discover deep inside a helper that it cannot go on (the server refused, no node
 * answers, an argument is wrong). Rather than thread a result through every helper, it throws a
 * CliExit, which only the top level (main.ts) catches, prints and turns into the process's exit
 * code. Anything else that escapes is a bug and is reported as one.
 */

export const EXIT = {
  /** The command did what it was asked. */
  ok: 0,
  /** The operation was refused or failed: the server said no, or the user aborted at a prompt. */
  failed: 1,
  /** The command line was wrong: unknown option, missing argument, bad value. */
  usage: 2,
  /** No node of the cluster answered. */
  unreachable: 3,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

export class CliExit extends Error {
  override readonly name = "CliExit";
  constructor(readonly code: ExitCode, message: string) {
    super(message);
  }
}

export function usageError(message: string): CliExit {
  return new CliExit(EXIT.usage, message);
}

export function failed(message: string): CliExit {
  return new CliExit(EXIT.failed, message);
}
