// The console's e-mail, sale, seat and webhook parts over HTTP (fastify inject), on PGlite and,
// with TEST_DATABASE_URL, PostgreSQL: each action needs the session's CSRF value, its result
// shows, and text from buyers, machines and SMTP servers is shown as text.
import { beforeEach, describe, expect, it } from "vitest";
import { insertActivation } from "../../src/store/activations.js";
import {
  claimWebhookEvent,
  enqueueDelivery,
  insertSale,
  markDeliveryFailing,
  markDeliverySent,
  settleWebhookEvent,
} from "../../src/store/sales.js";
import { SALES } from "../sales/fixtures.js";
import { START, useHarness } from "../server/harness.js";
import { backendNames } from "../store/databases.js";
import { FORM, HTML, form, signIn, type Session } from "./support.js";

const SCRIPT = "<script>alert(1)</script>";
const ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;";

const later = (minutes: number) => new Date(START.getTime() + minutes * 60_000);

for (const backend of backendNames()) {
  describe(`the console's e-mail, seats and webhooks (${backend})`, () => {
    const h = useHarness(backend);
    let s: Session;
    let key: string;
    beforeEach(async () => {
      s = await signIn(h);
      key = await issue("Ada Lovelace");
    });

    function get(url: string, cookie = s.cookie) {
      return h.app.inject({ method: "GET", url, headers: { ...HTML, cookie } });
    }

    function post(url: string, fields: Record<string, string>) {
      return h.app.inject({
        method: "POST",
        url,
        headers: { ...FORM, cookie: s.cookie },
        payload: form(fields),
      });
    }

    async function issue(name: string): Promise<string> {
      const res = await post("/admin/licenses", {
        _csrf: s.csrf,
        name,
        email: "ada@example.com",
        tier: "pro",
        years: "1",
      });
      expect(res.statusCode).toBe(303);
      return decodeURIComponent((res.headers.location as string).split("/")[3]!.split("?")[0]!);
    }

    const licensePage = () => get(`/admin/licenses/${encodeURIComponent(key)}`);

    async function seatsOf(k: string): Promise<number | null> {
      const { rows } = await h.t.db.query<{ seats: number | null }>(
        "SELECT seats FROM licenses WHERE license_key = $1",
        [k],
      );
      return rows[0]!.seats === null ? null : Number(rows[0]!.seats);
    }

    async function activate(fingerprint: string, hostname: string) {
      return h.t.db.transaction((tx) =>
        insertActivation(tx, key, fingerprint, hostname, { actor: "machine" }, START),
      );
    }

    it("shows no e-mail for a license without an outbox row, then its queued, failing and sent states", async () => {
      let page = await licensePage();
      expect(page.body).toContain("No license e-mail was queued for this license.");
      expect(page.body).not.toContain("Sold through");

      const queued = await enqueueDelivery(h.t.db, key, START);
      page = await licensePage();
      expect(page.body).toContain("<strong>queued</strong>");

      await markDeliveryFailing(h.t.db, queued.id, `550 ${SCRIPT} mailbox unavailable`, later(5));
      page = await licensePage();
      expect(page.body).toContain("<strong>failing</strong> after 1 attempt;");
      expect(page.body).toContain("next attempt at <time");
      expect(page.body).toContain("2026-05-13 22:15:27 UTC");
      expect(page.body).toContain(`Last error: 550 ${ESCAPED} mailbox unavailable`);
      expect(page.body).not.toContain(SCRIPT);

      await markDeliverySent(h.t.db, queued.id, later(6));
      page = await licensePage();
      expect(page.body).toContain("<strong>sent</strong> at <time");
      expect(page.body).toContain("2026-05-13 22:16:27 UTC");
      expect(page.body).not.toContain("Last error");
    });

    it("shows the sale a store license came from, its reference as text", async () => {
      await insertSale(
        h.t.db,
        key,
        { provider: "stripe", reference: `pi_${SCRIPT}`, event_id: "evt_1", product: "price_pro" },
        START,
      );
      const page = await licensePage();
      expect(page.body).toContain("Sold through <strong>stripe</strong>");
      expect(page.body).toContain(`<code>pi_${ESCAPED}</code>`);
      expect(page.body).not.toContain(SCRIPT);
    });

    it("re-delivers the e-mail only with the session's CSRF value, and shows it queued", async () => {
      const url = `/admin/licenses/${encodeURIComponent(key)}/deliver`;
      for (const fields of [{}, { _csrf: "wrong" }] as Record<string, string>[]) {
        const refused = await post(url, fields);
        expect(refused.statusCode).toBe(403);
        expect(refused.body).toContain("Nothing was changed");
      }
      expect(await h.count("outbox")).toBe(0);

      const res = await post(url, { _csrf: s.csrf });
      expect(res.statusCode).toBe(303);
      expect(res.headers.location).toBe(
        `/admin/licenses/${encodeURIComponent(key)}?done=deliver#delivery`,
      );
      expect(await h.count("outbox")).toBe(1);
      const page = await get(res.headers.location as string);
      expect(page.body).toContain("The license e-mail was queued again");
      const { rows } = await h.t.db.query<{ actor: string; reason: string }>(
        "SELECT actor, reason FROM events WHERE license_key = $1 AND action = 'deliver'",
        [key],
      );
      expect(rows).toEqual([{ actor: "test admin", reason: "license e-mail queued again" }]);
      expect(page.body).toContain("<strong>queued</strong>");

      const unknown = await post("/admin/licenses/DT1-PRO-00000000-00000000/deliver", {
        _csrf: s.csrf,
      });
      expect(unknown.statusCode).toBe(404);
      expect(await h.count("outbox")).toBe(1);
    });

    it("changes the seat limit with CSRF, records the token's name, and refuses bad limits", async () => {
      const url = `/admin/licenses/${encodeURIComponent(key)}/seats`;
      const refused = await post(url, { seats: "3" });
      expect(refused.statusCode).toBe(403);
      expect(await seatsOf(key)).toBeNull();

      const res = await post(url, { _csrf: s.csrf, seats: "3" });
      expect(res.statusCode).toBe(303);
      expect(res.headers.location).toBe(
        `/admin/licenses/${encodeURIComponent(key)}?done=seats#seats`,
      );
      expect(await seatsOf(key)).toBe(3);
      const page = await get(res.headers.location as string);
      expect(page.body).toContain("The seat limit was changed.");
      expect(page.body).toContain("Limit: <strong>3</strong> machines");
      expect(page.body).toMatch(/<strong>set-seats<\/strong> by test admin/);
      expect(page.body).toContain("seats no limit → 3");

      for (const bad of ["0", "10001", "abc", "2.5", "-1", "1e3"]) {
        const no = await post(url, { _csrf: s.csrf, seats: bad });
        expect(no.statusCode, bad).toBe(400);
        expect(no.body).toContain("SEATS_INVALID");
        expect(await seatsOf(key)).toBe(3);
      }

      const none = await post(url, { _csrf: s.csrf, seats: "" });
      expect(none.statusCode).toBe(303);
      expect(await seatsOf(key)).toBeNull();
      expect((await licensePage()).body).toContain("No seat limit");
      const unknown = await post("/admin/licenses/DT1-PRO-00000000-00000000/seats", {
        _csrf: s.csrf,
        seats: "2",
      });
      expect(unknown.statusCode).toBe(404);
      expect(await seatsOf(key)).toBeNull();
    });

    it("lists the machines holding seats and releases one, freeing it in the database", async () => {
      const fp = "a".repeat(64);
      const held = await activate(fp, SCRIPT);
      await activate("b".repeat(64), "build-02");
      let page = await licensePage();
      expect(page.body).toContain('<h2 id="seats">Seats</h2>');
      expect(page.body).toContain("<strong>2</strong> held now.");
      expect(page.body).toContain(`<code title="${fp}">${"a".repeat(12)}…</code>`);
      expect(page.body).toContain(`<td>${ESCAPED}</td>`);
      expect(page.body).toContain("build-02");
      expect(page.body).not.toContain(SCRIPT);

      const url = `/admin/activations/${held.id}/release`;
      const refused = await post(url, { _csrf: "wrong" });
      expect(refused.statusCode).toBe(403);
      const releasedAt = async () => {
        const { rows } = await h.t.db.query<{ released_at: unknown; released_by: unknown }>(
          "SELECT released_at, released_by FROM activations WHERE id = $1",
          [held.id],
        );
        return rows[0]!;
      };
      expect((await releasedAt()).released_at).toBeNull();

      const res = await post(url, { _csrf: s.csrf });
      expect(res.statusCode).toBe(303);
      expect(res.headers.location).toBe(
        `/admin/licenses/${encodeURIComponent(key)}?done=released#seats`,
      );
      const row = await releasedAt();
      expect(row.released_at).not.toBeNull();
      expect(row.released_by).toBe("test admin");
      page = await get(res.headers.location as string);
      expect(page.body).toContain("The seat was released.");
      expect(page.body).toContain("<strong>1</strong> held now.");
      expect(page.body).not.toContain(`title="${fp}"`);

      const again = await post(url, { _csrf: s.csrf });
      expect(again.statusCode).toBe(409);
      expect(again.body).toContain("LICENSE_STATE_CONFLICT");
      for (const id of ["999999", "0", "x"]) {
        const missing = await post(`/admin/activations/${id}/release`, { _csrf: s.csrf });
        expect(missing.statusCode, id).toBe(404);
      }
    });

    it("says on the dashboard and the license page when the server sends no e-mail", async () => {
      const note = "This server sends no e-mail: SMTP is not configured";
      expect((await get("/admin/")).body).not.toContain(note);
      expect((await licensePage()).body).not.toContain(note);
      const off = await h.other({ sales: SALES });
      for (const url of ["/admin/", `/admin/licenses/${encodeURIComponent(key)}`]) {
        const page = await off.inject({
          method: "GET",
          url,
          headers: { ...HTML, cookie: s.cookie },
        });
        expect(page.statusCode).toBe(200);
        expect(page.body).toContain(note);
      }
      const on = await h.other({
        sales: { ...SALES, smtp: { url: "smtp://127.0.0.1:2525" } },
      });
      const page = await on.inject({
        method: "GET",
        url: "/admin/",
        headers: { ...HTML, cookie: s.cookie },
      });
      expect(page.body).not.toContain(note);
    });

    it("shows undelivered e-mails and ignored webhook events on the dashboard as text", async () => {
      let home = await get("/admin/");
      expect(home.body).toContain("Every license e-mail was sent.");
      expect(home.body).toContain("No store webhook event was ignored.");

      const failing = await enqueueDelivery(h.t.db, key, START);
      await enqueueDelivery(h.t.db, key, START);
      await markDeliveryFailing(h.t.db, failing.id, `421 ${SCRIPT}`, later(10));
      const sent = await enqueueDelivery(h.t.db, key, START);
      await markDeliverySent(h.t.db, sent.id, START);
      const id = await h.t.db.transaction(async (tx) => {
        const claimed = (await claimWebhookEvent(tx, {
          provider: "stripe",
          eventId: "evt_x1",
          type: "checkout.session.completed",
          payload: {},
          at: START,
        }))!;
        await settleWebhookEvent(tx, claimed, {
          status: "ignored",
          reason: `unknown product ${SCRIPT}`,
          licenseKey: null,
          at: START,
        });
        return claimed;
      });

      home = await get("/admin/");
      expect(home.body).toContain("<strong>2</strong> license e-mails are not sent yet");
      expect(home.body).toContain(`<td>421 ${ESCAPED}</td>`);
      expect(home.body).toContain("2026-05-13 22:20:27 UTC");
      expect(home.body).toContain(`href="/admin/licenses/${encodeURIComponent(key)}#delivery"`);
      expect(home.body).toContain("<strong>1</strong> store webhook event was ignored.");
      expect(home.body).toContain("<code>dtlicense webhooks replay ID</code>");
      expect(home.body).toContain(`<td class="num">${id}</td>`);
      expect(home.body).toContain(`<td>unknown product ${ESCAPED}</td>`);
      expect(home.body).not.toContain(SCRIPT);
    });
  });
}
