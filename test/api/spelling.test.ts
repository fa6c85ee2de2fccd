import t from "tap";
import { editDistance, nearMiss } from "../../src/api/spelling.js";

const KNOWN = ["ttl", "loop_wait", "retry_timeout", "slots", "ignore_slots", "pause"];

t.test("editDistance counts inserts, deletes, replacements and swaps of neighbours", async (t) => {
  t.equal(editDistance("loop_wait", "loop_wait"), 0);
  t.equal(editDistance("loop_wiat", "loop_wait"), 1, "a swap is one edit");
  t.equal(editDistance("ttl", "tttl"), 1);
  t.equal(editDistance("", "abc"), 3);
  t.equal(editDistance("kitten", "sitting"), 3);
});

t.test("nearMiss names the one known key a name is close to, and nothing for names of their own", async (t) => {
  t.equal(nearMiss("loop_wiat", KNOWN), "loop_wait");
  t.equal(nearMiss("TTL", KNOWN), "ttl");
  t.equal(nearMiss("retry_timout", KNOWN), "retry_timeout");
  t.equal(nearMiss("slot", KNOWN), "slots");
  t.equal(nearMiss("ttl", KNOWN), null, "a known key is no miss");
  t.equal(nearMiss("jepsen_token", KNOWN), null);
  t.equal(nearMiss("tag", KNOWN), null, "short names need to be within one edit");
  t.equal(nearMiss("x".repeat(300), KNOWN), null);
});
