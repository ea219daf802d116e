// Store sales on real server processes sharing one PostgreSQL database: a webhook event
// delivered ten times at once across two servers issues one license and sends one e-mail;
// a server killed after the commit but before the send leaves the e-mail to be sent after
// the restart; a refund makes verify say REVOKED. Secrets come from mode-400 files.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateToken } from "../../src/store/tokens.js";
import { spawnCli, tempHome } from "../helpers/cli.js";
import { until } from "../server/harness.js";
import { spawnServer, type ServerProcess } from "../server/spawn.js";
import { createScratchDatabase } from "../store/databases.js";
import {
  LS_SECRET,
  PRODUCTS,
  STRIPE_SECRET,
  chargeRefunded,
  checkoutCompleted,
  signStripe,
} from "./fixtures.js";
import { startSmtpSink, type SmtpSink } from "./smtp.js";

const token = generateToken();

/** A home with the secrets and products files a production server would be given. */
function setup() {
  const home = tempHome("dtl-sales-");
  const secrets = join(home, "secrets");
  mkdirSync(secrets, { mode: 0o700 });
  const file = (name: string, text: string) => {
    writeFileSync(join(secrets, name), text, { mode: 0o400 });
    return join(secrets, name);
  };
  return {
    home,
    env: {
      HOME: home,
      DATATOOLS_ADMIN_TOKEN_FILE: file("admin-token", token),
      STRIPE_WEBHOOK_SECRET_FILE: file("stripe", STRIPE_SECRET),
      LEMONSQUEEZY_WEBHOOK_SECRET_FILE: file("lemonsqueezy", LS_SECRET),
      DATATOOLS_PRODUCTS_FILE: file("products.json", JSON.stringify(PRODUCTS)),
      DATATOOLS_MAIL_FROM: "DataTools <sales@datatools.example>",
      DATATOOLS_MAIL_POLL_MS: "50",
      DATATOOLS_MAIL_RETRY_BASE_MS: "200",
      DATATOOLS_LOG_LEVEL: "warn",
    },
  };
}

async function query<T>(url: string, sql: string): Promise<T[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query(sql)).rows as T[];
  } finally {
    await c.end();
  }
}

function postStripe(server: ServerProcess, event: unknown) {
  const { payload, header } = signStripe(event, new Date());
  return fetch(`${server.url}/v1/webhooks/stripe`, {
    method: "POST",
    headers: { "content-type": "application/json", "stripe-signature": header },
    body: payload,
  });
}

describe.runIf(Boolean(process.env.TEST_DATABASE_URL))(
  "store sales on two server processes",
  () => {
    let scratch: Awaited<ReturnType<typeof createScratchDatabase>>;
    let smtp: SmtpSink;
    let servers: ServerProcess[] = [];
    let env: Record<string, string>;

    beforeAll(async () => {
      scratch = await createScratchDatabase();
      smtp = await startSmtpSink();
      const s = setup();
      env = { ...s.env, DATABASE_URL: scratch.url, SMTP_URL: `smtp://127.0.0.1:${smtp.port}` };
      servers = await Promise.all(
        ["a", "b"].map((name) => spawnServer(["--data-dir", join(s.home, name)], env)),
      );
    }, 120_000);
    afterAll(async () => {
      for (const s of servers) await s.stop();
      await smtp?.stop();
      await scratch?.drop();
    });

    it("issues one license and sends one e-mail for an event delivered ten times at once", async () => {
      const event = checkoutCompleted({ paymentIntent: "pi_race" });
      const answers = await Promise.all(
        Array.from({ length: 10 }, (_, i) => postStripe(servers[i % 2]!, event)),
      );
      expect(answers.map((r) => r.status)).toEqual(Array(10).fill(200));
      const bodies = (await Promise.all(answers.map((r) => r.json()))) as { license_key: string }[];
      expect(new Set(bodies.map((b) => b.license_key)).size).toBe(1);
      const rows = await query<{ n: number }>(
        scratch.url,
        "SELECT count(*)::int AS n FROM licenses",
      );
      expect(rows[0]!.n).toBe(1);
      await until(() => smtp.received.length >= 1, "the license e-mail", 15_000);
      // Both workers keep polling; a second e-mail would arrive within a few rounds.
      await new Promise((r) => setTimeout(r, 1000));
      expect(smtp.received).toHaveLength(1);
      expect(smtp.received[0]!.parsed.attachments[0]!.filename).toBe(
        `${bodies[0]!.license_key}.dtlic`,
      );

      // A refund revokes it: the public verify says REVOKED.
      const refund = await postStripe(servers[1]!, chargeRefunded("pi_race"));
      expect(refund.status).toBe(200);
      const blob = smtp.received[0]!.parsed.attachments[0]!.content.toString("utf8").trim();
      const verify = await fetch(`${servers[0]!.url}/v1/licenses/verify`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ blob }),
      });
      expect(await verify.json()).toMatchObject({ code: "REVOKED" });
    });

    it("lists ignored events and queues a re-delivery from the command line", async () => {
      await postStripe(servers[0]!, checkoutCompleted({ product: "not-in-the-file" }));
      const cli = (argv: string[]) =>
        spawnCli([...argv, "--url", servers[0]!.url], { ...env, DATATOOLS_ADMIN_TOKEN: token });
      const listed = await cli(["webhooks", "list", "--status", "ignored", "--json"]);
      expect(listed.code, listed.stderr).toBe(0);
      const events = JSON.parse(listed.stdout) as { id: number; reason: string }[];
      expect(events[0]!.reason).toContain("unknown product not-in-the-file");
      // Replayed before the products file is fixed, it stays ignored, with the reason again.
      const replayed = await cli(["webhooks", "replay", String(events[0]!.id), "--json"]);
      expect(replayed.code, replayed.stderr).toBe(0);
      expect(JSON.parse(replayed.stdout)).toMatchObject({ status: "ignored", id: events[0]!.id });
      const ready = await (await fetch(`${servers[0]!.url}/readyz`)).json();
      expect(ready).toMatchObject({ status: "ready", delivery: "on" });
      const [row] = await query<{ license_key: string }>(
        scratch.url,
        "SELECT license_key FROM licenses",
      );
      const before = smtp.received.length;
      const queued = await cli(["deliver", row!.license_key]);
      expect(queued.code, queued.stderr).toBe(0);
      await until(() => smtp.received.length > before, "the re-delivered e-mail", 15_000);
    });
  },
);

describe.runIf(Boolean(process.env.TEST_DATABASE_URL))(
  "a server killed between commit and send",
  () => {
    it("sends the e-mail after the restart", async () => {
      const scratch = await createScratchDatabase();
      const smtp = await startSmtpSink();
      const s = setup();
      const base = { ...s.env, DATABASE_URL: scratch.url };
      try {
        // First without SMTP: the event is committed with its outbox row, nothing is sent.
        const first = await spawnServer(["--data-dir", join(s.home, "a")], base);
        const res = await postStripe(first, checkoutCompleted());
        expect(res.status).toBe(200);
        const ready = await (await fetch(`${first.url}/readyz`)).json();
        expect(ready).toMatchObject({ status: "ready", delivery: "off" });
        expect(first.stdout()).toContain("no SMTP_URL configured");
        await first.stop("SIGKILL");
        expect(smtp.received).toHaveLength(0);
        const second = await spawnServer(["--data-dir", join(s.home, "a")], {
          ...base,
          SMTP_URL: `smtp://127.0.0.1:${smtp.port}`,
        });
        try {
          await until(() => smtp.received.length === 1, "the e-mail after the restart", 15_000);
          await until(
            async () =>
              (await query<{ status: string }>(scratch.url, "SELECT status FROM outbox"))[0]!
                .status === "sent",
            "the outbox row marked sent",
          );
        } finally {
          await second.stop();
        }
      } finally {
        await smtp.stop();
        await scratch.drop();
      }
    }, 120_000);
  },
);
