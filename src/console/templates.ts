/**
 * The console's pages as eta templates. `<%= … %>` escapes (autoEscape is on);
 * the only raw output, `<%~ … %>`, is the layout's `it.body` (a page this
 * module rendered) and `it.chart` / `it.swatches` (SVG built by chart.ts from
 * numbers and escaped labels). Kept as strings so the bundled and packaged builds carry
 * them without files beside them.
 */

const csrf = `<input type="hidden" name="_csrf" value="<%= it.csrf %>">`;

export const TEMPLATES: Readonly<Record<string, string>> = {
  layout: `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title><%= it.title %> · datatools-license console</title>
<link rel="stylesheet" href="/admin/assets/console.css">
<script src="/admin/assets/console.js" defer></script>
</head>
<body>
<a class="skip" href="#main">Skip to content</a>
<% if (it.session) { %>
<header class="top">
<nav aria-label="Console">
<% for (const [href, label, key] of [["/admin/", "Dashboard", "dashboard"], ["/admin/licenses", "Licenses", "licenses"], ["/admin/licenses/new", "Issue", "issue"], ["/admin/import", "Import", "import"], ["/admin/tokens", "Tokens", "tokens"]]) { %>
<a href="<%= href %>"<% if (it.nav === key) { %> aria-current="page"<% } %>><%= label %></a>
<% } %>
</nav>
<form method="post" action="/admin/sign-out">${csrf}
<span class="muted">Signed in as <strong><%= it.session.tokenName %></strong></span>
<button class="secondary" type="submit">Sign out</button>
</form>
</header>
<% } %>
<main id="main">
<% if (it.notice) { %><p class="notice" role="status"><%= it.notice %></p><% } %>
<% if (it.error) { %><p class="error" role="alert"><%= it.error %></p><% } %>
<%~ it.body %>
</main>
</body>
</html>
`,

  signin: `<div class="signin">
<h1>Sign in to the license console</h1>
<form method="post" action="/admin/sign-in">
${csrf}
<label for="token">Admin token</label>
<input id="token" name="token" type="password" autocomplete="current-password" required autofocus
  aria-describedby="token-help">
<p id="token-help" class="muted">A token starting <code>dtl_admin_</code>: the server's
<code>admin-token</code> file, or one made with <code>dtlicense admin token create</code>.</p>
<button type="submit">Sign in</button>
</form>
</div>
`,

  dashboard: `<h1>Dashboard</h1>
<h2>Licenses by state</h2>
<div class="cards">
<div class="card"><div class="n"><%= it.d.counts.total %></div>total</div>
<% for (const s of it.states) { %>
<div class="card"><div class="n"><%= it.d.counts.by_state[s] %></div><a href="/admin/licenses?state=<%= s %>"><%= s %></a></div>
<% } %>
</div>
<h2>Licenses by tier</h2>
<div class="cards">
<% for (const t of it.tiers) { %>
<div class="card"><div class="n"><%= it.d.counts.by_tier[t] %></div><a href="/admin/licenses?tier=<%= t %>"><%= t %></a></div>
<% } %>
</div>
<h2 id="chart-title">Issued per month, last 12 months</h2>
<figure class="chart">
<%~ it.chart %>
<ul class="legend" aria-hidden="true">
<% for (const [i, t] of it.tiers.entries()) { %><li><%~ it.swatches[i] %><%= t %></li><% } %>
</ul>
<figcaption>
<details>
<summary>The numbers as a table</summary>
<div class="scroll"><table>
<caption class="visually-hidden">Licenses issued per month by tier</caption>
<thead><tr><th scope="col">Month</th><% for (const t of it.tiers) { %><th scope="col" class="num"><%= t %></th><% } %><th scope="col" class="num">total</th></tr></thead>
<tbody>
<% for (const m of it.d.months) { %>
<tr><th scope="row"><%= m.month %></th><% for (const t of it.tiers) { %><td class="num"><%= m.by_tier[t] %></td><% } %><td class="num"><%= m.total %></td></tr>
<% } %>
</tbody>
</table></div>
</details>
</figcaption>
</figure>
<h2>Expiring within <%= it.expiringDays %> days</h2>
<% if (it.d.expiring.length === 0) { %>
<p>No active license expires within <%= it.expiringDays %> days.</p>
<% } else { %>
<%~ include("@table", { licenses: it.d.expiring, f: it.f }) %>
<% if (it.d.moreExpiring) { %><p><a href="/admin/licenses?state=active&amp;expiring=<%= it.expiringDays %>">All licenses expiring within <%= it.expiringDays %> days</a></p><% } %>
<% } %>
<h2>Undelivered e-mails</h2>
<% if (it.deliveryOff) { %><p class="error" role="note">This server sends no e-mail: SMTP is not configured (<code>SMTP_URL</code>, <code>DATATOOLS_MAIL_FROM</code>; see docs/SELLING.md). License e-mails wait in the outbox until it is.</p><% } %>
<% if (it.d.delivery.unsent === 0) { %>
<p>Every license e-mail was sent.</p>
<% } else { %>
<p><strong><%= it.d.delivery.unsent %></strong> license e-mail<%= it.d.delivery.unsent === 1 ? " is" : "s are" %> not sent yet (queued or failing).</p>
<% } %>
<% if (it.d.delivery.failing.length > 0) { %>
<div class="scroll"><table>
<caption>Failing e-mails, the next due first<% if (it.d.delivery.failing.length >= it.problemsShown) { %> (the first <%= it.problemsShown %>)<% } %></caption>
<thead><tr><th scope="col">License</th><th scope="col">Last error</th><th scope="col">Next attempt</th></tr></thead>
<tbody>
<% for (const o of it.d.delivery.failing) { %>
<tr><td><a href="/admin/licenses/<%= encodeURIComponent(o.license_key) %>#delivery"><code><%= o.license_key %></code></a></td>
<td><%= o.last_error ?? "—" %></td>
<td><%= o.next_attempt_at ? it.f.time(o.next_attempt_at) : "—" %></td></tr>
<% } %>
</tbody>
</table></div>
<% } %>
<h2>Ignored webhook events</h2>
<% if (it.d.webhooks.ignored === 0) { %>
<p>No store webhook event was ignored.</p>
<% } else { %>
<p><strong><%= it.d.webhooks.ignored %></strong> store webhook event<%= it.d.webhooks.ignored === 1 ? " was" : "s were" %> ignored. Fix the cause (e.g. add the product to the products file, which is read again: no restart), then replay one with <code>dtlicense webhooks replay ID</code>.</p>
<div class="scroll"><table>
<caption>The latest<% if (it.d.webhooks.ignored > it.d.webhooks.latest.length) { %> <%= it.d.webhooks.latest.length %><% } %> ignored events</caption>
<thead><tr><th scope="col" class="num">ID</th><th scope="col">Store and event</th><th scope="col">Received</th><th scope="col">Reason</th></tr></thead>
<tbody>
<% for (const e of it.d.webhooks.latest) { %>
<tr><td class="num"><%= e.id %></td>
<td><%= e.provider %> <code><%= e.type %></code> <code><%= e.event_id %></code></td>
<td><%= it.f.time(e.received_at) %></td>
<td><%= e.reason ?? "—" %></td></tr>
<% } %>
</tbody>
</table></div>
<% } %>
<h2>Signing keys</h2>
<% if (it.d.signingKid) { %>
<p>New licenses are signed with key <code><%= it.d.signingKid %></code>.</p>
<% } else { %>
<p class="error">No signing key is configured: this server verifies licenses but cannot issue them.</p>
<% } %>
<div class="scroll"><table>
<caption class="visually-hidden">The key ring</caption>
<thead><tr><th scope="col">Key id</th><th scope="col">Role</th><th scope="col" class="num">Stored licenses</th></tr></thead>
<tbody>
<% for (const k of it.d.ring) { %>
<tr><td><code><%= k.kid %></code></td><td><%= k.signing ? "signs new licenses" : (it.ringKids.includes(k.kid) ? "trusted" : "not in the ring") %></td><td class="num"><%= k.licenses %></td></tr>
<% } %>
</tbody>
</table></div>
`,

  table: `<div class="scroll"><table>
<thead><tr><th scope="col">Buyer</th><th scope="col">E-mail</th><th scope="col">Tier</th><th scope="col">State</th><th scope="col">Expires</th><th scope="col">License key</th></tr></thead>
<tbody>
<% for (const l of it.licenses) { %>
<tr>
<td><a href="/admin/licenses/<%= encodeURIComponent(l.license_key) %>"><%= l.name %></a></td>
<td><%= l.email %></td>
<td><%= l.tier %></td>
<td><span class="state state-<%= it.f.state(l) %>"><%= it.f.state(l) %></span></td>
<td><%= it.f.day(l.expires_at) %></td>
<td><code><%= l.license_key %></code></td>
</tr>
<% } %>
</tbody>
</table></div>
`,

  licenses: `<h1>Licenses</h1>
<form method="get" action="/admin/licenses" class="filters" role="search">
<div><label for="q">Name, e-mail or key contains</label><input id="q" name="q" value="<%= it.query.q %>"></div>
<div><label for="email">Exact e-mail</label><input id="email" name="email" type="email" value="<%= it.query.email %>"></div>
<div><label for="tier">Tier</label><select id="tier" name="tier"><option value="">any</option>
<% for (const t of it.tiers) { %><option value="<%= t %>"<% if (it.query.tier === t) { %> selected<% } %>><%= t %></option><% } %>
</select></div>
<div><label for="state">State</label><select id="state" name="state"><option value="">any</option>
<% for (const s of it.states) { %><option value="<%= s %>"<% if (it.query.state === s) { %> selected<% } %>><%= s %></option><% } %>
</select></div>
<div><button type="submit">Search</button></div>
</form>
<% if (it.licenses.length === 0) { %>
<p>No license matches.</p>
<% } else { %>
<p class="muted">Newest first.</p>
<%~ include("@table", { licenses: it.licenses, f: it.f }) %>
<% } %>
<p class="actions">
<% if (it.first) { %><a class="button secondary" href="<%= it.first %>">Newest</a><% } %>
<% if (it.next) { %><a class="button secondary" href="<%= it.next %>" rel="next">Older</a><% } %>
</p>
`,

  license: `<h1><%= it.l.name %> <span class="state state-<%= it.state %>">(<%= it.state %>)</span></h1>
<div class="actions">
<% if (it.l.status === "active" && !it.l.superseded_by) { %>
<form method="post" action="/admin/licenses/<%= encodeURIComponent(it.l.license_key) %>/renew" class="inline">
${csrf}
<div><label for="years">Renew for</label>
<select id="years" name="years"><% for (const y of [1, 2, 3, 5]) { %><option value="<%= y %>"><%= y %> year<%= y > 1 ? "s" : "" %></option><% } %></select></div>
<button type="submit">Renew</button>
</form>
<% } %>
<% for (const a of it.changes) { %>
<a class="button secondary" href="/admin/licenses/<%= encodeURIComponent(it.l.license_key) %>/<%= a %>"><%= it.f.cap(a) %>…</a>
<% } %>
</div>
<h2>Fields</h2>
<dl class="fields">
<% for (const [k, v] of it.fields) { %>
<dt><%= k %></dt><dd><% if (k === "supersedes" || k === "superseded_by") { %><% if (v) { %><a href="/admin/licenses/<%= encodeURIComponent(v) %>"><%= v %></a><% } else { %>—<% } %><% } else { %><%= v === null ? "—" : v %><% } %></dd>
<% } %>
</dl>
<h2 id="blob-title">License blob</h2>
<p>Send this to the buyer; they activate with it.</p>
<pre class="blob" id="blob" aria-labelledby="blob-title"><%= it.l.blob %></pre>
<div class="actions">
<button type="button" class="secondary" data-copy="blob" hidden>Copy the blob</button>
<a class="button secondary" href="/admin/licenses/<%= encodeURIComponent(it.l.license_key) %>/download" download>Download <%= it.filename %></a>
<span id="blob-status" role="status"></span>
</div>
<h2 id="seats">Seats</h2>
<p><% if (it.seats.seats.limit === null) { %>No seat limit<% } else { %>Limit: <strong><%= it.seats.seats.limit %></strong> machine<%= it.seats.seats.limit === 1 ? "" : "s" %><% } %>;
<strong><%= it.seats.seats.used %></strong> held now.</p>
<form method="post" action="/admin/licenses/<%= encodeURIComponent(it.l.license_key) %>/seats" class="inline actions">
${csrf}
<div><label for="seat-limit">Seat limit</label>
<input id="seat-limit" name="seats" type="number" min="1" max="10000" aria-describedby="seat-help" value="<%= it.seats.seats.limit === null ? "" : it.seats.seats.limit %>"></div>
<button type="submit" class="secondary">Change the limit</button>
<span id="seat-help" class="muted">1 to 10,000 machines; empty for no limit.</span>
</form>
<% if (it.held.length === 0) { %>
<p>No machine holds a seat.</p>
<% } else { %>
<div class="scroll"><table>
<caption class="visually-hidden">Machines holding a seat</caption>
<thead><tr><th scope="col">Machine</th><th scope="col">Host name</th><th scope="col">First seen</th><th scope="col">Last seen</th><th scope="col"><span class="visually-hidden">Action</span></th></tr></thead>
<tbody>
<% for (const a of it.held) { %>
<tr><td><code title="<%= a.fingerprint %>"><%= it.f.short(a.fingerprint) %></code></td>
<td><%= a.hostname ?? "—" %></td>
<td><%= it.f.time(a.first_seen_at) %></td>
<td><%= it.f.time(a.last_seen_at) %></td>
<td><form method="post" action="/admin/activations/<%= a.id %>/release">${csrf}<button type="submit" class="secondary" aria-label="Release the seat of <%= a.hostname ?? it.f.short(a.fingerprint) %>">Release</button></form></td></tr>
<% } %>
</tbody>
</table></div>
<% } %>
<h2 id="delivery">E-mail<%= it.sale ? " and sale" : "" %></h2>
<% if (it.sale) { %>
<p>Sold through <strong><%= it.sale.provider %></strong>, reference <code><%= it.sale.reference %></code> (product <code><%= it.sale.product %></code>).</p>
<% } %>
<% if (it.deliveryOff) { %><p class="error" role="note">This server sends no e-mail: SMTP is not configured (<code>SMTP_URL</code>, <code>DATATOOLS_MAIL_FROM</code>; see docs/SELLING.md). License e-mails wait in the outbox until it is.</p><% } %>
<% if (it.delivery) { %>
<p class="delivery delivery-<%= it.delivery.status %>"><% if (it.delivery.status === "sent") { %>The license e-mail was <strong>sent</strong> at <time datetime="<%= it.delivery.sent_at %>"><%= it.f.time(it.delivery.sent_at) %></time>.<% } else if (it.delivery.status === "failing") { %>The license e-mail is <strong>failing</strong> after <%= it.delivery.attempts %> attempt<%= it.delivery.attempts === 1 ? "" : "s" %>; next attempt at <time datetime="<%= it.delivery.next_attempt_at %>"><%= it.f.time(it.delivery.next_attempt_at) %></time>.<br>Last error: <%= it.delivery.last_error %><% } else { %>The license e-mail is <strong>queued</strong> (since <time datetime="<%= it.delivery.created_at %>"><%= it.f.time(it.delivery.created_at) %></time>); the server's delivery worker sends it.<% } %></p>
<% } else { %>
<p>No license e-mail was queued for this license.</p>
<% } %>
<form method="post" action="/admin/licenses/<%= encodeURIComponent(it.l.license_key) %>/deliver" class="inline actions">
${csrf}
<button type="submit" class="secondary">Re-deliver e-mail</button>
<span class="muted">Queues the stored blob (never re-signed) to <%= it.l.email %>.</span>
</form>
<h2>Renewal chain</h2>
<ol>
<% for (const c of it.chain) { %>
<li><% if (c.license_key === it.l.license_key) { %><strong><code><%= c.license_key %></code> (this license)</strong><% } else { %><a href="/admin/licenses/<%= encodeURIComponent(c.license_key) %>"><code><%= c.license_key %></code></a><% } %>
— issued <%= it.f.day(c.issued_at) %>, expires <%= it.f.day(c.expires_at) %>, <%= it.f.state(c) %></li>
<% } %>
</ol>
<h2>Events</h2>
<ol class="timeline">
<% for (const e of it.events) { %>
<li><strong><%= e.action %></strong> by <%= e.actor %> at <time datetime="<%= e.at %>"><%= it.f.time(e.at) %></time>
<% if (e.reason) { %><br>Reason: <%= e.reason %><% } %>
<% if (e.before && e.after) { %><br><span class="muted"><%= it.f.diff(e.before, e.after) %></span><% } %></li>
<% } %>
</ol>
`,

  change: `<h1><%= it.f.cap(it.action) %> the license of <%= it.l.name %></h1>
<dl class="fields">
<dt>License key</dt><dd><code><%= it.l.license_key %></code></dd>
<dt>E-mail</dt><dd><%= it.l.email %></dd>
<dt>Tier</dt><dd><%= it.l.tier %></dd>
<dt>State</dt><dd><%= it.state %></dd>
</dl>
<form method="post" action="/admin/licenses/<%= encodeURIComponent(it.l.license_key) %>/<%= it.action %>">
${csrf}
<% if (it.confirming) { %>
<input type="hidden" name="reason" value="<%= it.reason %>">
<input type="hidden" name="confirm" value="yes">
<p><strong>Please confirm:</strong> <%= it.action %> this license<% if (it.action === "revoke") { %> (a revocation is final)<% } %>, with the reason “<%= it.reason %>”?</p>
<div class="actions">
<button type="submit" class="<%= it.action === 'reinstate' ? '' : 'danger' %>">Yes, <%= it.action %> it</button>
<a class="button secondary" href="/admin/licenses/<%= encodeURIComponent(it.l.license_key) %>">Cancel</a>
</div>
<% } else { %>
<label for="reason">Reason (required; kept in the audit trail)</label>
<textarea id="reason" name="reason" required maxlength="500"><%= it.reason %></textarea>
<div class="actions">
<button type="submit">Continue</button>
<a class="button secondary" href="/admin/licenses/<%= encodeURIComponent(it.l.license_key) %>">Cancel</a>
</div>
<% } %>
</form>
`,

  issue: `<h1>Issue a license</h1>
<form method="post" action="/admin/licenses">
${csrf}
<label for="name">Buyer's name</label>
<input id="name" name="name" required maxlength="200" autocomplete="off" value="<%= it.form.name %>">
<label for="email">Buyer's e-mail</label>
<input id="email" name="email" type="email" required maxlength="254" autocomplete="off" value="<%= it.form.email %>">
<label for="tier">Tier</label>
<select id="tier" name="tier" required>
<% for (const t of it.tiers) { %><option value="<%= t %>"<% if (it.form.tier === t) { %> selected<% } %>><%= t %></option><% } %>
</select>
<label for="years">Years</label>
<input id="years" name="years" type="number" min="1" max="<%= it.maxYears %>" required value="<%= it.form.years %>">
<div class="actions"><button type="submit">Issue and sign</button></div>
</form>
`,

  tokens: `<h1>Admin tokens</h1>
<% if (it.created) { %>
<section aria-labelledby="created-title">
<h2 id="created-title">New token “<%= it.created.name %>”</h2>
<p><strong>Copy it now: it is shown only this once.</strong></p>
<p class="token" id="new-token"><%= it.created.token %></p>
<p><button type="button" class="secondary" data-copy="new-token" hidden>Copy the token</button> <span id="new-token-status" role="status"></span></p>
</section>
<% } %>
<h2>Create a token</h2>
<form method="post" action="/admin/tokens" class="inline">
${csrf}
<div><label for="token-name">Name (shown in the audit trail)</label>
<input id="token-name" name="name" required maxlength="64"></div>
<button type="submit">Create</button>
</form>
<h2>Tokens</h2>
<div class="scroll"><table>
<thead><tr><th scope="col">Name</th><th scope="col">Created</th><th scope="col">Last used</th><th scope="col">State</th><th scope="col"><span class="visually-hidden">Action</span></th></tr></thead>
<tbody>
<% for (const t of it.tokens) { %>
<tr><td><%= t.name %><% if (t.id === it.session.tokenId) { %> <span class="muted">(yours)</span><% } %></td>
<td><%= it.f.time(t.created_at) %> by <%= t.created_by %></td>
<td><%= t.last_used_at ? it.f.time(t.last_used_at) : "never" %></td>
<td><%= t.revoked_at ? "revoked " + it.f.time(t.revoked_at) : "live" %></td>
<td><% if (!t.revoked_at) { %><form method="post" action="/admin/tokens/<%= t.id %>/revoke">${csrf}<button type="submit" class="danger" aria-label="Revoke token <%= t.name %>">Revoke</button></form><% } %></td></tr>
<% } %>
</tbody>
</table></div>
<h2>Console sessions</h2>
<div class="scroll"><table>
<thead><tr><th scope="col">Token</th><th scope="col">Started</th><th scope="col">Last seen</th><th scope="col">State</th></tr></thead>
<tbody>
<% for (const s of it.sessions) { %>
<tr><td><%= s.token_name %></td><td><%= it.f.time(s.created_at) %></td><td><%= it.f.time(s.last_seen_at) %></td>
<td><%= s.ended_at ? "ended (" + s.ended_reason + ")" : (s.token_revoked ? "ended (token revoked)" : "open until " + it.f.time(s.expires_at) + " at most") %></td></tr>
<% } %>
</tbody>
</table></div>
`,

  import: `<h1>Import an issuance log</h1>
<p>Choose the issuance log (<code>issued.jsonl</code>) that <code>dtlicense mint</code> writes. Every
line's signature and fields are checked; licenses already stored are counted, not repeated, so
importing the same log again is safe.</p>
<form method="post" action="/admin/import" enctype="multipart/form-data">
${csrf}
<label for="log">Issuance log file</label>
<input id="log" name="log" type="file" accept=".jsonl,.json,.txt,application/x-ndjson,text/plain" required>
<div class="actions"><button type="submit">Import</button></div>
</form>
<% if (it.summary) { %>
<h2>Result</h2>
<ul>
<li>Imported: <strong><%= it.summary.imported %></strong></li>
<li>Already present: <strong><%= it.summary.already_present %></strong></li>
<li>Rejected: <strong><%= it.summary.rejected.length %></strong></li>
</ul>
<% if (it.lines.length > 0) { %>
<div class="scroll"><table>
<caption>Each line<% if (it.lines.length >= it.linesShown) { %> (the first <%= it.linesShown %>)<% } %></caption>
<thead><tr><th scope="col" class="num">Line</th><th scope="col">Result</th><th scope="col">License or reason</th></tr></thead>
<tbody>
<% for (const r of it.lines) { %>
<tr><td class="num"><%= r.line %></td>
<% if (r.outcome === "rejected") { %><td><strong>rejected</strong> <code><%= r.code %></code></td><td><%= r.reason %></td>
<% } else { %><td><%= r.outcome === "imported" ? "imported" : "already present" %></td><td><a href="/admin/licenses/<%= encodeURIComponent(r.key) %>"><code><%= r.key %></code></a></td><% } %>
</tr>
<% } %>
</tbody>
</table></div>
<% } %>
<% } %>
`,

  message: `<h1><%= it.heading %></h1>
<p><%= it.text %></p>
<p><a href="<%= it.link %>"><%= it.linkText %></a></p>
`,
};
