/**
 * A TCP proxy on 127.0.0.1 that forwards to a server and cuts every connection once the server
 * has sent `cutAfterBytes` to the client: a source that goes away in the middle of a transfer
 * (pg_rewind or pg_basebackup interrupted by a second failover), made repeatable.
 */
import { createConnection, createServer, type Server, type Socket } from "node:net";

export interface CuttingProxy {
  readonly port: number;
  /** Connections cut so far. */
  cuts(): number;
  close(): Promise<void>;
}

export async function cuttingProxy(targetPort: number, cutAfterBytes: number): Promise<CuttingProxy> {
  let cuts = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = createConnection({ host: "127.0.0.1", port: targetPort });
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on("close", () => sockets.delete(s));
      s.on("error", () => {});
    }
    let sent = 0;
    client.pipe(upstream);
    upstream.on("data", (chunk: Buffer) => {
      if (sent >= cutAfterBytes) return;
      const room = cutAfterBytes - sent;
      client.write(room >= chunk.length ? chunk : chunk.subarray(0, room));
      sent += Math.min(room, chunk.length);
      if (sent >= cutAfterBytes) {
        cuts++;
        client.destroy();
        upstream.destroy();
      }
    });
    upstream.on("end", () => client.end());
    client.on("close", () => upstream.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("the proxy has no port");
  return {
    port: address.port,
    cuts: () => cuts,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
