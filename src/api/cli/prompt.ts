/**
 * Questions at the terminal, click-style: "Candidate ['pg2', 'pg3'] []: " and
 * "Are you sure …? [y/N]: ". One readline interface serves the whole command, so answers piped
 * into stdin line by line reach the right question. --force skips every prompt (the caller does
 * not ask); an end of input aborts the command rather than guessing a yes.
 */
import { createInterface, type Interface } from "node:readline";
import type { Readable, Writable } from "node:stream";
import { failed } from "./exit.js";

export class Prompter {
  private readline: Interface | null = null;
  private lines: AsyncIterator<string> | null = null;

  constructor(private readonly input: Readable, private readonly output: Writable) {}

  /** The answer, or `fallback` for an empty line. */
  async ask(question: string, fallback: string): Promise<string> {
    this.output.write(`${question} [${fallback}]: `);
    const answer = (await this.nextLine(question)).trim();
    return answer === "" ? fallback : answer;
  }

  /** The answer as typed (trimmed), with no default: click's prompt without one ("Name: "). */
  async text(question: string): Promise<string> {
    this.output.write(`${question}: `);
    return (await this.nextLine(question)).trim();
  }

  /** true for y/yes; an empty answer is no. */
  async confirm(question: string): Promise<boolean> {
    this.output.write(`${question} [y/N]: `);
    const answer = (await this.nextLine(question)).trim().toLowerCase();
    return answer === "y" || answer === "yes";
  }

  close(): void {
    this.readline?.close();
    this.readline = null;
    this.lines = null;
  }

  private async nextLine(question: string): Promise<string> {
    if (this.lines === null) {
      this.readline = createInterface({ input: this.input, terminal: false });
      this.lines = this.readline[Symbol.asyncIterator]();
    }
    const next = await this.lines.next();
    if (next.done === true) {
      this.output.write("\n");
      throw failed(`no answer to "${question}" (end of input); pass --force to run without questions`);
    }
    return next.value;
  }
}
