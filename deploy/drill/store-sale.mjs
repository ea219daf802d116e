// The drill's store sale (deploy/drill/drill.sh): a local SMTP sink, and Stripe events
// signed as Stripe signs them. Runs from the repository (smtp-server, mailparser and
// stripe are in its node_modules).
//   node store-sale.mjs sink PORT DIR        keep each e-mail: DIR/N.json and its attachments
//   node store-sale.mjs event SECRET_FILE paid|refund PAYMENT_INTENT BODY_FILE
//                                            write the event to BODY_FILE, print Stripe-Signature
import { readFileSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";

const [command, ...args] = process.argv.slice(2);

if (command === "sink") {
  const [port, dir] = args;
  const { SMTPServer } = await import("smtp-server");
  const { simpleParser } = await import("mailparser");
  let n = 0;
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ["STARTTLS"],
    logger: false,
    onData(stream, session, done) {
      simpleParser(stream).then(
        (mail) => {
          n++;
          for (const a of mail.attachments)
            writeFileSync(join(dir, basename(a.filename)), a.content);
          writeFileSync(
            join(dir, `${n}.json`),
            JSON.stringify({
              to: session.envelope.rcptTo.map((r) => r.address),
              subject: mail.subject,
              text: mail.text,
              attachments: mail.attachments.map((a) => basename(a.filename)),
            }),
          );
          done();
        },
        (err) => done(err),
      );
    },
  });
  server.listen(Number(port), "127.0.0.1");
  process.on("SIGTERM", () => server.close(() => process.exit(0)));
} else if (command === "event") {
  const [secretFile, kind, paymentIntent, bodyFile] = args;
  const { default: Stripe } = await import("stripe");
  const id = `evt_drill_${kind}_${Date.now()}`;
  const object =
    kind === "paid"
      ? {
          id: `cs_drill_${Date.now()}`,
          object: "checkout.session",
          payment_status: "paid",
          payment_intent: paymentIntent,
          metadata: { dtl_product: "core-1y" },
          customer_details: { name: "Drill Store Buyer", email: "store.buyer@example.com" },
        }
      : {
          id: `ch_drill_${Date.now()}`,
          object: "charge",
          payment_intent: paymentIntent,
          amount: 4900,
          amount_refunded: 4900,
          refunded: true,
        };
  const type = kind === "paid" ? "checkout.session.completed" : "charge.refunded";
  const payload = JSON.stringify({ id, object: "event", type, data: { object } });
  writeFileSync(bodyFile, payload);
  const secret = readFileSync(secretFile, "utf8").trim();
  process.stdout.write(Stripe.webhooks.generateTestHeaderString({ payload, secret }));
} else {
  process.stderr.write(
    "usage: store-sale.mjs sink PORT DIR | event SECRET_FILE paid|refund PI BODY_FILE\n",
  );
  process.exit(2);
}
