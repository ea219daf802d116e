// A TCP relay for tests: forwards to a target until told to stall, then holds every byte
// (and every close) without closing anything, as a frozen network link does; resuming
// delivers what was held, in order.
import { connect, createServer, type Server, type Socket } from "node:net";

export interface Relay {
  /** The relay's port on 127.0.0.1. */
  readonly port: number;
  /** `url` with its host and port replaced by the relay's. */
  via(url: string): string;
  /** Stops forwarding now, in both directions, closing nothing. */
  stall(): void;
  /** Stalls when a client sends bytes containing `text` (those bytes are held too). */
  stallOn(text: string): void;
  /** Forwards again, first what was held. */
  resume(): void;
  readonly stalled: boolean;
  close(): Promise<void>;
}

export async function startRelay(targetHost: string, targetPort: number): Promise<Relay> {
  let stalled = false;
  let trigger: string | undefined;
  const held: (() => void)[] = [];
  const sockets = new Set<Socket>();
  const gate = (step: () => void) => (stalled ? held.push(step) : step());
  const track = (s: Socket) => {
    sockets.add(s);
    s.on("error", () => undefined);
    s.on("close", () => sockets.delete(s));
  };
  const forward = (from: Socket, to: Socket, watch: boolean) => {
    from.on("data", (chunk: Buffer) => {
      if (watch && trigger !== undefined && chunk.includes(trigger)) {
        trigger = undefined;
        stalled = true;
      }
      gate(() => {
        if (!to.destroyed) to.write(chunk);
      });
    });
    from.on("end", () => gate(() => to.end()));
    from.on("close", () => gate(() => to.destroy()));
  };
  const server: Server = createServer((client) => {
    const upstream = connect(targetPort, targetHost);
    track(client);
    track(upstream);
    forward(client, upstream, true);
    forward(upstream, client, false);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    via(url) {
      const u = new URL(url);
      u.hostname = "127.0.0.1";
      u.port = String(port);
      return u.toString();
    },
    stall() {
      stalled = true;
    },
    stallOn(text) {
      trigger = text;
    },
    resume() {
      stalled = false;
      for (const step of held.splice(0)) step();
    },
    get stalled() {
      return stalled;
    },
    async close() {
      stalled = false;
      held.length = 0;
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
