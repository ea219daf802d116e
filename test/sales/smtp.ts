// A real SMTP server (smtp-server) on 127.0.0.1 that keeps what it receives, parsed with mailparser.
import { simpleParser, type ParsedMail } from "mailparser";
import { SMTPServer } from "smtp-server";

export interface Received {
  readonly raw: string;
  readonly from: string;
  readonly to: string[];
  readonly parsed: ParsedMail;
}

export interface SmtpSink {
  readonly port: number;
  readonly received: Received[];
  /** Stops listening (the port then refuses connections: "SMTP down"). */
  stop(): Promise<void>;
  /** Listens again on the same port. */
  start(): Promise<void>;
}

export async function startSmtpSink(port = 0): Promise<SmtpSink> {
  const received: Received[] = [];
  const make = () =>
    new SMTPServer({
      authOptional: true,
      disabledCommands: ["STARTTLS"],
      logger: false,
      onData(stream, session, callback) {
        const chunks: Buffer[] = [];
        stream.on("data", (c: Buffer) => chunks.push(c));
        stream.on("end", () => {
          const raw = Buffer.concat(chunks).toString("utf8");
          simpleParser(raw).then(
            (parsed) => {
              received.push({
                raw,
                from: session.envelope.mailFrom ? session.envelope.mailFrom.address : "",
                to: session.envelope.rcptTo.map((r) => r.address),
                parsed,
              });
              callback();
            },
            (err: Error) => callback(err),
          );
        });
      },
    });
  let server: SMTPServer | undefined;
  let bound = port;
  const sink: SmtpSink = {
    get port() {
      return bound;
    },
    received,
    async start() {
      server = make();
      await new Promise<void>((ok, fail) => {
        server!.once("error", fail);
        server!.listen(bound, "127.0.0.1", () => ok());
      });
      bound = (server.server.address() as { port: number }).port;
    },
    async stop() {
      const s = server;
      server = undefined;
      if (s) await new Promise<void>((ok) => s.close(() => ok()));
    },
  };
  await sink.start();
  return sink;
}
