// Shared set-up for the console tests over inject(): request headers, form bodies, sign-in.
import type { LightMyRequestResponse } from "fastify";
import { expect } from "vitest";
import type { Harness } from "../server/harness.js";

/** What a browser asks for when it loads a page. */
export const HTML = { accept: "text/html,application/xhtml+xml" };
/** What a browser sends when it posts a form. */
export const FORM = { "content-type": "application/x-www-form-urlencoded", ...HTML };

/** A signed-in console session: its cookie header and its CSRF secret. */
export interface Session {
  cookie: string;
  csrf: string;
}

/** The value of the cookie `name` a response set, or undefined. */
export function setCookie(res: LightMyRequestResponse, name: string): string | undefined {
  return res.cookies.find((c) => c.name === name)?.value;
}

/** The `_csrf` value of the first form in a page. */
export function csrfOf(html: string): string {
  const m = /name="_csrf" value="([^"]+)"/.exec(html);
  if (!m) throw new Error("no _csrf field in the page");
  return m[1]!;
}

/** A URL-encoded form body. */
export const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();

/** Signs in to the harness's console with `token`, checking each step; the new session. */
export async function signIn(h: Harness, token = h.token): Promise<Session> {
  const page = await h.app.inject({ method: "GET", url: "/admin/sign-in", headers: HTML });
  expect(page.statusCode).toBe(200);
  const pre = setCookie(page, "dtl_console_signin")!;
  const res = await h.app.inject({
    method: "POST",
    url: "/admin/sign-in",
    headers: { ...FORM, cookie: `dtl_console_signin=${pre}` },
    payload: form({ _csrf: csrfOf(page.body), token }),
  });
  expect(res.statusCode).toBe(303);
  expect(res.headers.location).toBe("/admin/");
  const cookie = `dtl_console=${setCookie(res, "dtl_console")!}`;
  const home = await h.app.inject({ method: "GET", url: "/admin/", headers: { ...HTML, cookie } });
  expect(home.statusCode).toBe(200);
  return { cookie, csrf: csrfOf(home.body) };
}
