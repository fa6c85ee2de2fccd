import fc from "fast-check";
import t from "tap";
import { quorumSize, quorumValue, voteResult } from "../../src/raft/quorum.js";

/** The definition, by brute force: the largest v such that more than half the voters reached v. */
function referenceQuorumValue(values: readonly number[]): number {
  const candidates = [...new Set(values)].sort((a, b) => b - a);
  return candidates.find((v) => values.filter((x) => x >= v).length * 2 > values.length)!;
}

t.test("quorumValue is the largest value a majority of voters has reached", async (t) => {
  fc.assert(fc.property(fc.array(fc.nat(1000), { minLength: 1, maxLength: 9 }), (values) => quorumValue(values) === referenceQuorumValue(values)));
  t.equal(quorumValue([5, 3, 9]), 5);
  t.equal(quorumValue([7]), 7);
});

t.test("any two quorums of the same voters intersect", async (t) => {
  for (let n = 1; n <= 9; n++) t.ok(quorumSize(n) * 2 > n, `n=${n}: quorum ${quorumSize(n)}`);
});

t.test("an election is won by a majority of grants and lost when a majority is out of reach", async (t) => {
  fc.assert(fc.property(fc.array(fc.constantFrom(true, false, undefined), { minLength: 1, maxLength: 9 }), (votes) => {
    const granted = votes.filter((v) => v === true).length;
    const open = votes.filter((v) => v === undefined).length;
    const expected = granted * 2 > votes.length ? "won" : (granted + open) * 2 > votes.length ? "pending" : "lost";
    return voteResult(votes) === expected;
  }));
  t.equal(voteResult([true, undefined, undefined]), "pending");
  t.equal(voteResult([true, false, false]), "lost");
});
