// The admin console over HTTP (fastify inject), on PGlite and, with TEST_DATABASE_URL, PostgreSQL:
// sessions, CSRF, escaping, the security headers, and that a cookie never authorises /v1.
import { describe, expect, it } from "vitest";
import { RECORD_FIELDS } from "../../src/core/license.js";
import { mintLicense } from "../../src/core/mint.js";
import { START, json, signer, useHarness } from "../server/harness.js";
import { backendNames } from "../store/databases.js";
import { FORM, HTML, csrfOf, form, setCookie, signIn as signInAs } from "./support.js";

const XSS_NAMES = ["<script>alert(1)</script>", '"><img src=x onerror=alert(1)>'];

for (const backend of backendNames()) {
  describe(`the admin console (${backend})`, () => {
    const h = useHarness(backend);
    const signIn = (token = h.token) => signInAs(h, token);

    async function issue(
      s: { cookie: string; csrf: string },
      name: string,
      email = "ada@example.com",
    ) {
      const res = await h.app.inject({
        method: "POST",
        url: "/admin/licenses",
        headers: { ...FORM, cookie: s.cookie },
        payload: form({ _csrf: s.csrf, name, email, tier: "pro", years: "1" }),
      });
      expect(res.statusCode).toBe(303);
      return res.headers.location as string;
    }

    it("sends a page request without a session to sign-in, and anything else gets 401", async () => {
      for (const url of ["/admin/", "/admin/licenses", "/admin/tokens", "/admin/import"]) {
        const page = await h.app.inject({ method: "GET", url, headers: HTML });
        expect(page.statusCode).toBe(303);
        expect(page.headers.location).toBe("/admin/sign-in");
        const data = await h.app.inject({
          method: "GET",
          url,
          headers: { accept: "application/json" },
        });
        expect(data.statusCode).toBe(401);
        expect(json(data)).toMatchObject({ error: { code: "AUTH_MISSING" } });
      }
      const post = await h.app.inject({
        method: "POST",
        url: "/admin/licenses",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        payload: form({ name: "x", email: "x@example.com", tier: "pro" }),
      });
      expect(post.statusCode).toBe(401);
      expect(await h.count("licenses")).toBe(0);
    });

    it("signs in with the token field, sets a strict HttpOnly cookie and sends the security headers", async () => {
      const page = await h.app.inject({ method: "GET", url: "/admin/sign-in", headers: HTML });
      expect(page.body).toContain('name="token"');
      const csp = String(page.headers["content-security-policy"]);
      expect(csp).toContain("frame-ancestors 'none'");
      expect(csp).toContain("script-src 'self'");
      expect(csp).not.toContain("unsafe-inline");
      expect(page.headers["x-content-type-options"]).toBe("nosniff");
      expect(page.headers["referrer-policy"]).toBe("same-origin");
      const pre = page.cookies.find((c) => c.name === "dtl_console_signin")!;
      const res = await h.app.inject({
        method: "POST",
        url: "/admin/sign-in",
        headers: { ...FORM, cookie: `dtl_console_signin=${pre.value}` },
        payload: form({ _csrf: csrfOf(page.body), token: h.token }),
      });
      const c = res.cookies.find((x) => x.name === "dtl_console")!;
      expect(c).toMatchObject({ httpOnly: true, sameSite: "Strict", path: "/admin" });
      expect(c.secure).toBeFalsy();
      expect(await h.count("admin_sessions")).toBe(1);
    });

    it("marks the cookie Secure when a trusted proxy says the request came over TLS", async () => {
      const page = await h.app.inject({
        method: "GET",
        url: "/admin/sign-in",
        headers: { ...HTML, "x-forwarded-proto": "https" },
      });
      expect(page.cookies.find((c) => c.name === "dtl_console_signin")!.secure).toBe(true);
    });

    it("does not mark the cookie Secure when an untrusted peer claims TLS", async () => {
      const page = await h.app.inject({
        method: "GET",
        url: "/admin/sign-in",
        remoteAddress: "203.0.113.9",
        headers: { ...HTML, "x-forwarded-proto": "https" },
      });
      expect(page.cookies.find((c) => c.name === "dtl_console_signin")!.secure).toBeFalsy();
    });

    it("ends a session 12 hours after sign-in however busy it was", async () => {
      const s = await signIn();
      for (let minutes = 20; minutes < 12 * 60; minutes += 20) {
        h.clock.now = new Date(START.getTime() + minutes * 60_000);
        const res = await h.app.inject({
          method: "GET",
          url: "/admin/",
          headers: { ...HTML, cookie: s.cookie },
        });
        expect(res.statusCode).toBe(200);
      }
      h.clock.now = new Date(START.getTime() + 12 * 3_600_000);
      const over = await h.app.inject({
        method: "GET",
        url: "/admin/",
        headers: { ...HTML, cookie: s.cookie },
      });
      expect(over.statusCode).toBe(303);
    });

    it("answers an unknown license with a 404 page", async () => {
      const s = await signIn();
      const res = await h.app.inject({
        method: "GET",
        url: "/admin/licenses/DT1-PRO-00000000-00000000",
        headers: { ...HTML, cookie: s.cookie },
      });
      expect(res.statusCode).toBe(404);
      expect(res.headers["content-type"]).toMatch(/^text\/html/);
      expect(res.body).toContain("NOT_FOUND");
    });

    it("refuses a wrong token, a missing sign-in CSRF value, and slows repeated failures", async () => {
      // An app of its own: the limiter is per app (per process), and this one gets slowed.
      const app = await h.other();
      const page = await app.inject({ method: "GET", url: "/admin/sign-in", headers: HTML });
      const pre = setCookie(page, "dtl_console_signin")!;
      const headers = { ...FORM, cookie: `dtl_console_signin=${pre}` };
      const noCsrf = await app.inject({
        method: "POST",
        url: "/admin/sign-in",
        headers,
        payload: form({ token: h.token }),
      });
      expect(noCsrf.statusCode).toBe(403);
      const statuses: number[] = [];
      for (let i = 0; i < 5; i++) {
        const res = await app.inject({
          method: "POST",
          url: "/admin/sign-in",
          headers,
          payload: form({ _csrf: pre, token: "dtl_admin_" + "x".repeat(43) }),
        });
        statuses.push(res.statusCode);
      }
      expect(statuses).toEqual([401, 401, 401, 401, 429]);
      // Even the right token waits while the address is slowed.
      const right = await app.inject({
        method: "POST",
        url: "/admin/sign-in",
        headers,
        payload: form({ _csrf: pre, token: h.token }),
      });
      expect(right.statusCode).toBe(429);
      expect(right.headers["retry-after"]).toBeDefined();
      expect(await h.count("admin_sessions")).toBe(0);
    });

    it("refuses a form without or with a wrong _csrf with 403 and changes nothing", async () => {
      const s = await signIn();
      const location = await issue(s, "Ada Lovelace");
      const key = decodeURIComponent(location.split("/")[3]!.split("?")[0]!);
      const before = await h.count("events");
      for (const csrf of [
        undefined,
        "wrong",
        s.csrf.slice(0, -1) + (s.csrf.endsWith("A") ? "B" : "A"),
      ]) {
        const fields: Record<string, string> = { reason: "chargeback", confirm: "yes" };
        if (csrf !== undefined) fields._csrf = csrf;
        const res = await h.app.inject({
          method: "POST",
          url: `/admin/licenses/${key}/revoke`,
          headers: { ...FORM, cookie: s.cookie },
          payload: form(fields),
        });
        expect(res.statusCode).toBe(403);
        const issued = await h.app.inject({
          method: "POST",
          url: "/admin/licenses",
          headers: { ...FORM, cookie: s.cookie },
          payload: form({
            ...(csrf ? { _csrf: csrf } : {}),
            name: "Eve",
            email: "eve@example.com",
            tier: "pro",
          }),
        });
        expect(issued.statusCode).toBe(403);
      }
      expect(await h.count("licenses")).toBe(1);
      expect(await h.count("events")).toBe(before);
      const one = await h.app.inject({
        method: "GET",
        url: `/v1/licenses/${key}`,
        headers: { authorization: `Bearer ${h.token}` },
      });
      expect(json(one)).toMatchObject({ status: "active" });
    });

    it("issues, revokes after a confirmation step, and records the token's name as the actor", async () => {
      const s = await signIn();
      const location = await issue(s, "Ada Lovelace");
      expect(location).toMatch(/\?done=issue$/);
      const key = decodeURIComponent(location.split("/")[3]!.split("?")[0]!);
      const noReason = await h.app.inject({
        method: "POST",
        url: `/admin/licenses/${key}/revoke`,
        headers: { ...FORM, cookie: s.cookie },
        payload: form({ _csrf: s.csrf, reason: "  " }),
      });
      expect(noReason.statusCode).toBe(400);
      const confirm = await h.app.inject({
        method: "POST",
        url: `/admin/licenses/${key}/revoke`,
        headers: { ...FORM, cookie: s.cookie },
        payload: form({ _csrf: s.csrf, reason: "refund" }),
      });
      expect(confirm.statusCode).toBe(200);
      expect(confirm.body).toContain('name="confirm" value="yes"');
      expect(await h.count("events")).toBe(1);
      const done = await h.app.inject({
        method: "POST",
        url: `/admin/licenses/${key}/revoke`,
        headers: { ...FORM, cookie: s.cookie },
        payload: form({ _csrf: s.csrf, reason: "refund", confirm: "yes" }),
      });
      expect(done.statusCode).toBe(303);
      const events = await h.app.inject({
        method: "GET",
        url: `/v1/licenses/${key}/events`,
        headers: { authorization: `Bearer ${h.token}` },
      });
      expect(
        json<{ events: { action: string; actor: string; reason: string | null }[] }>(events).events,
      ).toMatchObject([
        { action: "issue", actor: "test admin" },
        { action: "revoke", actor: "test admin", reason: "refund" },
      ]);
      const page = await h.app.inject({
        method: "GET",
        url: done.headers.location as string,
        headers: { ...HTML, cookie: s.cookie },
      });
      expect(page.body).toContain("The license was revoked.");
      expect(page.body).toContain("revoked");
    });

    it("shows the issue form again with the service's code for each bad input, writing nothing", async () => {
      const s = await signIn();
      const good = { name: "Ada Lovelace", email: "ada@example.com", tier: "pro", years: "1" };
      const cases: [Record<string, string>, string][] = [
        [{ email: "not-an-email" }, "EMAIL_INVALID"],
        [{ tier: "gold" }, "TIER_UNKNOWN"],
        [{ years: "abc" }, "YEARS_INVALID"],
        [{ years: "0" }, "YEARS_INVALID"],
        [{ name: "" }, "NAME_INVALID"],
      ];
      for (const [bad, code] of cases) {
        const res = await h.app.inject({
          method: "POST",
          url: "/admin/licenses",
          headers: { ...FORM, cookie: s.cookie },
          payload: form({ _csrf: s.csrf, ...good, ...bad }),
        });
        expect(res.statusCode, code).toBe(400);
        expect(res.body).toContain(`[${code}]`);
        expect(res.body).toContain('role="alert"');
      }
      const renew = await h.app.inject({
        method: "POST",
        url: "/admin/licenses/DT1-PRO-00000000-00000000/renew",
        headers: { ...FORM, cookie: s.cookie },
        payload: form({ _csrf: s.csrf, years: "1" }),
      });
      expect(renew.statusCode).toBe(404);
      expect(await h.count("licenses")).toBe(0);
      expect(await h.count("events")).toBe(0);
    });

    it("pages the license list newest first, 25 at a time, keeping the search", async () => {
      const s = await signIn();
      for (let i = 0; i < 27; i++) {
        await h.app.inject({
          method: "POST",
          url: "/v1/licenses",
          headers: { authorization: `Bearer ${h.token}`, "content-type": "application/json" },
          payload: { name: `Buyer ${i}`, email: `b${i}@example.com`, tier: "core" },
        });
      }
      const first = await h.app.inject({
        method: "GET",
        url: "/admin/licenses?tier=core",
        headers: { ...HTML, cookie: s.cookie },
      });
      const names = (html: string) => [...html.matchAll(/>(Buyer \d+)<\/a>/g)].map((m) => m[1]);
      expect(names(first.body)).toHaveLength(25);
      expect(names(first.body)[0]).toBe("Buyer 26");
      const next = /href="(\/admin\/licenses\?[^"]+)" rel="next"/
        .exec(first.body)![1]!
        .replace(/&amp;/g, "&");
      expect(next).toContain("tier=core");
      const second = await h.app.inject({
        method: "GET",
        url: next,
        headers: { ...HTML, cookie: s.cookie },
      });
      expect(names(second.body)).toEqual(["Buyer 1", "Buyer 0"]);
      expect(second.body).not.toContain('rel="next"');
    });

    it("renews into a new license, shows the chain, and downloads the blob as a .dtlic file", async () => {
      const s = await signIn();
      const location = await issue(s, "Ada Lovelace");
      const key = decodeURIComponent(location.split("/")[3]!.split("?")[0]!);
      const renewed = await h.app.inject({
        method: "POST",
        url: `/admin/licenses/${key}/renew`,
        headers: { ...FORM, cookie: s.cookie },
        payload: form({ _csrf: s.csrf, years: "2" }),
      });
      expect(renewed.statusCode).toBe(303);
      expect(renewed.headers.location).toMatch(/\?done=renew$/);
      const newKey = decodeURIComponent(
        (renewed.headers.location as string).split("/")[3]!.split("?")[0]!,
      );
      expect(newKey).not.toBe(key);
      const page = await h.app.inject({
        method: "GET",
        url: `/admin/licenses/${newKey}`,
        headers: { ...HTML, cookie: s.cookie },
      });
      expect(page.body).toContain(`${key}</code></a>`);
      expect(page.body).toContain(`${newKey}</code> (this license)`);
      const file = await h.app.inject({
        method: "GET",
        url: `/admin/licenses/${newKey}/download`,
        headers: { cookie: s.cookie },
      });
      expect(file.headers["content-disposition"]).toBe(`attachment; filename="${newKey}.dtlic"`);
      expect(file.body).toMatch(/^DTLIC2:\S+\n$/);
      const again = await h.app.inject({
        method: "POST",
        url: `/admin/licenses/${key}/renew`,
        headers: { ...FORM, cookie: s.cookie },
        payload: form({ _csrf: s.csrf, years: "1" }),
      });
      expect(again.statusCode).toBe(409);
      expect(again.body).toContain("LICENSE_STATE_CONFLICT");
      expect(await h.count("licenses")).toBe(2);
    });

    it("renders buyer names and reasons that look like HTML as text", async () => {
      const s = await signIn();
      for (const name of XSS_NAMES) {
        const location = await issue(s, name, `x${XSS_NAMES.indexOf(name)}@example.com`);
        const key = decodeURIComponent(location.split("/")[3]!.split("?")[0]!);
        await h.app.inject({
          method: "POST",
          url: `/admin/licenses/${key}/suspend`,
          headers: { ...FORM, cookie: s.cookie },
          payload: form({ _csrf: s.csrf, reason: name, confirm: "yes" }),
        });
        const page = await h.app.inject({
          method: "GET",
          url: `/admin/licenses/${key}`,
          headers: { ...HTML, cookie: s.cookie },
        });
        expect(page.statusCode).toBe(200);
        expect(page.body).not.toContain(name);
        expect(page.body).not.toMatch(/<script>alert|<img src=x/);
        expect(page.body).toContain("&lt;");
      }
      const list = await h.app.inject({
        method: "GET",
        url: `/admin/licenses?q=${encodeURIComponent("<script>")}`,
        headers: { ...HTML, cookie: s.cookie },
      });
      expect(list.body).not.toMatch(/<script>alert|<img src=x/);
      expect(list.body).toContain("&lt;script&gt;alert(1)&lt;/script&gt;");
    });

    it("never lets the console cookie authorise the JSON API", async () => {
      const s = await signIn();
      const res = await h.app.inject({
        method: "POST",
        url: "/v1/licenses",
        headers: { cookie: s.cookie, "content-type": "application/json" },
        payload: { name: "Eve", email: "eve@example.com", tier: "pro" },
      });
      expect(res.statusCode).toBe(401);
      const list = await h.app.inject({
        method: "GET",
        url: "/v1/licenses",
        headers: { cookie: s.cookie },
      });
      expect(list.statusCode).toBe(401);
      expect(await h.count("licenses")).toBe(0);
    });

    it("ends the sessions of a revoked token, including through the API", async () => {
      const s = await signIn();
      const created = await h.app.inject({
        method: "POST",
        url: "/v1/admin/tokens",
        headers: { authorization: `Bearer ${h.token}`, "content-type": "application/json" },
        payload: { name: "phone" },
      });
      const other = json<{ id: number; token: string }>(created);
      const s2 = await signIn(other.token);
      // Revoked in the console: its page answers with a redirect to sign-in.
      const revoke = await h.app.inject({
        method: "POST",
        url: `/admin/tokens/${other.id}/revoke`,
        headers: { ...FORM, cookie: s.cookie },
        payload: form({ _csrf: s.csrf }),
      });
      expect(revoke.statusCode).toBe(303);
      const tokens = await h.app.inject({
        method: "GET",
        url: "/admin/tokens",
        headers: { ...HTML, cookie: s.cookie },
      });
      expect(tokens.body).toContain("ended (token revoked)");
      expect(tokens.body).toContain("open until");
      const gone = await h.app.inject({
        method: "GET",
        url: "/admin/",
        headers: { ...HTML, cookie: s2.cookie },
      });
      expect(gone.statusCode).toBe(303);
      expect(gone.headers.location).toBe("/admin/sign-in?done=expired");
      // Revoked through the API: the next console request has no session either.
      await h.app.inject({
        method: "POST",
        url: "/v1/admin/tokens/test%20admin/revoke",
        headers: { authorization: `Bearer ${h.token}` },
      });
      const mine = await h.app.inject({
        method: "GET",
        url: "/admin/",
        headers: { ...HTML, cookie: s.cookie },
      });
      expect(mine.statusCode).toBe(303);
    });

    it("ends a session after 30 idle minutes and signs out", async () => {
      const s = await signIn();
      await h.app.inject({
        method: "GET",
        url: "/admin/licenses",
        headers: { ...HTML, cookie: s.cookie },
      });
      // The request log names the session's token, never the cookie.
      const line = h.logs
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .find((l) => l.route === "/admin/licenses");
      expect(line).toMatchObject({ actor: "test admin", status: 200 });
      expect(h.logs.join("\n")).not.toContain(s.cookie.split("=")[1]!);
      h.clock.now = new Date(h.clock.now.getTime() + 29 * 60_000);
      const alive = await h.app.inject({
        method: "GET",
        url: "/admin/",
        headers: { ...HTML, cookie: s.cookie },
      });
      expect(alive.statusCode).toBe(200);
      h.clock.now = new Date(h.clock.now.getTime() + 31 * 60_000);
      const idle = await h.app.inject({
        method: "GET",
        url: "/admin/",
        headers: { ...HTML, cookie: s.cookie },
      });
      expect(idle.statusCode).toBe(303);
      const s2 = await signIn();
      const out = await h.app.inject({
        method: "POST",
        url: "/admin/sign-out",
        headers: { ...FORM, cookie: s2.cookie },
        payload: form({ _csrf: s2.csrf }),
      });
      expect(out.statusCode).toBe(303);
      const after = await h.app.inject({
        method: "GET",
        url: "/admin/",
        headers: { ...HTML, cookie: s2.cookie },
      });
      expect(after.statusCode).toBe(303);
    });

    it("shows the dashboard's counts and a chart with its numbers as text", async () => {
      const s = await signIn();
      await issue(s, "Ada Lovelace");
      const page = await h.app.inject({
        method: "GET",
        url: "/admin/",
        headers: { ...HTML, cookie: s.cookie },
      });
      expect(page.body).toContain("<svg");
      // No inline script or style for the policy to allow: only the files under /admin/assets/.
      expect(page.body).not.toMatch(/<script(?![^>]*\bsrc="\/admin\/assets\/)/);
      expect(page.body).not.toMatch(/<style|\sstyle=|\son[a-z]+=/);
      const js = await h.app.inject({ method: "GET", url: "/admin/assets/console.js" });
      expect(js.headers["content-type"]).toMatch(/^text\/javascript/);
      expect(page.body).toContain("2026-05: 1 (lite 0, core 0, pro 1)");
      expect(page.body).toContain("signed with key");
    });

    it("imports an uploaded issuance log and reports each rejected line", async () => {
      const s = await signIn();
      const location = await issue(s, "Ada Lovelace");
      const key = decodeURIComponent(location.split("/")[3]!.split("?")[0]!);
      const l = json<Record<string, string>>(
        await h.app.inject({
          method: "GET",
          url: `/v1/licenses/${key}`,
          headers: { authorization: `Bearer ${h.token}` },
        }),
      );
      const record = JSON.stringify({
        license_key: l.license_key,
        name: l.name,
        email: l.email,
        tier: l.tier,
        issued_at: l.issued_at,
        expires_at: l.expires_at,
        blob: l.blob,
      });
      const fresh = mintLicense(
        { name: "Grace Hopper", email: "grace@example.com", tier: "core", years: 1 },
        signer,
        h.clock.now,
      );
      const freshRecord = JSON.stringify({
        ...Object.fromEntries(RECORD_FIELDS.map((f) => [f, fresh.payload[f]])),
        blob: fresh.blob,
      });
      const boundary = "----dtl0123";
      const body =
        `--${boundary}\r\nContent-Disposition: form-data; name="_csrf"\r\n\r\n${s.csrf}\r\n` +
        `--${boundary}\r\nContent-Disposition: form-data; name="log"; filename="issued.jsonl"\r\n` +
        `Content-Type: application/octet-stream\r\n\r\n${record}\nnot json\n${freshRecord}\n\r\n--${boundary}--\r\n`;
      const res = await h.app.inject({
        method: "POST",
        url: "/admin/import",
        headers: {
          ...HTML,
          cookie: s.cookie,
          "content-type": `multipart/form-data; boundary=${boundary}`,
        },
        payload: body,
      });
      expect(res.statusCode).toBe(200);
      expect(res.body).toMatch(/Imported: <strong>1<\/strong>/);
      expect(res.body).toMatch(/Already present: <strong>1<\/strong>/);
      expect(res.body).toMatch(/Rejected: <strong>1<\/strong>/);
      const rows = [
        ...res.body.matchAll(/<tr><td class="num">(\d+)<\/td>\s*<td>(?:<strong>)?([a-z ]+)/g),
      ].map((m) => [Number(m[1]), m[2]]);
      expect(rows).toEqual([
        [1, "already present"],
        [2, "rejected"],
        [3, "imported"],
      ]);
      expect(res.body).toContain("REQUEST_INVALID");
      expect(await h.count("licenses")).toBe(2);
    });
  });
}
