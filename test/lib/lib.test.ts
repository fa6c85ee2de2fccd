import fc from "fast-check";
import t from "tap";
import { assert, AssertionError, assertNever } from "../../src/lib/assert.js";
import { crc32c } from "../../src/lib/crc32c.js";
import { isoTime } from "../../src/lib/iso_time.js";
import { createPrng } from "../../src/lib/prng.js";

t.test("crc32c matches the standard check value and detects a flipped bit", async (t) => {
  t.equal(crc32c(new TextEncoder().encode("123456789")), 0xe3069283, "RFC 3720 check value");
  t.equal(crc32c(new Uint8Array(0)), 0);
  fc.assert(fc.property(fc.uint8Array({ minLength: 1, maxLength: 64 }), fc.nat(), (bytes, at) => {
    const flipped = Uint8Array.from(bytes);
    flipped[at % bytes.length]! ^= 1 << (at % 8);
    return crc32c(flipped) !== crc32c(bytes);
  }));
});

t.test("a seeded PRNG replays, stays in range, and forks independent streams", async (t) => {
  const a = createPrng(42);
  const b = createPrng(42);
  const first = Array.from({ length: 50 }, () => a.next());
  t.same(Array.from({ length: 50 }, () => b.next()), first, "same seed, same sequence");
  const other = createPrng(43);
  t.notSame(Array.from({ length: 50 }, () => other.next()), first, "another seed differs");
  const counts = new Array<number>(10).fill(0);
  const p = createPrng(7);
  let outOfRange = 0;
  for (let i = 0; i < 10_000; i++) {
    const n = p.int(0, 10);
    if (n < 0 || n >= 10 || !Number.isInteger(n)) outOfRange++;
    else counts[n]!++;
  }
  t.equal(outOfRange, 0, "int(lo, hi) stays in [lo, hi)");
  t.ok(counts.every((c) => c > 800 && c < 1200), `roughly uniform: ${counts.join(",")}`);
  const fork = createPrng(1).fork();
  t.not(fork.next(), createPrng(1).next(), "a fork is not the parent's stream");
  t.throws(() => p.int(3, 3), AssertionError);
});

t.test("assertions throw AssertionError with their message", async (t) => {
  t.throws(() => assert(false, "broken invariant"), { name: "AssertionError", message: "broken invariant" });
  t.throws(() => assert(false, () => "lazy message"), { message: "lazy message" });
  t.doesNotThrow(() => assert(true, "fine"));
  t.throws(() => assertNever("x" as never, "role"), { message: 'unexpected role: "x"' });
});

t.test("isoTime formats epoch milliseconds exactly as Date#toISOString, without a clock", async (t) => {
  fc.assert(fc.property(fc.integer({ min: 0, max: 8_000_000_000_000 }), (ms) => isoTime(ms) === new Date(ms).toISOString()));
  t.equal(isoTime(951_782_400_000), "2000-02-29T00:00:00.000Z");
});

t.test("crc32c (slicing by 8) equals the byte-at-a-time definition at every length and offset", async (t) => {
  const reference = (bytes: Uint8Array): number => {
    let c = 0xffffffff;
    for (const b of bytes) {
      c ^= b;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    }
    return (c ^ 0xffffffff) >>> 0;
  };
  const data = Uint8Array.from({ length: 300 }, (_, i) => (i * 131 + 7) & 0xff);
  let mismatches = 0;
  for (let start = 0; start < 9; start++) for (let length = 0; length + start <= data.length; length += 7) {
    const slice = data.subarray(start, start + length);
    if (crc32c(slice) !== reference(slice)) mismatches++;
  }
  t.equal(mismatches, 0);
});
