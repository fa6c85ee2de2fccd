/**
 * Typed, key-by-key reading of a parsed YAML/JSON document: each getter checks one key and
 * records a problem as `FILE: KEY: problem` (config_lines.ts) naming what it got and what is
 * allowed, then goes on with a fallback value, so one start reports every mistake at once.
 * `finish()` throws ConfigReader.Invalid with all of them. A key gets one problem, its first:
 * the later ones follow from it ("is required", then "must be host:port").
 */
import { readFileSync, statSync } from "node:fs";
import { isAbsolute } from "node:path";
import type { JsonObject } from "../dcs/json.js";
import { isValidName } from "../dcs/model.js";
import { keyPath, problemLine, problemsMessage, sentenceLine } from "./config_lines.js";

class Invalid extends Error {}

/** A shared secret in a file: long enough not to be guessed, readable by its owner only. */
export const SECRET_FILE_BYTES_MIN = 32;

/** Where the secret file is suggested when a file names none. */
export const SECRET_FILE_EXAMPLE = "/etc/raftgres/secret";

type Raw = Record<string, unknown>;

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

export class ConfigReader {
  static readonly Invalid = Invalid;
  private readonly value: Raw;
  /** Keys written in another spelling (Patroni's): problems name the key as the file wrote it. */
  private readonly spellings = new Map<string, string>();

  /** `FILE: KEY: …` lines about keys that are accepted but read differently or not used. */
  readonly warnings: string[];
  /** Every mistake found so far, in the document and all its sections. */
  readonly problems: string[];

  /**
   * @param file the file's name as the operator gave it (the FILE of every line)
   * @param sectionPath this section's key path ("" for the top level, "postgresql.authentication")
   */
  constructor(value: unknown, readonly file: string, readonly sectionPath = "", warnings: string[] = [], problems: string[] = []) {
    this.warnings = warnings;
    this.problems = problems;
    if (value === undefined || value === null) value = {};
    if (typeof value !== "object" || Array.isArray(value)) {
      problems.push(problemLine(file, sectionPath, "must be a mapping of keys to values"));
      value = {};
    }
    this.value = value as Raw;
  }

  /** The key path of `key` in this section, as the file spells it ("raft.self_addr"). */
  keyPath(key: string): string {
    return keyPath(this.sectionPath, this.spellings.get(key) ?? key);
  }

  /** Problems about `key` will name `writtenAs` instead, the key the file actually has. */
  spell(key: string, writtenAs: string): void {
    this.spellings.set(key, writtenAs);
  }

  /** Records a mistake in `key` unless it already has one; reading goes on. */
  fail(key: string, problem: string): void {
    if (!this.hasProblem(key)) this.problems.push(problemLine(this.file, this.keyPath(key), problem));
  }

  /** Whether a problem was recorded for `key` (a rule between keys is checked only without). */
  hasProblem(key: string): boolean {
    const prefix = problemLine(this.file, this.keyPath(key), "");
    return this.problems.some((line) => line.startsWith(prefix));
  }

  /** Records a problem worded by another module's check, under the key it starts with. */
  failSentence(base: string, sentence: string): void {
    this.problems.push(sentenceLine(this.file, base, sentence));
  }

  /** Records a line for the operator about `key` (logged at start and on reload). */
  warn(key: string, text: string): void {
    this.warnings.push(problemLine(this.file, this.keyPath(key), text));
  }

  /** Throws Invalid naming every mistake found, one `FILE: KEY: problem` line each. */
  finish(): void {
    if (this.problems.length > 0) throw new Invalid(problemsMessage(this.file, this.problems));
  }

  private got(key: string): string {
    return JSON.stringify(this.value[key])?.slice(0, 80) ?? "nothing";
  }

  /**
   * Refuses unknown keys. `tolerated` are Patroni's keys raftgres does not use: a patroni.yml
   * with its etcd section swapped for raft still starts, and each one is reported once.
   */
  only(keys: readonly string[], tolerated: readonly string[] = []): void {
    for (const key of Object.keys(this.value)) {
      if (tolerated.includes(key)) {
        this.warn(key, "a Patroni setting raftgres does not use; ignored");
        continue;
      }
      if (!keys.includes(key)) this.fail(key, `unknown key; the keys of ${this.sectionPath === "" ? "the top level" : this.sectionPath} are ${keys.join(", ")}`);
    }
  }

  section(key: string, keys: readonly string[], tolerated: readonly string[] = []): ConfigReader {
    if (this.value[key] !== undefined) return this.optionalSection(key, keys, tolerated);
    this.fail(key, "is required");
    // Its keys are not reported one by one: "is required" says it all.
    return new ConfigReader({}, this.file, this.keyPath(key), [], []);
  }

  optionalSection(key: string, keys: readonly string[], tolerated: readonly string[] = []): ConfigReader {
    const reader = new ConfigReader(this.value[key], this.file, this.keyPath(key), this.warnings, this.problems);
    reader.only(keys, tolerated);
    return reader;
  }

  has(key: string): boolean {
    return this.value[key] !== undefined;
  }

  /** Reports a missing `key` with what to put there (the getter then adds nothing). */
  require(key: string, what: string): void {
    if (this.value[key] === undefined) this.fail(key, `is required: ${what}`);
  }

  string(key: string): string {
    const value = this.value[key];
    if (typeof value === "string" && value !== "") return value;
    this.fail(key, value === undefined ? "is required" : `must be a non-empty string, got ${this.got(key)}`);
    return "";
  }

  optionalString(key: string): string | null {
    return this.value[key] === undefined ? null : this.string(key);
  }

  name(key: string): string {
    const value = this.string(key);
    if (value !== "" && !isValidName(value)) this.fail(key, `${JSON.stringify(value)} may hold letters, digits, '_', '.', '-' (at most 63, starting with a letter or digit)`);
    return value;
  }

  optionalName(key: string): string | null {
    return this.value[key] === undefined ? null : this.name(key);
  }

  path(key: string): string {
    const value = this.string(key);
    if (value !== "" && !isAbsolute(value)) this.fail(key, `must be an absolute path, got ${JSON.stringify(value)} (a relative one would depend on the directory the agent starts in)`);
    return isAbsolute(value) ? value : "/invalid";
  }

  optionalPath(key: string): string | null {
    return this.value[key] === undefined || this.value[key] === null ? null : this.path(key);
  }

  boolean(key: string, fallback: boolean): boolean {
    const value = this.value[key];
    if (value === undefined) return fallback;
    if (typeof value === "boolean") return value;
    this.fail(key, `must be true or false, got ${this.got(key)}`);
    return fallback;
  }

  integer(key: string, fallback: number, min: number, max: number): number {
    const value = this.value[key];
    if (value === undefined) return fallback;
    if (typeof value === "number" && Number.isInteger(value) && value >= min && value <= max) return value;
    this.fail(key, `must be an integer from ${min} to ${max}, got ${this.got(key)}`);
    return fallback;
  }

  hostPort(key: string): HostPort {
    const value = this.string(key);
    const match = /^([^:\s]+):(\d{1,5})$/.exec(value);
    const port = Number(match?.[2]);
    if (match !== null && port >= 1 && port <= 65535) return { host: match[1]!, port };
    if (value !== "") this.fail(key, `must be host:port, got ${JSON.stringify(value)}`);
    return { host: "127.0.0.1", port: 1 };
  }

  optionalHostPort(key: string): HostPort | null {
    return this.value[key] === undefined ? null : this.hostPort(key);
  }

  /**
   * A secret given inline or in a file (both at once is refused). The file must hold at least
   * SECRET_FILE_BYTES_MIN bytes and be readable by its owner only: it authenticates the Raft peers
   * and signs the watchdogs' fence reports.
   */
  secret(inline: string, file: string): string {
    if (this.value[inline] !== undefined && this.value[file] !== undefined) this.fail(inline, `give either ${inline} or ${file}, not both`);
    if (this.value[file] !== undefined) return this.secretFile(file);
    if (this.value[inline] === undefined) {
      this.fail(file, `is required (or ${inline}, inline, at least 8 characters): make one with \`raftgres secret --out ${SECRET_FILE_EXAMPLE}\`, copy that file to every member and set ${this.keyPath(file)}: ${SECRET_FILE_EXAMPLE}`);
      return "";
    }
    const secret = this.string(inline);
    if (secret !== "" && secret.length < 8) this.fail(inline, "must be at least 8 characters");
    return secret;
  }

  private secretFile(key: string): string {
    const path = this.path(key);
    if (path === "/invalid") return "";
    const make = `make one with: raftgres secret --out ${path}, then copy it to every member`;
    let text: string;
    try {
      const mode = statSync(path).mode;
      if ((mode & 0o077) !== 0) {
        this.fail(key, `${path} can be read by others (mode ${(mode & 0o777).toString(8)}): chmod 600 ${path}`);
      }
      text = readFileSync(path, "utf8").trim();
    } catch (error: unknown) {
      this.fail(key, `cannot read ${path}: ${error instanceof Error ? error.message : String(error)} (${make})`);
      return "";
    }
    if (Buffer.byteLength(text, "utf8") < SECRET_FILE_BYTES_MIN) {
      this.fail(key, `${path} holds ${Buffer.byteLength(text, "utf8")} bytes; a shared secret needs at least ${SECRET_FILE_BYTES_MIN} (${make})`);
    }
    return text;
  }

  credentials(key: string): { username: string; password: string } {
    const section = this.section(key, ["username", "password"]);
    return { username: section.string("username"), password: section.string("password") };
  }

  /** The document as plain JSON (for checks that need the whole of it). */
  raw(): Readonly<Record<string, unknown>> {
    return this.value;
  }

  /** A mapping of member names to host:port. */
  members(key: string): Map<string, string> {
    const section = this.section(key, Object.keys((this.value[key] as Raw | undefined) ?? {}));
    const out = new Map<string, string>();
    for (const name of Object.keys(section.value)) {
      if (!isValidName(name)) {
        section.fail(name, "is not a valid member name");
        continue;
      }
      const address = section.hostPort(name);
      out.set(name, `${address.host}:${address.port}`);
    }
    if (out.size === 0 && this.value[key] !== undefined) this.fail(key, "must name at least one member");
    return out;
  }

  parameters(key: string): Record<string, string | number | boolean> {
    const section = this.optionalSection(key, Object.keys((this.value[key] as Raw | undefined) ?? {}));
    const out: Record<string, string | number | boolean> = {};
    for (const [name, value] of Object.entries(section.value)) {
      if (typeof value !== "string" && typeof value !== "number" && typeof value !== "boolean") {
        section.fail(name, `must be a string, number or boolean, got ${JSON.stringify(value)?.slice(0, 80)}`);
        continue;
      }
      out[name] = value;
    }
    return out;
  }

  stringList(key: string): string[] {
    const value = this.value[key];
    if (value === undefined) return [];
    if (Array.isArray(value) && value.every((v) => typeof v === "string")) return value as string[];
    this.fail(key, `must be a list of strings, got ${this.got(key)}`);
    return [];
  }

  object(key: string): JsonObject {
    const value = this.value[key];
    if (value === undefined) return {};
    if (typeof value === "object" && value !== null && !Array.isArray(value)) return JSON.parse(JSON.stringify(value)) as JsonObject;
    this.fail(key, `must be a mapping, got ${this.got(key)}`);
    return {};
  }
}
