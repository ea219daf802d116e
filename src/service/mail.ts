/**
 * The license e-mail: rendered from templates (built in, or the vendor's from
 * DATATOOLS_MAIL_TEMPLATES_DIR) with eta, HTML auto-escaped; sent over SMTP
 * with nodemailer, addresses always given as objects so no name or address
 * can add a header.
 */
import type { TEMPLATE_FILES } from "../config/sales.js";
import { type SmtpConfig, type VendorTemplates } from "../config/sales.js";
import type { ClaimedDelivery } from "../store/sales.js";

/** What a template sees as `it`. */
export interface MailData {
  readonly name: string;
  readonly email: string;
  readonly license_key: string;
  readonly tier: string;
  readonly expires_at: string;
  readonly blob: string;
  /** The attachment's file name, `<license_key>.dtlic`. */
  readonly file: string;
}

/** A rendered e-mail. */
export interface RenderedMail {
  readonly subject: string;
  readonly text: string;
  readonly html: string;
}

const BUILT_IN: Record<keyof typeof TEMPLATE_FILES, string> = {
  subject: "Your DataTools license <%= it.license_key %>",
  text: `Hello <%= it.name %>,

thank you for buying DataTools. Here is your license:

  License key: <%= it.license_key %>
  Tier:        <%= it.tier %>
  Valid until: <%= it.expires_at %>

Activate it in three steps:

1. Save the attached file <%= it.file %> (or copy the license text below into a file).
2. Run: dtlicense activate --file <%= it.file %> --name "<%= it.name %>" --email <%= it.email %>
3. Check it: dtlicense status

Your license (one line, starting with DTLIC2:):

<%= it.blob %>

The license is signed for the name and e-mail address above; give them exactly so
when you activate it. Keep this e-mail.
`,
  html: `<!doctype html>
<html><body style="font-family: sans-serif; line-height: 1.4">
<p>Hello <%= it.name %>,</p>
<p>thank you for buying DataTools. Here is your license:</p>
<table>
<tr><td>License key</td><td><code><%= it.license_key %></code></td></tr>
<tr><td>Tier</td><td><%= it.tier %></td></tr>
<tr><td>Valid until</td><td><%= it.expires_at %></td></tr>
</table>
<p>Activate it in three steps:</p>
<ol>
<li>Save the attached file <code><%= it.file %></code> (or copy the license text below into a file).</li>
<li>Run: <code>dtlicense activate --file <%= it.file %> --name "<%= it.name %>" --email <%= it.email %></code></li>
<li>Check it: <code>dtlicense status</code></li>
</ol>
<p>Your license (one line, starting with <code>DTLIC2:</code>):</p>
<pre style="white-space: pre-wrap; word-break: break-all"><%= it.blob %></pre>
<p>The license is signed for the name and e-mail address above; give them exactly so when you activate it. Keep this e-mail.</p>
</body></html>
`,
};

/** The templates to render with: the vendor's (read at start, see config/sales.ts) over the built-in ones. */
export function mailTemplates(
  vendor: VendorTemplates,
): Record<keyof typeof TEMPLATE_FILES, string> {
  return { ...BUILT_IN, ...vendor };
}

/** The data of a claimed outbox row, as templates see it. */
export function mailData(d: ClaimedDelivery): MailData {
  return {
    name: d.name,
    email: d.email,
    license_key: d.license_key,
    tier: d.tier,
    expires_at: d.expires_at.replace(/\.000Z$/, "Z"),
    blob: d.blob,
    file: `${d.license_key}.dtlic`,
  };
}

/** Renders the e-mail (eta is loaded on first use). The subject is one line. */
export async function renderMail(
  templates: Record<keyof typeof TEMPLATE_FILES, string>,
  data: MailData,
): Promise<RenderedMail> {
  const { Eta } = await import("eta");
  const plain = new Eta({ autoEscape: false, autoTrim: false });
  const html = new Eta({ autoEscape: true, autoTrim: false });
  return {
    subject: plain
      .renderString(templates.subject, data)
      .replace(/[\r\n]+/g, " ")
      .trim(),
    text: plain.renderString(templates.text, data),
    html: html.renderString(templates.html, data),
  };
}

/** An e-mail to send. */
export interface OutgoingMail {
  readonly from: { readonly name: string; readonly address: string };
  readonly to: { readonly name: string; readonly address: string };
  readonly rendered: RenderedMail;
  readonly attachment: { readonly filename: string; readonly content: string };
}

/** Sends e-mails; one interface, the SMTP implementation below. */
export interface Mailer {
  send(mail: OutgoingMail): Promise<void>;
  close(): void;
}

/** How long SMTP may take, per phase, before an attempt fails (and is retried). */
const SMTP_TIMEOUT_MS = 30_000;

/** A nodemailer SMTP transport for `smtp` (loaded on first use). */
export async function createSmtpMailer(smtp: SmtpConfig): Promise<Mailer> {
  const nodemailer = await import("nodemailer");
  const url = new URL(smtp.url);
  const user = decodeURIComponent(url.username);
  const transport = nodemailer.createTransport({
    // One connection kept open and reused while e-mails are waiting (not one per e-mail).
    pool: true,
    maxConnections: 1,
    host: url.hostname.replace(/^\[(.*)\]$/, "$1"),
    port: url.port ? Number(url.port) : url.protocol === "smtps:" ? 465 : 587,
    secure: url.protocol === "smtps:",
    ...(user !== "" ? { auth: { user, pass: smtp.password ?? "" } } : {}),
    connectionTimeout: SMTP_TIMEOUT_MS,
    greetingTimeout: SMTP_TIMEOUT_MS,
    socketTimeout: SMTP_TIMEOUT_MS,
    disableFileAccess: true,
    disableUrlAccess: true,
  });
  return {
    async send(mail) {
      await transport.sendMail({
        from: { name: mail.from.name, address: mail.from.address },
        to: [{ name: mail.to.name, address: mail.to.address }],
        subject: mail.rendered.subject,
        text: mail.rendered.text,
        html: mail.rendered.html,
        attachments: [
          {
            filename: mail.attachment.filename,
            content: mail.attachment.content,
            contentType: "text/plain; charset=utf-8",
          },
        ],
      });
    },
    close() {
      transport.close();
    },
  };
}
