/**
 * libpq connection strings, both forms (PostgreSQL docs, "Connection Strings", libpq §34.1.1):
 * `host=db1 port=5432 user='a b'` and `postgresql://user:secret@db1:5432/app?sslmode=require`.
 * Parsed into an ordered list of key/value pairs, built back as the keyword form with every
 * value quoted, so a password with spaces or quotes survives.
 */
import * as E from "fp-ts/lib/Either.js";

export type ConnParams = ReadonlyMap<string, string>;

export function parseConnectionString(text: string): E.Either<string, ConnParams> {
  const trimmed = text.trim();
  return /^postgres(ql)?:\/\//.test(trimmed) ? parseUrl(trimmed) : parseKeywords(trimmed);
}

function parseUrl(text: string): E.Either<string, ConnParams> {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return E.left(`"${redact(text)}" is not a valid postgresql:// URL`);
  }
  const params = new Map<string, string>();
  try {
    const host = url.hostname.replace(/^\[(.*)\]$/, "$1");
    if (host !== "") params.set("host", decodeURIComponent(host));
    if (url.port !== "") params.set("port", url.port);
    if (url.username !== "") params.set("user", decodeURIComponent(url.username));
    if (url.password !== "") params.set("password", decodeURIComponent(url.password));
    const dbname = decodeURIComponent(url.pathname.replace(/^\//, ""));
    if (dbname !== "") params.set("dbname", dbname);
  } catch {
    return E.left(`"${redact(text)}" has a malformed percent-escape`);
  }
  for (const [key, value] of url.searchParams) params.set(key, value);
  return E.right(params);
}

function parseKeywords(text: string): E.Either<string, ConnParams> {
  const params = new Map<string, string>();
  let i = 0;
  const skipSpace = (): void => {
    while (i < text.length && /\s/.test(text[i]!)) i++;
  };
  for (skipSpace(); i < text.length; skipSpace()) {
    const key = /^[A-Za-z_][A-Za-z0-9_]*/.exec(text.slice(i))?.[0];
    if (key === undefined) return E.left(`connection string: expected a keyword at offset ${i}`);
    i += key.length;
    skipSpace();
    if (text[i] !== "=") return E.left(`connection string: "=" missing after "${key}"`);
    i++;
    skipSpace();
    const value = readValue(text, i);
    if (value === null) return E.left(`connection string: unterminated quoted value for "${key}"`);
    params.set(key, value.value);
    i = value.end;
  }
  return E.right(params);
}

/** A bare value runs to the next space; a quoted one takes \' and \\ escapes. */
function readValue(text: string, start: number): { value: string; end: number } | null {
  let value = "";
  let i = start;
  if (text[i] !== "'") {
    while (i < text.length && !/\s/.test(text[i]!)) {
      if (text[i] === "\\" && i + 1 < text.length) i++;
      value += text[i++];
    }
    return { value, end: i };
  }
  for (i++; i < text.length; i++) {
    if (text[i] === "\\" && i + 1 < text.length) value += text[++i];
    else if (text[i] === "'") return { value, end: i + 1 };
    else value += text[i];
  }
  return null;
}

/** The keyword form, every value single-quoted with \ and ' escaped. */
export function formatConninfo(params: ConnParams): string {
  return [...params].map(([key, value]) => `${key}='${value.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`).join(" ");
}

/** A copy of `base` with `changes` applied (undefined removes a key). */
export function withParams(base: ConnParams, changes: Readonly<Record<string, string | undefined>>): ConnParams {
  const next = new Map(base);
  for (const [key, value] of Object.entries(changes)) {
    if (value === undefined) next.delete(key);
    else next.set(key, value);
  }
  return next;
}

/** The URL of a server as other members reach it: what the agent publishes as connUrl. */
export function serverUrl(host: string, port: number, dbname = "postgres"): string {
  const shown = host.includes(":") ? `[${host}]` : host;
  return `postgresql://${shown}:${port}/${encodeURIComponent(dbname)}`;
}

/** Hides a password in a connection string before it is logged or quoted. */
export function redact(text: string): string {
  return text.replace(/(password\s*=\s*)('(?:\\.|[^'])*'|\S+)/gi, "$1***").replace(/(:\/\/[^:/@]*:)[^@]*@/, "$1***@");
}
