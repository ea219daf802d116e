/**
 * The console's stylesheet and its one small script, served as files under
 * /admin/assets/ (the Content-Security-Policy allows no inline script or
 * style). Every page works without the script; it only adds copy buttons.
 */

export const CONSOLE_CSS = `
:root { --fg: #1a1a1a; --muted: #4a4a4a; --bg: #fff; --line: #c8c8c8; --accent: #0b57d0;
  --danger: #a50e0e; --ok: #146c2e; --soft: #f2f4f7; }
* { box-sizing: border-box; }
body { margin: 0; font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  color: var(--fg); background: var(--bg); }
a { color: var(--accent); }
a:focus, button:focus, input:focus, select:focus, textarea:focus, summary:focus {
  outline: 3px solid #f9ab00; outline-offset: 2px; }
.skip { position: absolute; left: -999px; top: 0; background: var(--fg); color: #fff; padding: .5rem; }
.skip:focus { left: 0; }
header.top { display: flex; flex-wrap: wrap; gap: .5rem 1rem; align-items: center;
  justify-content: space-between; padding: .5rem 1rem; border-bottom: 1px solid var(--line);
  background: var(--soft); }
header.top nav { display: flex; flex-wrap: wrap; gap: .25rem .9rem; }
header.top nav a { padding: .35rem 0; font-weight: 600; text-decoration: none; }
header.top nav a[aria-current="page"] { text-decoration: underline; }
header.top form { display: flex; gap: .5rem; align-items: center; margin: 0; font-size: .9rem; }
main { padding: 1rem; max-width: 70rem; margin: 0 auto; }
h1 { font-size: 1.5rem; margin: .5rem 0 1rem; }
h2 { font-size: 1.2rem; margin: 1.5rem 0 .5rem; }
label { display: block; font-weight: 600; margin: .75rem 0 .25rem; }
input, select, textarea { font: inherit; padding: .45rem .5rem; border: 1px solid #767676;
  border-radius: 4px; width: 100%; max-width: 32rem; background: #fff; color: var(--fg); }
textarea { min-height: 5rem; }
button, .button { font: inherit; font-weight: 600; padding: .45rem 1rem; border-radius: 4px;
  border: 1px solid var(--accent); background: var(--accent); color: #fff; cursor: pointer;
  text-decoration: none; display: inline-block; min-height: 2.5rem; }
button.secondary, .button.secondary { background: #fff; color: var(--accent); }
button.danger { background: var(--danger); border-color: var(--danger); }
.actions { display: flex; flex-wrap: wrap; gap: .5rem; margin: 1rem 0; align-items: flex-end; }
.actions form { margin: 0; }
.inline { display: flex; flex-wrap: wrap; gap: .5rem; align-items: flex-end; }
.inline label { margin-top: 0; }
.inline input, .inline select { width: auto; }
.filters { display: grid; grid-template-columns: repeat(auto-fit, minmax(10rem, 1fr)); gap: .5rem 1rem;
  align-items: end; margin-bottom: 1rem; }
.filters label { margin: 0 0 .25rem; }
.notice { border-left: 4px solid var(--ok); background: #e6f4ea; padding: .5rem .75rem; }
.error { border-left: 4px solid var(--danger); background: #fce8e6; padding: .5rem .75rem; }
.delivery-failing { border-left: 4px solid var(--danger); padding-left: .75rem; overflow-wrap: anywhere; }
.scroll { overflow-x: auto; position: relative; }
caption { text-align: left; font-weight: 600; padding: .25rem 0; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .4rem .5rem; border-bottom: 1px solid var(--line); vertical-align: top; }
th { background: var(--soft); }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
dl.fields { display: grid; grid-template-columns: minmax(8rem, max-content) 1fr; gap: .25rem 1rem; }
dl.fields dt { font-weight: 600; }
dl.fields dd { margin: 0; overflow-wrap: anywhere; }
pre.blob { white-space: pre-wrap; overflow-wrap: anywhere; background: var(--soft); padding: .75rem;
  border: 1px solid var(--line); font-size: .85rem; }
ol.timeline { list-style: none; padding: 0; border-left: 3px solid var(--line); margin-left: .5rem; }
ol.timeline li { padding: .25rem 0 .75rem 1rem; overflow-wrap: anywhere; }
.state { font-weight: 700; }
.state-active { color: var(--ok); }
.state-expired, .state-suspended { color: #8a4b00; }
.state-revoked { color: var(--danger); }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(9rem, 1fr)); gap: .75rem; }
.card { border: 1px solid var(--line); border-radius: 6px; padding: .75rem; }
.card .n { font-size: 1.6rem; font-weight: 700; }
.chart svg { width: 100%; height: auto; max-width: 48rem; }
.chart .axis { stroke: #767676; } .chart text { fill: var(--fg); font-size: 11px; }
.legend { display: flex; gap: 1rem; flex-wrap: wrap; padding: 0; list-style: none; }
.chart svg.swatch { width: .9rem; height: .9rem; margin-right: .3rem; vertical-align: middle; }
.visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0);
  white-space: nowrap; }
.token { font-family: ui-monospace, monospace; overflow-wrap: anywhere; background: var(--soft);
  padding: .5rem; border: 1px solid var(--line); }
.signin { max-width: 26rem; margin: 3rem auto; }
.muted { color: var(--muted); }
@media (max-width: 30rem) { main { padding: .75rem; } dl.fields { grid-template-columns: 1fr; }
  dl.fields dd { margin-bottom: .5rem; } }
`;

export const CONSOLE_JS = `"use strict";
// Copy buttons: hidden without JavaScript (the text is selectable anyway).
document.querySelectorAll("button[data-copy]").forEach(function (button) {
  button.hidden = false;
  button.addEventListener("click", function () {
    var source = document.getElementById(button.getAttribute("data-copy"));
    if (!source || !navigator.clipboard) return;
    navigator.clipboard.writeText(source.textContent.trim()).then(function () {
      var status = document.getElementById(button.getAttribute("data-copy") + "-status");
      if (status) status.textContent = "Copied.";
    });
  });
});
`;
