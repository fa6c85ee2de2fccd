import t from "tap";
import { InboundHeartbeats } from "../../src/raft/runtime/inbound_heartbeats.js";
import { type LogIndex, makeMessage, type Message, type MessageType, nodeId, type Term } from "../../src/raft/types.js";

function message(type: MessageType, from: string, fields: Partial<Message> = {}): Message {
  return makeMessage({ type, from: nodeId(from), to: nodeId("a"), term: 2 as Term, ...fields });
}

t.test("a burst of heartbeats from one leader is stepped once, as the newest, asking for an answer if any did", async (t) => {
  const inbound = new InboundHeartbeats();
  const slot = inbound.admit(message("heartbeat", "b", { context: 1, force: true }));
  t.ok(slot !== null && slot !== "merged", "the first one gets a step");
  for (let i = 2; i <= 30; i++) t.equal(inbound.admit(message("heartbeat", "b", { context: i, commit: i as LogIndex })), "merged");
  if (slot === null || slot === "merged") return;
  const stepped = inbound.take(slot);
  t.equal(stepped.context, 30);
  t.equal(stepped.commit, 30);
  t.equal(stepped.force, true, "an answer was asked for");
  t.throws(() => inbound.take(slot), /taken once/);
  t.not(inbound.admit(message("heartbeat", "b", { context: 31 })), "merged", "after its step, the next one gets its own");
});

t.test("answers merge per sender and keep the highest read round; other messages are not touched", async (t) => {
  const inbound = new InboundHeartbeats();
  const fromC = inbound.admit(message("heartbeatResponse", "c", { context: 5 }));
  const fromD = inbound.admit(message("heartbeatResponse", "d", { context: 1 }));
  t.ok(fromC !== null && fromC !== "merged" && fromD !== null && fromD !== "merged", "one step per sender");
  t.equal(inbound.admit(message("heartbeatResponse", "c", { context: 4 })), "merged");
  t.equal(inbound.admit(message("appendResponse", "c", { index: 9 as LogIndex })), null, "an append's answer is stepped as it comes");
  const heartbeatFromC = inbound.admit(message("heartbeat", "c"));
  t.ok(heartbeatFromC !== null && heartbeatFromC !== "merged", "c's heartbeat does not join c's answers");
  if (fromC === null || fromC === "merged") return;
  t.equal(inbound.take(fromC).context, 5);
});

t.test("a message of a later term replaces the older, whatever it asked", async (t) => {
  const inbound = new InboundHeartbeats();
  const slot = inbound.admit(message("heartbeat", "b", { context: 7, force: true }));
  inbound.admit(message("heartbeat", "b", { term: 3 as Term, context: 0 }));
  if (slot === null || slot === "merged") {
    t.fail("no slot");
    return;
  }
  const stepped = inbound.take(slot);
  t.equal(stepped.term, 3);
  t.equal(stepped.context, 0);
  t.equal(stepped.force, false);
});
