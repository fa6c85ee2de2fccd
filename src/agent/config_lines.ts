/**
 * How a problem in the node's file is written: one line `FILE: KEY: problem`, KEY being the
 * key's path in the file (`node1.yml: raft.secret_file: cannot read …`), so an operator can grep
 * the list, and the agent prints the whole list at once (issue 15, item 6).
 */
import type { YAMLError } from "yaml";

/** `FILE: KEY: problem`; a problem of the whole file has no KEY: `FILE: problem`. */
export function problemLine(file: string, key: string, problem: string): string {
  return key === "" ? `${file}: ${problem}` : `${file}: ${key}: ${problem}`;
}

/** The key path of `key` inside the section at `path` ("" is the file's top level). */
export function keyPath(path: string, key: string): string {
  return path === "" ? key : `${path}.${key}`;
}

/**
 * A sentence written by a check of another module (the cluster config's, the PostgreSQL
 * parameters'), which starts with the key it is about: "ttl must be a number …",
 * "postgresql.parameters.work_mem = \"4XB\": work_mem takes …", "standby_cluster: unknown key …".
 * The key moves into the KEY place of the line (under `base`, the section the sentence's keys are
 * relative to); a sentence that does not start with a key stays whole, under `base`.
 */
export function sentenceLine(file: string, base: string, sentence: string): string {
  const match = SENTENCE_KEY.exec(sentence);
  if (match === null) return problemLine(file, base, sentence);
  const [, key, separator, rest] = match as unknown as [string, string, string, string];
  const problem = separator === ": " ? rest : separator === " = " ? `got ${rest}` : `${separator.trim()} ${rest}`;
  return problemLine(file, keyPath(base, key), problem);
}

/** A key path (`a.b_c`, `a["x y"]`, `a[2]`) followed by ": ", " = " or a verb that starts a rule. */
const SENTENCE_KEY = /^([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+|\[[^\]]*\])*)(: | = | must | is | has | holds | cannot )(.*)$/s;

/** One line per YAML syntax error, at its line and column (the first line of the parser's words). */
export function yamlErrorLines(file: string, errors: readonly YAMLError[]): string[] {
  return errors.map((error) => {
    const words = (error.message.split("\n")[0] ?? error.message).replace(/ at line \d+, column \d+:?$/, "");
    const at = error.linePos?.[0];
    return problemLine(file, at === undefined ? "" : `line ${at.line}, column ${at.col}`, words);
  });
}

/** The whole list as one message: the line itself when there is one, else a count and every line. */
export function problemsMessage(file: string, lines: readonly string[]): string {
  if (lines.length === 1) return lines[0]!;
  return `${file} has ${lines.length} problems:\n${lines.join("\n")}`;
}
