// The admin console in a real browser: Debian's chromium driven by playwright-core (no browser
// download). The flow a vendor follows, the CSRF and XSS cases, and a phone-sized screen; the
// screenshots in docs/images/ come from here (written there only with UPDATE_SCREENSHOTS=1, so a
// test run leaves the checkout as it was; otherwise to a temporary folder). Without /usr/bin/chromium the suite is skipped
// locally, and fails under CI (CI set), where .ci/run installs the package.
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { insertActivation } from "../../src/store/activations.js";
import {
  claimWebhookEvent,
  enqueueDelivery,
  markDeliveryFailing,
  settleWebhookEvent,
} from "../../src/store/sales.js";
import { useHarness } from "../server/harness.js";

const CHROMIUM = "/usr/bin/chromium";
const IMAGES = process.env.UPDATE_SCREENSHOTS
  ? resolve(import.meta.dirname, "../../docs/images")
  : mkdtempSync(join(tmpdir(), "console-screenshots-"));
const XSS_NAMES = ["<script>alert(1)</script>", '"><img src=x onerror=alert(1)>'];
const run = existsSync(CHROMIUM) || Boolean(process.env.CI);

describe.skipIf(!run)("the admin console in chromium", () => {
  const h = useHarness("pglite");
  let base: string;
  let browser: BrowserContext;
  let profile: string;
  /** Alerts any page opened (an XSS would raise one) and CSP violations it reported. */
  const dialogs: string[] = [];
  const violations: string[] = [];

  beforeAll(async () => {
    base = await h.app.listen({ host: "127.0.0.1", port: 0 });
    profile = mkdtempSync(join(tmpdir(), "chromium-profile-"));
    browser = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 1200, height: 900 },
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    });
    browser.on("page", watch);
    for (const p of browser.pages()) watch(p);
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
  });
  beforeEach(async () => {
    await browser.clearCookies();
    dialogs.length = 0;
    violations.length = 0;
  });

  function watch(page: Page): void {
    page.on("dialog", (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
    page.on("console", (m) => {
      if (/Content.Security.Policy/i.test(m.text())) violations.push(m.text());
    });
  }

  async function signIn(page: Page): Promise<void> {
    await page.goto(`${base}/admin/`);
    expect(new URL(page.url()).pathname).toBe("/admin/sign-in");
    await page.getByLabel("Admin token").fill(h.token);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("heading", { name: "Dashboard" }).waitFor();
  }

  async function issue(page: Page, name: string, email: string, tier = "pro"): Promise<void> {
    await page.getByRole("navigation").getByRole("link", { name: "Issue" }).click();
    await page.getByLabel("Buyer's name").fill(name);
    await page.getByLabel("Buyer's e-mail").fill(email);
    await page.getByLabel("Tier").selectOption(tier);
    await page.getByLabel("Years").fill("1");
    await page.getByRole("button", { name: "Issue and sign" }).click();
    await page.getByText("The license was issued and signed.").waitFor();
  }

  /** A machine takes a seat of the license whose page is open, which is then reloaded. */
  async function seatTaken(page: Page, hostname: string): Promise<void> {
    const key = decodeURIComponent(new URL(page.url()).pathname.split("/")[3]!);
    await h.t.db.transaction((tx) =>
      insertActivation(tx, key, "f".repeat(64), hostname, { actor: "machine" }, h.clock.now),
    );
    await page.reload();
  }

  /** Licenses issued over the past months through the API, so the dashboard has a history. */
  async function seed(): Promise<void> {
    const buyers = [
      ["Grace Hopper", "grace@example.com", "pro"],
      ["Alan Turing", "alan@example.com", "core"],
      ["Katherine Johnson", "katherine@example.com", "lite"],
      ["Edsger Dijkstra", "edsger@example.com", "core"],
      ["Barbara Liskov", "barbara@example.com", "pro"],
      ["Donald Knuth", "donald@example.com", "lite"],
    ] as const;
    const start = h.clock.now;
    let i = 0;
    for (let month = 11; month >= 0; month--) {
      for (let k = 0; k < 1 + ((month * 7) % 4); k++) {
        const [name, email, tier] = buyers[i++ % buyers.length]!;
        h.clock.now = new Date(start.getTime() - month * 30 * 86_400_000 - k * 3_600_000);
        await h.app.inject({
          method: "POST",
          url: "/v1/licenses",
          headers: { authorization: `Bearer ${h.token}`, "content-type": "application/json" },
          payload: { name, email: email.replace("@", `+${i}@`), tier },
        });
      }
    }
    // Two bought almost a year ago: they expire within 30 days.
    let last = "";
    for (const [n, [name, email, tier]] of [buyers[3]!, buyers[4]!].entries()) {
      h.clock.now = new Date(start.getTime() - (345 - n * 5) * 86_400_000);
      const res = await h.app.inject({
        method: "POST",
        url: "/v1/licenses",
        headers: { authorization: `Bearer ${h.token}`, "content-type": "application/json" },
        payload: { name, email, tier },
      });
      last = (res.json() as { license_key: string }).license_key;
    }
    h.clock.now = start;
    // One license e-mail the SMTP server keeps refusing, and a store event for an unknown product.
    const mail = await enqueueDelivery(h.t.db, last, start);
    await markDeliveryFailing(
      h.t.db,
      mail.id,
      "Can't send mail - all recipients were rejected: 550 5.1.1 <barbara@example.com>: Recipient address rejected: User unknown",
      new Date(start.getTime() + 8 * 60_000),
    );
    await h.t.db.transaction(async (tx) => {
      const id = (await claimWebhookEvent(tx, {
        provider: "stripe",
        eventId: "evt_1QdemoUnknownProduct",
        type: "checkout.session.completed",
        payload: {},
        at: start,
      }))!;
      await settleWebhookEvent(tx, id, {
        status: "ignored",
        reason:
          "unknown product price_1QteamYearly: add it to the stripe products (DATATOOLS_PRODUCTS_FILE), then replay this event",
        licenseKey: null,
        at: start,
      });
    });
  }

  it("signs in, issues a license, finds it by e-mail, revokes it with a reason and signs out", async () => {
    await seed();
    mkdirSync(IMAGES, { recursive: true });
    const page = await browser.newPage();
    await signIn(page);
    // The stylesheet and the script are files the policy allows: the copy button shows.
    await page.screenshot({ path: join(IMAGES, "console-dashboard.png"), fullPage: true });
    await expect(
      page
        .getByRole("heading", { name: "Undelivered e-mails" })
        .locator("xpath=following-sibling::p[1]")
        .textContent(),
    ).resolves.toContain("1 license e-mail is not sent yet");
    await page.getByText("dtlicense webhooks replay ID").waitFor();
    const expiring = page
      .getByRole("heading", { name: "Expiring within 30 days" })
      .locator("xpath=following-sibling::div[1]//tbody/tr");
    await expect(expiring.count()).resolves.toBe(2);
    await expect(page.locator("svg[role=img] desc").textContent()).resolves.toMatch(
      /2026-05: \d+ \(lite \d+, core \d+, pro \d+\)/,
    );

    await page.getByRole("navigation").getByRole("link", { name: "Issue" }).click();
    await page.getByLabel("Buyer's name").fill("Ada Lovelace");
    await page.getByLabel("Buyer's e-mail").fill("ada@example.com");
    await page.getByLabel("Tier").selectOption("pro");
    await page.screenshot({ path: join(IMAGES, "console-issue.png") });
    await page.getByRole("button", { name: "Issue and sign" }).click();
    await page.getByText("The license was issued and signed.").waitFor();

    await page.getByRole("navigation").getByRole("link", { name: "Licenses" }).click();
    await page.getByLabel("Exact e-mail").fill("ADA@example.com");
    await page.getByRole("button", { name: "Search" }).click();
    const rows = page.locator("tbody tr");
    await expect(rows.count()).resolves.toBe(1);
    await page.getByRole("link", { name: "Ada Lovelace" }).click();
    await page.getByRole("heading", { name: /Ada Lovelace/ }).waitFor();
    await expect(page.locator("#blob").textContent()).resolves.toMatch(/^DTLIC2:/);
    await expect(page.getByRole("button", { name: "Copy the blob" }).isVisible()).resolves.toBe(
      true,
    );
    await seatTaken(page, "ada-laptop");
    await page.getByRole("heading", { name: "Seats" }).waitFor();
    await expect(page.locator("#seats + p").textContent()).resolves.toMatch(
      /No seat limit;\s+1 held now\./,
    );
    await page.screenshot({ path: join(IMAGES, "console-license.png"), fullPage: true });
    await page.getByRole("button", { name: "Release the seat of ada-laptop" }).click();
    await page.getByText("The seat was released.").waitFor();
    await page.getByText("No machine holds a seat.").waitFor();
    await page.getByLabel(/Seat limit/).fill("2");
    await page.getByRole("button", { name: "Change the limit" }).click();
    await page.getByText("The seat limit was changed.").waitFor();
    await page.getByRole("button", { name: "Re-deliver e-mail" }).click();
    await page.getByText("The license e-mail was queued again").waitFor();
    await expect(page.locator("p.delivery").textContent()).resolves.toMatch(/is queued/);

    await page.getByRole("link", { name: "Revoke…" }).click();
    await page.getByLabel(/Reason/).fill("refunded on request");
    await page.getByRole("button", { name: "Continue" }).click();
    await page.getByText("Please confirm:").waitFor();
    await page.getByRole("button", { name: "Yes, revoke it" }).click();
    await page.getByText("The license was revoked.").waitFor();
    const timeline = page.locator("ol.timeline");
    await expect(timeline.textContent()).resolves.toContain("revoke by test admin");
    await expect(timeline.textContent()).resolves.toContain("Reason: refunded on request");

    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByText("You are signed out.").waitFor();
    await page.goto(`${base}/admin/licenses`);
    expect(new URL(page.url()).pathname).toBe("/admin/sign-in");
    expect(dialogs).toEqual([]);
    expect(violations).toEqual([]);
    await page.close();
  }, 180_000);

  it("shows buyer names that look like HTML as text and runs none of it", async () => {
    const page = await browser.newPage();
    await signIn(page);
    for (const [i, name] of XSS_NAMES.entries()) {
      await issue(page, name, `x${i}@example.com`);
      await expect(page.locator("h1").textContent()).resolves.toContain(name);
      await expect(page.locator("img[src=x]").count()).resolves.toBe(0);
    }
    await page.getByRole("navigation").getByRole("link", { name: "Licenses" }).click();
    for (const name of XSS_NAMES) {
      await expect(page.getByRole("link", { name, exact: true }).count()).resolves.toBe(1);
    }
    expect(dialogs).toEqual([]);
    await page.close();
  }, 120_000);

  it("refuses a form whose CSRF value was tampered with, and changes nothing", async () => {
    const page = await browser.newPage();
    await signIn(page);
    await page.getByRole("navigation").getByRole("link", { name: "Issue" }).click();
    await page.getByLabel("Buyer's name").fill("Mallory");
    await page.getByLabel("Buyer's e-mail").fill("mallory@example.com");
    await page
      .locator('input[name="_csrf"]')
      .last()
      .evaluate((el) => {
        (el as unknown as { value: string }).value = "forged";
      });
    await page.getByRole("button", { name: "Issue and sign" }).click();
    await page.getByRole("heading", { name: "Form refused" }).waitFor();
    expect(await h.count("licenses")).toBe(0);
    await page.close();
  }, 120_000);

  it("fits a 375 px wide phone screen without sideways scrolling", async () => {
    await seed();
    const page = await browser.newPage();
    await page.setViewportSize({ width: 375, height: 740 });
    await signIn(page);
    const widths = async () =>
      Number(await page.evaluate("document.documentElement.scrollWidth - window.innerWidth"));
    expect(await widths()).toBeLessThanOrEqual(0);
    await issue(page, "Ada Lovelace", "ada@example.com");
    await seatTaken(page, "a-rather-long-build-machine-name.ci.example.com");
    await page.getByRole("heading", { name: "Seats" }).waitFor();
    expect(await widths()).toBeLessThanOrEqual(0);
    await page.getByRole("navigation").getByRole("link", { name: "Licenses" }).click();
    expect(await widths()).toBeLessThanOrEqual(0);
    await page.screenshot({ path: join(IMAGES, "console-phone.png") });
    await page.close();
  }, 180_000);
});
