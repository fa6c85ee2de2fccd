/**
 * How PostgreSQL 15 reads a parameter's value from a configuration file, for the checks of
 * parameter_check.ts: booleans (parse_bool), integers and reals with their units (parse_int,
 * parse_real and convert_to_base_unit of src/backend/utils/misc/guc.c). The port is literal —
 * strtol with base 0 (so 0x1F and 017 are numbers), a fall back to strtod for "1.5" and "1e3",
 * units case-sensitive, at most three letters, whitespace allowed around them, fractions rounded
 * to the next smaller unit and then to an integer with rint() — so that a value accepted here
 * is one the server accepts, and the reverse.
 */

export type NumberParse =
  | { readonly ok: true; readonly value: number }
  | { readonly ok: false; readonly problem: "notNumber" | "badUnit" | "noUnitAllowed" | "notInteger" };

/** Sizes in bytes of the memory units, largest first (guc.c memory_unit_conversion_table). */
const MEMORY_UNITS: readonly (readonly [string, number])[] = [["TB", 2 ** 40], ["GB", 2 ** 30], ["MB", 2 ** 20], ["kB", 2 ** 10], ["B", 1]];
/** Lengths in microseconds of the time units, largest first (guc.c time_unit_conversion_table). */
const TIME_UNITS: readonly (readonly [string, number])[] = [["d", 86_400_000_000], ["h", 3_600_000_000], ["min", 60_000_000], ["s", 1_000_000], ["ms", 1_000], ["us", 1]];

/** pg_settings.unit → the unit table it belongs to and the base unit's size in that table's terms. */
const BASE_UNITS: Readonly<Record<string, { readonly table: readonly (readonly [string, number])[]; readonly size: number }>> = {
  B: { table: MEMORY_UNITS, size: 1 },
  kB: { table: MEMORY_UNITS, size: 1024 },
  MB: { table: MEMORY_UNITS, size: 2 ** 20 },
  "8kB": { table: MEMORY_UNITS, size: 8192 },
  "16MB": { table: MEMORY_UNITS, size: 16 * 2 ** 20 },
  ms: { table: TIME_UNITS, size: 1_000 },
  s: { table: TIME_UNITS, size: 1_000_000 },
  min: { table: TIME_UNITS, size: 60_000_000 },
};

/** MAX_UNIT_LEN of guc.c. */
const UNIT_CHARS_MAX = 3;
const INT_MAX = 2_147_483_647;
const INT_MIN = -2_147_483_648;
/** LONG_MAX on a 64-bit machine: strtol past it sets ERANGE. */
const LONG_MAX = 9_223_372_036_854_775_807;

/** The units a value of `baseUnit` may be written in, as PostgreSQL's hint lists them. */
export function unitsFor(baseUnit: string): readonly string[] {
  return BASE_UNITS[baseUnit]?.table.map(([unit]) => unit) ?? [];
}

export function isMemoryUnit(baseUnit: string): boolean {
  return BASE_UNITS[baseUnit]?.table === MEMORY_UNITS;
}

/** parse_bool_with_len: true/false/yes/no/on/off/1/0, case-insensitive, unique prefixes. */
export function parseBool(text: string): boolean | null {
  const lower = text.toLowerCase();
  const prefixOf = (word: string, least = 1): boolean => lower.length >= least && word.startsWith(lower);
  switch (lower.charAt(0)) {
    case "t":
      return prefixOf("true") ? true : null;
    case "f":
      return prefixOf("false") ? false : null;
    case "y":
      return prefixOf("yes") ? true : null;
    case "n":
      return prefixOf("no") ? false : null;
    case "o":
      // "o" alone is not unique enough.
      return prefixOf("on", 2) ? true : prefixOf("off", 2) ? false : null;
    case "1":
      return lower.length === 1 ? true : null;
    case "0":
      return lower.length === 1 ? false : null;
    default:
      return null;
  }
}

/** parse_int (integer = true) or parse_real: the value in the parameter's base unit. */
export function parseNumber(text: string, baseUnit: string | null, integer: boolean): NumberParse {
  let value: number;
  let end: number;
  const asLong = integer ? strtol(text) : null;
  // parse_int reads a double instead when strtol stops at ".", "e" or "E" or overflows; with no
  // digits at all strtol's end is the start of the text.
  const fallBack = asLong === null || asLong.overflow || /^[.eE]/.test(text.slice(asLong.end));
  if (integer && asLong === null && !/^[.eE]/.test(text)) return { ok: false, problem: "notNumber" };
  if (asLong !== null && !fallBack) {
    ({ value, end } = asLong);
  } else {
    const asDouble = strtod(text);
    if (asDouble === null || asDouble.outOfRange) return { ok: false, problem: "notNumber" };
    ({ value, end } = asDouble);
  }
  if (Number.isNaN(value)) return { ok: false, problem: "notNumber" };
  const rest = text.slice(end).replace(/^[ \t\n\v\f\r]+/, "");
  if (rest !== "") {
    if (baseUnit === null) return { ok: false, problem: "noUnitAllowed" };
    const converted = toBaseUnit(value, rest, baseUnit);
    if (converted === null) return { ok: false, problem: "badUnit" };
    value = converted;
  }
  if (!integer) return { ok: true, value };
  value = rint(value);
  if (value > INT_MAX || value < INT_MIN) return { ok: false, problem: "notInteger" };
  return { ok: true, value };
}

/** convert_to_base_unit: `unitText` is what follows the number (leading whitespace removed). */
function toBaseUnit(value: number, unitText: string, baseUnit: string): number | null {
  const base = BASE_UNITS[baseUnit];
  if (base === undefined) return null;
  const unit = /^[^ \t\n\v\f\r]{0,3}/.exec(unitText)![0];
  if (unit.length === UNIT_CHARS_MAX + 1 || unitText.slice(unit.length).replace(/^[ \t\n\v\f\r]+/, "") !== "") return null;
  const index = base.table.findIndex(([name]) => name === unit);
  if (index < 0) return null;
  let converted = value * (base.table[index]![1] / base.size);
  // A fractional value such as "30.1GB" is rounded to the nearest multiple of the next smaller
  // unit, if there is one.
  const next = base.table[index + 1];
  if (next !== undefined) {
    const step = next[1] / base.size;
    converted = rint(converted / step) * step;
  }
  return converted;
}

/** C's rint() in the default rounding mode: halves go to the even neighbour. */
export function rint(value: number): number {
  if (!Number.isFinite(value)) return value;
  const floor = Math.floor(value);
  const diff = value - floor;
  if (diff > 0.5) return floor + 1;
  if (diff < 0.5) return floor;
  return floor % 2 === 0 ? floor : floor + 1;
}

const SPACE = /^[ \t\n\v\f\r]*/;

/** strtol(text, &end, 0): null when no digits were read. */
function strtol(text: string): { value: number; end: number; overflow: boolean } | null {
  let i = SPACE.exec(text)![0].length;
  let sign = 1;
  if (text[i] === "+" || text[i] === "-") sign = text[i++] === "-" ? -1 : 1;
  let radix = 10;
  if (text[i] === "0" && (text[i + 1] === "x" || text[i + 1] === "X") && /[0-9a-fA-F]/.test(text.charAt(i + 2))) {
    radix = 16;
    i += 2;
  } else if (text[i] === "0") radix = 8;
  const digits = (radix === 16 ? /^[0-9a-fA-F]*/ : radix === 8 ? /^[0-7]*/ : /^[0-9]*/).exec(text.slice(i))![0];
  if (digits === "") return null;
  const magnitude = Number.parseInt(digits, radix);
  return { value: sign * magnitude, end: i + digits.length, overflow: magnitude > LONG_MAX };
}

/** strtod(text, &end) in the C locale: decimal and hexadecimal forms, inf, infinity, nan. */
function strtod(text: string): { value: number; end: number; outOfRange: boolean } | null {
  const lead = SPACE.exec(text)![0].length;
  const body = text.slice(lead);
  const sign = body.startsWith("-") ? -1 : 1;
  const unsigned = /^[+-]/.test(body) ? body.slice(1) : body;
  const offset = lead + body.length - unsigned.length;
  const special = /^(infinity|inf|nan)/i.exec(unsigned);
  if (special !== null) {
    const value = special[1]!.toLowerCase() === "nan" ? Number.NaN : sign * Number.POSITIVE_INFINITY;
    return { value, end: offset + special[0].length, outOfRange: false };
  }
  const hex = /^0[xX](?=\.?[0-9a-fA-F])([0-9a-fA-F]*)(?:\.([0-9a-fA-F]*))?(?:[pP]([+-]?\d+))?/.exec(unsigned);
  if (hex !== null) {
    const whole = hex[1] ?? "";
    const fraction = hex[2] ?? "";
    const mantissa = Number.parseInt(`${whole}${fraction}` || "0", 16) / 16 ** fraction.length;
    return finite(sign * mantissa * 2 ** Number(hex[3] ?? "0"), offset + hex[0].length);
  }
  const decimal = /^(?=\.?\d)\d*(?:\.\d*)?(?:[eE][+-]?\d+)?/.exec(unsigned);
  if (decimal === null) return null;
  return finite(sign * Number(decimal[0]), offset + decimal[0].length);
}

/** ERANGE: a finite literal whose value does not fit in a double. */
function finite(value: number, end: number): { value: number; end: number; outOfRange: boolean } {
  return { value, end, outOfRange: !Number.isFinite(value) };
}
