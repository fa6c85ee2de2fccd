/**
 * What the outbound links and inbound connections of the transport share with the Transport
 * that owns them. A separate module so that neither side imports transport.ts (no cycles).
 */
import type WebSocket from "ws";
import type { LogFields, Logger } from "../../lib/logger.js";
import type { Message, NodeId } from "../types.js";
import type { TransportLimits } from "./transport_limits.js";

export interface TransportHandlers {
  /** Decoded, authenticated messages addressed to this node, in the order the peer sent them. */
  onMessages(messages: Message[]): void;
  /** A connection to the peer failed or dropped, or messages to it were dropped. */
  onPeerUnreachable(peer: NodeId): void;
  /** A message of type "snapshot" could not be sent (or may not have arrived). */
  onSnapshotFailed(peer: NodeId): void;
  /**
   * An established connection from the peer closed. When a peer process dies its kernel closes
   * the socket at once, so this is the fastest sign that the peer is gone (a partition, by
   * contrast, shows only as silence).
   */
  onPeerDisconnected?(peer: NodeId): void;
  /** A peer authenticated with a store id this node did not know for it yet: remember it. */
  onPeerStore?(peer: NodeId, storeId: string): void;
  /**
   * A peer refused this node because it knew it with another Raft data directory
   * (handshake.ts, "storeChanged"): this node's directory was emptied or replaced.
   */
  onStoreRefused?(peer: NodeId): void;
}

/** Something with queued work that the Transport runs on its next setImmediate flush. */
export interface Flushable {
  flush(): void;
}

export interface TransportContext {
  readonly selfId: NodeId;
  readonly clusterId: string;
  readonly secret: string;
  /** This node's Raft data directory (log_store_peers.ts). */
  readonly storeId: string;
  /** The store id remembered for a peer, or null. */
  knownStore(peer: NodeId): string | null;
  readonly limits: TransportLimits;
  readonly logger: Logger;
  readonly handlers: TransportHandlers;
  /**
   * Logs a warning unless one with the same key was logged within limits.warningIntervalMs. The
   * message may be a function, so a suppressed warning on a hot path builds no string.
   */
  warnLimited(key: string, fields: LogFields, message: string | (() => string)): void;
  /** Whether the node is in the current membership (setPeers). */
  isPeer(id: NodeId): boolean;
  isStopped(): boolean;
  /** Registers a socket so that stop() terminates it even while it is closing. */
  track(socket: WebSocket): void;
  /** Runs target.flush() from the event loop soon (one setImmediate for all targets). */
  flushSoon(target: Flushable): void;
}
