/**
 * What is wrong with PostgreSQL's configuration as the agent wrote it: the parameters left out of
 * raftgres.dynamic.conf (parameter_check.ts refused them) and the lines PostgreSQL itself refuses
 * (pg_file_settings, read after every reload and start). Each list is logged at error level when
 * it changes — once per change, not per cycle — and kept for the HA status and the REST API.
 */
import * as E from "fp-ts/lib/Either.js";
import type { Logger } from "../lib/logger.js";
import { configurationFileErrors } from "./file_settings.js";
import type { SqlSession } from "./sql.js";

export class ConfigurationProblems {
  private refused: readonly string[] = [];
  private fileErrors: readonly string[] = [];

  constructor(
    private readonly logger: Logger,
    private readonly session: SqlSession,
    private readonly running: () => boolean,
  ) {}

  current(): readonly string[] {
    return [...this.refused, ...this.fileErrors];
  }

  /** The parameters of the dynamic config left out of its file, one sentence each. */
  noteRefused(refused: readonly string[]): void {
    if (sameList(refused, this.refused)) return;
    if (refused.length > 0) this.logger.error({ refused }, `parameters of the dynamic config left out of PostgreSQL's configuration, PostgreSQL would refuse them: ${refused.join("; ")}`);
    else this.logger.info({}, "every parameter of the dynamic config is in PostgreSQL's configuration again");
    this.refused = [...refused];
  }

  /** Reads pg_file_settings; a server that is not running keeps the last answer. */
  async checkFiles(): Promise<void> {
    if (!this.running()) return;
    const errors = await configurationFileErrors(this.session);
    if (E.isLeft(errors)) {
      this.logger.warn({}, `cannot tell whether PostgreSQL accepts its configuration files: ${errors.left}`);
      return;
    }
    if (sameList(errors.right, this.fileErrors)) return;
    if (errors.right.length > 0) {
      this.logger.error({ errors: errors.right }, `PostgreSQL refuses lines of its configuration files, so a reload applies none of their changes: ${errors.right.join("; ")}`);
    } else {
      this.logger.info({}, "PostgreSQL accepts its configuration files again");
    }
    this.fileErrors = errors.right;
  }
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((item, i) => item === b[i]);
}
