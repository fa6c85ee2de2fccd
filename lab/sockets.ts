/**
 * Network helpers shared by tests, benchmarks and the demo (never by src/).
 */
import { mkdirSync, readFileSync, unlinkSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ChildProcess } from "node:child_process";
import { type WebSocket, WebSocketServer } from "ws";
import { processAlive } from "./process_alive.js";

/**
 * Ports handed out below the kernel's ephemeral range (32768–60999 on Linux): a port the OS picked
 * for a listen(0) comes from that range, where any outgoing connection on the machine may take it
 * before the agent binds it (CI saw an agent's REST API fail with EADDRINUSE that way). Across
 * processes a port is reserved by a file named for it, holding the reserving PID; a file whose
 * process is gone is taken over.
 */
const PORT_MIN = 20_000;
const PORT_MAX = 32_767;
const RESERVATIONS = join(tmpdir(), "raftgres-ports");
const reservedHere = new Set<number>();

function reserve(port: number): boolean {
  if (reservedHere.has(port)) return false;
  mkdirSync(RESERVATIONS, { recursive: true });
  const file = join(RESERVATIONS, String(port));
  try {
    writeFileSync(file, String(process.pid), { flag: "wx" });
  } catch {
    const owner = Number(readFileSyncOrEmpty(file));
    if (Number.isInteger(owner) && owner > 0 && processAlive(owner)) return false;
    // The reserving process is gone: take the port over.
    writeFileSync(file, String(process.pid));
  }
  if (reservedHere.size === 0) process.once("exit", releaseAll);
  reservedHere.add(port);
  return true;
}

function readFileSyncOrEmpty(file: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch {
    return "";
  }
}

function releaseAll(): void {
  for (const port of reservedHere) {
    try {
      if (readFileSyncOrEmpty(join(RESERVATIONS, String(port))) === String(process.pid)) unlinkSync(join(RESERVATIONS, String(port)));
    } catch {
      // Gone already.
    }
  }
}

async function bindable(port: number): Promise<boolean> {
  const server = createServer();
  return new Promise<boolean>((resolve) => {
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

/** A port on 127.0.0.1 with nothing listening on it, reserved for this process (see above). */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 1000; attempt++) {
    const port = PORT_MIN + Math.floor(Math.random() * (PORT_MAX - PORT_MIN + 1));
    if (!reserve(port)) continue;
    if (await bindable(port)) return port;
  }
  throw new Error(`no free port between ${PORT_MIN} and ${PORT_MAX} after 1000 tries: is ${RESERVATIONS} full of live reservations?`);
}

/**
 * A send function whose frames, produced within one turn of the event loop, leave the socket in
 * one write: the TCP socket is corked on the first frame and uncorked on the next turn.
 */
export function corkedSender(socket: WebSocket): (frame: Buffer) => void {
  const tcp = (socket as unknown as { _socket: { cork(): void; uncork(): void } })._socket;
  let corked = false;
  return (frame) => {
    if (!corked) {
      corked = true;
      tcp.cork();
      setImmediate(() => {
        corked = false;
        tcp.uncork();
      });
    }
    socket.send(frame);
  };
}

/** A WebSocket server on 127.0.0.1:port, once it listens. */
export async function listenWebSocket(port: number): Promise<WebSocketServer> {
  const server = new WebSocketServer({ host: "127.0.0.1", port, perMessageDeflate: false });
  await new Promise<void>((resolve, reject) => {
    server.once("listening", () => resolve());
    server.once("error", reject);
  });
  return server;
}

/** Resolves with the child once it prints `"ready":true`; rejects if it exits before. */
export function whenReady(child: ChildProcess, name: string): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    let out = "";
    child.stdout!.on("data", (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('"ready":true')) resolve(child);
    });
    child.once("exit", (code) => reject(new Error(`${name} exited with ${code} before it was ready`)));
  });
}
