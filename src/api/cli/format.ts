/**
 * Output: tables in patronictl's style (prettytable's frame, left-aligned text, right-aligned
 * numbers, the title written into the top border: "+ Cluster: demo (7421…) +----+"), tab
 * separated values, JSON and YAML; and the units patronictl shows (lag in MB, LSNs as X/X).
 */
import { stringify as toYaml } from "yaml";
import { isJsonObject, type JsonObject, type JsonValue } from "../../dcs/json.js";
import { lsnText as lsnOf } from "../../lib/lsn_text.js";
import { usageError } from "./exit.js";

export type Format = "table" | "tsv" | "json" | "yaml";
export const FORMATS: readonly string[] = ["table", "pretty", "tsv", "json", "yaml"];

/** An object cell (tags) stays an object in JSON and YAML, and is shown as YAML in a table. */
export type Cell = string | number | null | JsonObject;
export type Align = "l" | "r";

export interface Table {
  readonly columns: readonly string[];
  readonly rows: readonly (readonly Cell[])[];
  /** Columns aligned right (numbers); every other column is aligned left. */
  readonly alignRight?: readonly string[];
  /** Written into the top border, like patronictl's " Cluster: name (system id) ". */
  readonly title?: string;
}

/** --format as given; "pretty" is patronictl's word for the table. */
export function parseFormat(value: string | undefined, fallback: Format): Format {
  if (value === undefined) return fallback;
  if (value === "pretty") return "table";
  if (value === "table" || value === "tsv" || value === "json" || value === "yaml") return value;
  throw usageError(`--format ${JSON.stringify(value)}: expected one of table, tsv, json, yaml`);
}

export function cellText(cell: Cell): string {
  if (cell === null) return "";
  return isJsonObject(cell) ? toYaml(cell).trimEnd() : String(cell);
}

export function renderTable(table: Table): string {
  const texts = table.rows.map((row) => table.columns.map((_, i) => cellText(row[i] ?? null).split("\n")));
  const widths = table.columns.map((column, i) => Math.max(column.length, ...texts.map((row) => Math.max(...row[i]!.map((line) => line.length)))));
  const align = (i: number): Align => (table.alignRight?.includes(table.columns[i]!) ? "r" : "l");
  const rule = `+${widths.map((w) => "-".repeat(w + 2)).join("+")}+`;
  const line = (cells: readonly string[]): string => `|${cells.map((c, i) => ` ${pad(c, widths[i]!, align(i))} `).join("|")}|`;
  // prettytable draws a rule between rows only when some cell spans several lines (hrules=ALL).
  const ruleEveryRow = texts.some((row) => row.some((lines) => lines.length > 1));
  const out = [table.title === undefined ? rule : titled(rule, table.title), line(table.columns), rule];
  texts.forEach((row, r) => {
    const height = Math.max(1, ...row.map((lines) => lines.length));
    for (let l = 0; l < height; l++) out.push(line(row.map((lines) => lines[l] ?? "")));
    if (ruleEveryRow && r < texts.length - 1) out.push(rule);
  });
  out.push(rule);
  return out.join("\n");
}

/** patronictl writes its title over the top border, keeping the border's tail. */
function titled(rule: string, title: string): string {
  const text = title.slice(0, rule.length - 2);
  return `${rule[0]!}${text}${rule.slice(1 + text.length)}`;
}

function pad(text: string, width: number, align: Align): string {
  return align === "r" ? text.padStart(width) : text.padEnd(width);
}

/**
 * One table in the chosen format. JSON and YAML give a list of objects keyed by column name;
 * like patronictl, a titled table (the member list) leaves out empty values there.
 */
export function renderRows(table: Table, format: Format): string {
  switch (format) {
    case "table":
      return renderTable(table);
    case "tsv":
      // One line per row, so that scripts can read it (patronictl writes a cell's newlines as they are).
      return [table.columns, ...table.rows.map((row) => row.map((cell) => cellText(cell).replace(/\n/g, "; ")))].map((r) => r.join("\t")).join("\n");
    case "json":
      return JSON.stringify(asObjects(table));
    case "yaml":
      return toYaml(asObjects(table)).trimEnd();
  }
}

function asObjects(table: Table): Record<string, Cell>[] {
  return table.rows.map((row) => {
    const object: Record<string, Cell> = {};
    table.columns.forEach((column, i) => {
      const cell = row[i] ?? null;
      if (table.title !== undefined && (cell === null || cell === "")) return;
      object[column] = cell;
    });
    return object;
  });
}

/** A document (config, raw answers) as YAML or JSON. */
export function renderDocument(value: unknown, format: "yaml" | "json"): string {
  return format === "json" ? JSON.stringify(value, null, 2) : toYaml(value).trimEnd();
}

const MIB = 1024 * 1024;

/** patronictl's lag in MB: bytes rounded to whole MiB; "unknown" is an empty cell, another word as it is. */
export function lagInMb(value: JsonValue): Cell {
  if (typeof value === "number") return Math.round(value / MIB);
  if (typeof value === "string") return /^\d+$/.test(value) ? Math.round(Number(value) / MIB) : value === "unknown" ? null : value;
  return null;
}

/** An LSN as PostgreSQL writes it (X/X in hex); the server may send the text or the byte position. */
export function lsnText(value: JsonValue): Cell {
  if (typeof value === "string") return /^\d{1,20}$/.test(value) && BigInt(value) < 1n << 64n ? lsnOf(BigInt(value)) : value;
  if (typeof value === "number" && Number.isSafeInteger(value) && value >= 0) return lsnOf(BigInt(value));
  return null;
}

/** Any JSON value as one table cell: scalars as they are, objects as compact YAML. */
export function cellOf(value: JsonValue | undefined): Cell {
  if (value === undefined || value === null) return null;
  if (typeof value === "string" || typeof value === "number") return value;
  if (typeof value === "boolean") return String(value);
  return toYaml(value).trimEnd();
}
