// License e-mails: the outbox written with the license, sent over real SMTP by the delivery
// worker, retried while SMTP is down, safe from header injection; the buyer activates the
// attached blob with the CLI.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { DEFAULT_DELIVERY } from "../../src/config/sales.js";
import { createServiceContext } from "../../src/service/context.js";
import { backoff, DeliveryWorker } from "../../src/service/delivery.js";
import { createSmtpMailer, mailTemplates, renderMail } from "../../src/service/mail.js";
import { runInProcess, tempHome } from "../helpers/cli.js";
import { createHarness, json, ring, signer, START, type Harness } from "../server/harness.js";
import { backendNames } from "../store/databases.js";
import { SALES, checkoutCompleted, signStripe } from "./fixtures.js";
import { startSmtpSink, type SmtpSink } from "./smtp.js";

const FROM = { name: "DataTools Sales", address: "sales@datatools.example" };
const TIMING = { retryBaseMs: 1000, retryMaxMs: 8000, pollMs: 50 };
const quiet = { info: () => undefined, warn: () => undefined };

describe.each(backendNames())("license e-mails on %s", (backend) => {
  let h: Harness;
  let app: FastifyInstance;
  let smtp: SmtpSink;
  beforeAll(async () => {
    h = await createHarness(backend);
    app = await h.other({ sales: SALES });
    smtp = await startSmtpSink();
  });
  afterAll(async () => {
    await smtp.stop();
    await h.close();
  });
  beforeEach(async () => {
    await h.reset();
    smtp.received.length = 0;
  });

  const ctx = () => createServiceContext({ db: h.t.db, signer, ring, now: () => h.clock.now });
  const worker = async () =>
    new DeliveryWorker(ctx(), {
      mailer: await createSmtpMailer({ url: `smtp://127.0.0.1:${smtp.port}` }),
      from: FROM,
      templates: {},
      timing: TIMING,
      log: quiet,
    });
  const sell = async (name = "Ada Lovelace", email = "ada@example.com") => {
    const { payload, header } = signStripe(checkoutCompleted({ name, email }), START);
    const res = await app.inject({
      method: "POST",
      url: "/v1/webhooks/stripe",
      headers: { "content-type": "application/json", "stripe-signature": header },
      payload,
    });
    return json<{ license_key: string }>(res).license_key;
  };
  const license = async (key: string) =>
    json<{ blob: string; delivery: Record<string, unknown> }>(
      await app.inject({
        method: "GET",
        url: `/v1/licenses/${key}`,
        headers: { authorization: `Bearer ${h.token}` },
      }),
    );

  it("e-mails the blob in the body and as <key>.dtlic, and the buyer activates the attachment", async () => {
    const key = await sell();
    const w = await worker();
    expect(await w.drain()).toBe(1);
    await w.stop();
    expect(smtp.received).toHaveLength(1);
    const mail = smtp.received[0]!;
    expect(mail.to).toEqual(["ada@example.com"]);
    expect(mail.from).toBe(FROM.address);
    const stored = await license(key);
    expect(mail.parsed.text).toContain("Hello Ada Lovelace,");
    expect(mail.parsed.text).toContain(stored.blob);
    expect(mail.parsed.text).toContain(`dtlicense activate --file ${key}.dtlic`);
    expect(mail.parsed.html).toContain("Hello Ada Lovelace,");
    expect(mail.parsed.attachments.map((a) => a.filename)).toEqual([`${key}.dtlic`]);
    expect(mail.parsed.attachments[0]!.content.toString("utf8").trim()).toBe(stored.blob);
    expect(stored.delivery).toMatchObject({ status: "sent", attempts: 1, next_attempt_at: null });

    // The buyer saves the attachment and activates it.
    const home = tempHome("dtl-buyer-");
    const file = join(home, `${key}.dtlic`);
    writeFileSync(file, mail.parsed.attachments[0]!.content);
    const activated = await runInProcess(
      ["activate", "--file", file, "--name", "Ada Lovelace", "--email", "ada@example.com"],
      { home, now: START },
    );
    expect(activated.stderr).not.toMatch(/\[[A-Z_]+\]\n$/);
    expect(activated.code).toBe(0);
    expect(activated.stdout).toContain(`Activated ${key}`);
  });

  it("keeps retrying while SMTP is down, backing off, and delivers once it is back", async () => {
    const key = await sell();
    await smtp.stop();
    try {
      const w = await worker();
      expect(await w.drain()).toBe(0);
      let d = (await license(key)).delivery;
      expect(d).toMatchObject({ status: "failing", attempts: 1, last_error: expect.any(String) });
      expect(d.next_attempt_at).toBe(new Date(START.getTime() + 1000).toISOString());
      // Not due yet: nothing is tried.
      expect(await w.drain()).toBe(0);
      expect((await license(key)).delivery).toMatchObject({ attempts: 1 });
      h.clock.now = new Date(START.getTime() + 1000);
      expect(await w.drain()).toBe(0);
      d = (await license(key)).delivery;
      expect(d).toMatchObject({ status: "failing", attempts: 2 });
      expect(d.next_attempt_at).toBe(new Date(START.getTime() + 3000).toISOString());
      await w.stop();
    } finally {
      await smtp.start();
    }
    h.clock.now = new Date(START.getTime() + 3000);
    const w = await worker();
    expect(await w.drain()).toBe(1);
    await w.stop();
    expect(smtp.received).toHaveLength(1);
    expect((await license(key)).delivery).toMatchObject({ status: "sent", attempts: 3 });
  });

  it("never sends one outbox row from two workers at once", async () => {
    for (let i = 0; i < 6; i++) await sell(`Buyer ${i}`, `b${i}@example.com`);
    const [a, b] = [await worker(), await worker()];
    const [x, y] = await Promise.all([a.drain(), b.drain()]);
    await Promise.all([a.stop(), b.stop()]);
    expect(x + y).toBe(6);
    expect(smtp.received).toHaveLength(6);
    expect(new Set(smtp.received.map((m) => m.to[0])).size).toBe(6);
  });
});

describe("the license e-mail", () => {
  it("backs off exponentially up to the cap", () => {
    const t = { ...DEFAULT_DELIVERY, retryBaseMs: 1000, retryMaxMs: 10_000 };
    expect([1, 2, 3, 4, 5, 50].map((n) => backoff(n, t))).toEqual([
      1000, 2000, 4000, 8000, 10_000, 10_000,
    ]);
  });

  it("escapes the name in the HTML part and uses the vendor's templates where given", async () => {
    const data = {
      name: 'Ada <img src=x onerror="alert(1)">',
      email: "ada@example.com",
      license_key: "DT1-CORE-1",
      tier: "core",
      expires_at: "2027-05-13T22:10:27Z",
      blob: "DTLIC2:abc.def",
      file: "DT1-CORE-1.dtlic",
    };
    const built = await renderMail(mailTemplates({}), data);
    expect(built.html).toContain("Ada &lt;img src=x onerror=&quot;alert(1)&quot;&gt;");
    expect(built.html).not.toContain("<img");
    expect(built.text).toContain('Hello Ada <img src=x onerror="alert(1)">,');
    const vendor = await renderMail(
      mailTemplates({ subject: "Welcome <%= it.name %>\r\nBcc: x@example.com" }),
      data,
    );
    expect(vendor.subject).not.toMatch(/[\r\n]/);
  });

  it("logs in with the user of SMTP_URL and the password from SMTP_PASSWORD_FILE", async () => {
    const { SMTPServer } = await import("smtp-server");
    const logins: string[] = [];
    const server = new SMTPServer({
      allowInsecureAuth: true,
      disabledCommands: ["STARTTLS"],
      logger: false,
      onAuth(auth, _session, done) {
        logins.push(`${auth.username}:${auth.password}`);
        if (auth.password === "s3cret pass") done(null, { user: auth.username });
        else done(new Error("bad password"));
      },
      onData(stream, _session, done) {
        stream.resume();
        stream.on("end", () => done());
      },
    });
    await new Promise<void>((ok) => server.listen(0, "127.0.0.1", () => ok()));
    const port = (server.server.address() as { port: number }).port;
    try {
      const rendered = await renderMail(mailTemplates({}), {
        name: "Ada",
        email: "ada@example.com",
        license_key: "K",
        tier: "core",
        expires_at: "x",
        blob: "DTLIC2:a.b",
        file: "K.dtlic",
      });
      const mail = {
        from: FROM,
        to: { name: "Ada", address: "ada@example.com" },
        rendered,
        attachment: { filename: "K.dtlic", content: "DTLIC2:a.b\n" },
      };
      const good = await createSmtpMailer({
        url: `smtp://sales%40datatools.example@127.0.0.1:${port}`,
        password: "s3cret pass",
      });
      await good.send(mail);
      good.close();
      const bad = await createSmtpMailer({
        url: `smtp://sales%40datatools.example@127.0.0.1:${port}`,
        password: "wrong",
      });
      await expect(bad.send(mail)).rejects.toThrow();
      bad.close();
      expect(logins).toEqual([
        "sales@datatools.example:s3cret pass",
        "sales@datatools.example:wrong",
      ]);
    } finally {
      await new Promise<void>((ok) => server.close(() => ok()));
    }
  });

  it("cannot be made to add a header or a recipient through the buyer's name", async () => {
    const smtp = await startSmtpSink();
    try {
      const mailer = await createSmtpMailer({ url: `smtp://127.0.0.1:${smtp.port}` });
      const rendered = await renderMail(mailTemplates({}), {
        name: "Eve",
        email: "eve@example.com",
        license_key: "K",
        tier: "core",
        expires_at: "x",
        blob: "DTLIC2:a.b",
        file: "K.dtlic",
      });
      await mailer.send({
        from: FROM,
        to: { name: "Eve\r\nBcc: mallory@example.com\r\nX-Evil: 1", address: "eve@example.com" },
        rendered,
        attachment: { filename: "K.dtlic", content: "DTLIC2:a.b\n" },
      });
      mailer.close();
      expect(smtp.received).toHaveLength(1);
      const got = smtp.received[0]!;
      expect(got.to).toEqual(["eve@example.com"]);
      expect(got.parsed.headers.has("bcc")).toBe(false);
      expect(got.parsed.headers.has("x-evil")).toBe(false);
      expect(got.raw).not.toMatch(/^Bcc:/im);
    } finally {
      await smtp.stop();
    }
  });
});
