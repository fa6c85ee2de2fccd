/**
 * Network helpers shared by tests, benchmarks and the demo (never by src/).
 */
import { createServer } from "node:net";
import type { ChildProcess } from "node:child_process";
import { type WebSocket, WebSocketServer } from "ws";

/** A port on 127.0.0.1 with nothing listening on it (bound, then released by the OS). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === "string") throw new Error("the OS gave no port");
  return address.port;
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
