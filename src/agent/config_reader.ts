/**
 * Typed, key-by-key reading of a parsed YAML/JSON document: each getter checks one key and
 * throws ConfigReader.Invalid with the key's full path, what it got and what is allowed.
 */
import { readFileSync } from "node:fs";
import { isAbsolute } from "node:path";
import type { JsonObject } from "../dcs/json.js";
import { isValidName } from "../dcs/model.js";

class Invalid extends Error {}

type Raw = Record<string, unknown>;

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

export class ConfigReader {
  static readonly Invalid = Invalid;
  private readonly value: Raw;

  /** Sentences about keys that are accepted but not used (Patroni settings raftgres does not have). */
  readonly warnings: string[];

  constructor(value: unknown, private readonly where: string, warnings: string[] = []) {
    this.warnings = warnings;
    if (value === undefined || value === null) value = {};
    if (typeof value !== "object" || Array.isArray(value)) throw new Invalid(`${where}: must be a mapping of keys to values`);
    this.value = value as Raw;
  }

  fail(key: string, problem: string): never {
    throw new Invalid(`${this.where}.${key}: ${problem}`);
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
        this.warnings.push(`${this.where}.${key} is a Patroni setting raftgres does not use; it is ignored`);
        continue;
      }
      if (!keys.includes(key)) throw new Invalid(`${this.where}: unknown key "${key}" (known: ${keys.join(", ")})`);
    }
  }

  section(key: string, keys: readonly string[], tolerated: readonly string[] = []): ConfigReader {
    if (this.value[key] === undefined) this.fail(key, "is required");
    return this.optionalSection(key, keys, tolerated);
  }

  optionalSection(key: string, keys: readonly string[], tolerated: readonly string[] = []): ConfigReader {
    const reader = new ConfigReader(this.value[key], `${this.where}.${key}`, this.warnings);
    reader.only(keys, tolerated);
    return reader;
  }

  has(key: string): boolean {
    return this.value[key] !== undefined;
  }

  string(key: string): string {
    const value = this.value[key];
    if (typeof value !== "string" || value === "") this.fail(key, `must be a non-empty string, got ${this.got(key)}`);
    return value;
  }

  optionalString(key: string): string | null {
    return this.value[key] === undefined ? null : this.string(key);
  }

  name(key: string): string {
    const value = this.string(key);
    if (!isValidName(value)) this.fail(key, `${JSON.stringify(value)} may hold letters, digits, '_', '.', '-' (at most 63, starting with a letter or digit)`);
    return value;
  }

  optionalName(key: string): string | null {
    return this.value[key] === undefined ? null : this.name(key);
  }

  path(key: string): string {
    const value = this.string(key);
    if (!isAbsolute(value)) this.fail(key, `must be an absolute path, got ${JSON.stringify(value)}`);
    return value;
  }

  optionalPath(key: string): string | null {
    return this.value[key] === undefined || this.value[key] === null ? null : this.path(key);
  }

  boolean(key: string, fallback: boolean): boolean {
    const value = this.value[key];
    if (value === undefined) return fallback;
    if (typeof value !== "boolean") this.fail(key, `must be true or false, got ${this.got(key)}`);
    return value;
  }

  integer(key: string, fallback: number, min: number, max: number): number {
    const value = this.value[key];
    if (value === undefined) return fallback;
    if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) this.fail(key, `must be an integer from ${min} to ${max}, got ${this.got(key)}`);
    return value;
  }

  hostPort(key: string): HostPort {
    const value = this.string(key);
    const match = /^([^:\s]+):(\d{1,5})$/.exec(value);
    const port = Number(match?.[2]);
    if (match === null || port < 1 || port > 65535) this.fail(key, `must be host:port, got ${JSON.stringify(value)}`);
    return { host: match[1]!, port };
  }

  optionalHostPort(key: string): HostPort | null {
    return this.value[key] === undefined ? null : this.hostPort(key);
  }

  /** A secret given inline or in a file (the file wins when both are set is refused). */
  secret(inline: string, file: string): string {
    if (this.value[inline] !== undefined && this.value[file] !== undefined) this.fail(inline, `give either ${inline} or ${file}, not both`);
    if (this.value[file] !== undefined) {
      const path = this.path(file);
      try {
        const text = readFileSync(path, "utf8").trim();
        if (text === "") this.fail(file, `${path} is empty`);
        return text;
      } catch (error: unknown) {
        if (error instanceof Invalid) throw error;
        this.fail(file, `cannot read ${path}: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
    const secret = this.string(inline);
    if (secret.length < 8) this.fail(inline, "must be at least 8 characters");
    return secret;
  }

  credentials(key: string): { username: string; password: string } {
    const section = this.section(key, ["username", "password"]);
    return { username: section.string("username"), password: section.string("password") };
  }

  /** A mapping of member names to host:port. */
  members(key: string): Map<string, string> {
    const section = this.section(key, Object.keys((this.value[key] as Raw | undefined) ?? {}));
    const out = new Map<string, string>();
    for (const name of Object.keys(section.value)) {
      if (!isValidName(name)) section.fail(name, "is not a valid member name");
      const address = section.hostPort(name);
      out.set(name, `${address.host}:${address.port}`);
    }
    if (out.size === 0) this.fail(key, "must name at least one member");
    return out;
  }

  parameters(key: string): Record<string, string | number | boolean> {
    const section = this.optionalSection(key, Object.keys((this.value[key] as Raw | undefined) ?? {}));
    const out: Record<string, string | number | boolean> = {};
    for (const [name, value] of Object.entries(section.value)) {
      if (!/^[a-z_][a-z0-9_.]*$/.test(name)) section.fail(name, "is not a PostgreSQL parameter name");
      if (typeof value !== "string" && typeof value !== "number" && typeof value !== "boolean") section.fail(name, `must be a string, number or boolean, got ${JSON.stringify(value)}`);
      out[name] = value as string | number | boolean;
    }
    return out;
  }

  stringList(key: string): string[] {
    const value = this.value[key];
    if (value === undefined) return [];
    if (!Array.isArray(value) || value.some((v) => typeof v !== "string")) this.fail(key, `must be a list of strings, got ${this.got(key)}`);
    return value as string[];
  }

  object(key: string): JsonObject {
    const value = this.value[key];
    if (value === undefined) return {};
    if (typeof value !== "object" || value === null || Array.isArray(value)) this.fail(key, `must be a mapping, got ${this.got(key)}`);
    return JSON.parse(JSON.stringify(value)) as JsonObject;
  }
}
