/**
 * Network helpers shared by tests, benchmarks and the demo (never by src/).
 */
import { createServer } from "node:net";
import type WebSocket from "ws";

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
