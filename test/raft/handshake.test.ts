import { either as E } from "fp-ts";
import t from "tap";
import {
  buildClientHello,
  buildServerAccept,
  buildServerHello,
  checkClientHello,
  checkServerAccept,
  checkServerHello,
  clientMac,
  ClientHello,
  CLOSE_CODES,
  closeReason,
  decodeHandshake,
  encodeHandshake,
  HANDSHAKE_FRAME_BYTES_MAX,
  type HandshakeFrame,
  type MacInput,
  macEquals,
  NONCE_BYTES,
  PROTOCOL_VERSION,
  quote,
  type Refusal,
  ServerAccept,
  ServerHello,
  serverMac,
} from "../../src/raft/runtime/handshake.js";
import { type NodeId, nodeId } from "../../src/raft/types.js";

const A = nodeId("a");
const B = nodeId("b");
const SECRET = "correct horse battery staple";
const CLUSTER = "prod-1";
const STORE_A = "a".repeat(32);
const STORE_B = "b".repeat(32);

function nonce(fill: number): Uint8Array {
  return new Uint8Array(NONCE_BYTES).fill(fill);
}

/** Sends a frame through its encoding, as the wire would. */
function wire(frame: HandshakeFrame): HandshakeFrame {
  const decoded = decodeHandshake(encodeHandshake(frame));
  if (E.isLeft(decoded)) throw new Error(decoded.left.detail);
  return decoded.right;
}

function refusal<T>(result: E.Either<Refusal, T>): Refusal {
  if (E.isRight(result)) throw new Error("expected a refusal");
  return result.left;
}

const members = new Set<NodeId>([A, B]);
const serverSide = (overrides: { secret?: string; clusterId?: string; serverNonce?: Uint8Array; isPeer?: (id: NodeId) => boolean; knownStore?: (id: NodeId) => string | null } = {}) => ({
  secret: overrides.secret ?? SECRET,
  clusterId: overrides.clusterId ?? CLUSTER,
  selfId: B,
  serverNonce: overrides.serverNonce ?? nonce(1),
  isPeer: overrides.isPeer ?? ((id: NodeId) => members.has(id)),
  knownStore: overrides.knownStore ?? (() => null),
});

function macInput(overrides: Partial<MacInput> = {}): MacInput {
  return { secret: SECRET, clusterId: CLUSTER, clientId: A, serverId: B, serverNonce: nonce(1), clientNonce: nonce(2), clientStoreId: STORE_A, ...overrides };
}

t.test("a full handshake between two nodes that share the secret succeeds both ways", async (t) => {
  const hello = wire(buildServerHello(CLUSTER, B, nonce(1)));
  const checkedHello = checkServerHello(hello, { clusterId: CLUSTER, selfId: A, peerId: B });
  t.ok(E.isRight(checkedHello), "the client accepts the server hello");
  const input = macInput({ serverNonce: (hello as ServerHello).serverNonce });
  const clientHello = wire(buildClientHello(input));
  t.same(checkClientHello(clientHello, serverSide()), E.right({ peer: A, storeId: STORE_A }), "the server authenticates node a and learns its store id");
  const accept = wire(buildServerAccept(input, STORE_B));
  t.same(checkServerAccept(accept, input, null), E.right(STORE_B), "the client authenticates the server and learns its store id");
});

t.test("a peer that comes back with another Raft data directory is refused, both ways", async (t) => {
  const input = macInput();
  const hello = wire(buildClientHello(input));
  t.ok(E.isRight(checkClientHello(hello, serverSide({ knownStore: () => STORE_A }))), "the directory remembered: accepted");
  const changed = refusal(checkClientHello(hello, serverSide({ knownStore: () => "c".repeat(32) })));
  t.equal(changed.kind, "storeChanged");
  t.match(changed.detail, /node a presents Raft data directory a{32}, but this node knew it with directory c{32}: its data was lost or replaced/);
  const stranger = refusal(checkClientHello(wire(buildClientHello({ ...input, secret: "guess" })), serverSide({ knownStore: () => "c".repeat(32) })));
  t.equal(stranger.kind, "authentication", "only an authenticated node learns that its directory is not the one known");
  const accept = wire(buildServerAccept(input, STORE_B));
  t.equal(refusal(checkServerAccept(accept, input, "c".repeat(32))).kind, "storeChanged", "the client checks the server's directory");
  const forged = wire(new ServerAccept(PROTOCOL_VERSION, (accept as ServerAccept).mac, "c".repeat(32)));
  t.equal(refusal(checkServerAccept(forged, input, null)).kind, "authentication", "the server's mac covers its store id");
  t.equal(CLOSE_CODES.storeChanged, 4013);
});

t.test("checkClientHello() refuses a wrong shared secret", async (t) => {
  const hello = wire(buildClientHello(macInput({ secret: "not the secret" })));
  const result = refusal(checkClientHello(hello, serverSide()));
  t.equal(result.kind, "authentication");
  t.equal(result.detail, "authentication failed: wrong shared secret");
});

t.test("checkClientHello() refuses another cluster and names both cluster ids", async (t) => {
  const hello = wire(buildClientHello(macInput({ clusterId: "staging" })));
  const result = refusal(checkClientHello(hello, serverSide()));
  t.equal(result.kind, "clusterId");
  t.equal(result.detail, 'cluster id "staging" differs from ours "prod-1"');
});

t.test("checkServerHello() refuses another cluster, another node and another protocol version", async (t) => {
  const expected = { clusterId: CLUSTER, selfId: A, peerId: B };
  t.equal(refusal(checkServerHello(wire(buildServerHello("staging", B, nonce(1))), expected)).kind, "clusterId");
  const other = refusal(checkServerHello(wire(buildServerHello(CLUSTER, nodeId("c"), nonce(1))), expected));
  t.equal(other.kind, "wrongNode");
  t.match(other.detail, /node "c" answered at the address of node b/);
  const future = new ServerHello(PROTOCOL_VERSION + 1, CLUSTER, B, nonce(1));
  t.equal(refusal(checkServerHello(future, expected)).kind, "protocolVersion");
  t.equal(refusal(checkServerHello(wire(new ServerAccept(PROTOCOL_VERSION, nonce(3), STORE_B)), expected)).kind, "protocolViolation");
});

t.test("checkClientHello() refuses an unknown node only once it proved it knows the secret", async (t) => {
  const stranger = macInput({ clientId: "z" });
  const known = refusal(checkClientHello(wire(buildClientHello(stranger)), serverSide()));
  t.equal(known.kind, "unknownNode");
  const guessing = refusal(checkClientHello(wire(buildClientHello({ ...stranger, secret: "guess" })), serverSide()));
  t.equal(guessing.kind, "authentication", "membership is not revealed to a node without the secret");
});

t.test("checkClientHello() refuses a hello meant for another node", async (t) => {
  const hello = wire(buildClientHello(macInput({ serverId: "c" })));
  const result = refusal(checkClientHello(hello, serverSide()));
  t.equal(result.kind, "wrongNode");
  t.match(result.detail, /meant to reach node "c", this is node b/);
});

t.test("checkClientHello() refuses a hello claiming the server's own id, whatever its mac", async (t) => {
  for (const secret of [SECRET, "guess"]) {
    const input = macInput({ secret, clientId: B });
    const result = refusal(checkClientHello(wire(buildClientHello(input)), serverSide()));
    t.equal(result.kind, "sameNodeId", `with ${secret === SECRET ? "the" : "a wrong"} secret`);
    t.equal(result.detail, "it claims this node's own id b: two nodes are configured with the same id, or a node dialed itself");
  }
  t.equal(CLOSE_CODES.sameNodeId, 4012);
  t.equal(closeReason("sameNodeId"), "the other side has the same node id");
});

t.test("checkServerHello() refuses a server hello naming the client's own id", async (t) => {
  const result = refusal(checkServerHello(wire(buildServerHello(CLUSTER, A, nonce(1))), { clusterId: CLUSTER, selfId: A, peerId: B }));
  t.equal(result.kind, "sameNodeId");
  t.equal(
    result.detail,
    "the node at the address of node b has this node's own id a: the address points back at this node, or two nodes are configured with the same id",
  );
  t.throws(() => checkServerHello(wire(buildServerHello(CLUSTER, A, nonce(1))), { clusterId: CLUSTER, selfId: A, peerId: A }), /does not dial itself/);
});

t.test("a recorded client hello cannot be replayed against a new server nonce", async (t) => {
  const recorded = wire(buildClientHello(macInput({ serverNonce: nonce(1) })));
  t.ok(E.isRight(checkClientHello(recorded, serverSide({ serverNonce: nonce(1) }))), "valid for the nonce it answered");
  t.equal(refusal(checkClientHello(recorded, serverSide({ serverNonce: nonce(9) }))).kind, "authentication");
});

t.test("a server accept is bound to the client's nonce and cannot be a reflected client mac", async (t) => {
  const input = macInput();
  const accept = wire(buildServerAccept(input, STORE_B));
  t.equal(refusal(checkServerAccept(accept, { ...input, clientNonce: nonce(7) }, null)).kind, "authentication", "replayed accept");
  const reflected = wire(new ServerAccept(PROTOCOL_VERSION, clientMac(input), STORE_B));
  t.equal(refusal(checkServerAccept(reflected, input, null)).kind, "authentication", "client mac reflected as server mac");
  t.equal(refusal(checkServerAccept(wire(buildServerHello(CLUSTER, B, nonce(1))), input, null)).kind, "protocolViolation");
});

t.test("macs length-prefix their fields, so shifting bytes between ids changes the mac", async (t) => {
  const one = clientMac(macInput({ clientId: "ab", serverId: "c" }));
  const two = clientMac(macInput({ clientId: "a", serverId: "bc" }));
  t.notOk(macEquals(one, two));
  t.notOk(macEquals(clientMac(macInput()), serverMac(macInput(), STORE_B)), "client and server macs differ");
  t.notOk(macEquals(clientMac(macInput()), clientMac(macInput({ clientStoreId: STORE_B }))), "the client's mac covers its store id");
  t.notOk(macEquals(one, one.subarray(0, 16)), "different lengths compare unequal without throwing");
  t.ok(macEquals(one, Uint8Array.from(one)));
});

t.test("decodeHandshake() reports a newer protocol version as such, even when its layout differs", async (t) => {
  const bytes = new Uint8Array([1, PROTOCOL_VERSION + 1, 0, 0xff]);
  const result = refusal(decodeHandshake(bytes));
  t.equal(result.kind, "protocolVersion");
  t.match(result.detail, new RegExp(`protocol version ${PROTOCOL_VERSION + 1} differs from ours ${PROTOCOL_VERSION}`));
});

t.test("decodeHandshake() refuses garbage, trailing bytes and oversized frames as protocol violations", async (t) => {
  t.equal(refusal(decodeHandshake(new Uint8Array([9, 9, 9]))).kind, "protocolViolation");
  const valid = encodeHandshake(buildServerHello(CLUSTER, B, nonce(1)));
  t.equal(refusal(decodeHandshake(new Uint8Array([...valid, 0]))).kind, "protocolViolation");
  t.equal(refusal(decodeHandshake(new Uint8Array(HANDSHAKE_FRAME_BYTES_MAX + 1))).kind, "protocolViolation");
});

t.test("checkClientHello() refuses an invalid node id as a protocol violation", async (t) => {
  const input = macInput({ clientId: "bad id/../" });
  const hello = new ClientHello(PROTOCOL_VERSION, CLUSTER, input.clientId, B, input.clientNonce, clientMac(input), STORE_A);
  t.equal(refusal(checkClientHello(wire(hello), serverSide())).kind, "protocolViolation");
});

t.test("the largest hello fits the handshake frame limit", async (t) => {
  const longId = "n".repeat(63);
  const hello = buildClientHello(macInput({ clusterId: "c".repeat(128), clientId: longId, serverId: longId }));
  t.ok(encodeHandshake(hello).length <= HANDSHAKE_FRAME_BYTES_MAX);
  t.throws(() => buildServerHello("c".repeat(129), B, nonce(1)), /cluster id/);
});

t.test("quote() cuts long values for log lines", async (t) => {
  t.equal(quote("x"), '"x"');
  t.equal(quote("y".repeat(200)), `"${"y".repeat(80)}…"`);
});
