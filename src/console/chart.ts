/**
 * The dashboard's chart: licenses issued per month by tier as stacked bars,
 * server-rendered SVG (no script). Screen readers get the figures as text: the
 * SVG's description lists every month, and each bar has its own title.
 */
import type { MonthCounts } from "../service/dashboard.js";

const ESCAPES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};
/** Escapes text for SVG/HTML content and attributes. */
export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

/** Bar colours by tier position (light to dark; each at least 3:1 against white or its neighbour). */
export const TIER_COLOURS = ["#7aa7e8", "#0b57d0", "#062e6f", "#8a4b00", "#146c2e"];
const colour = (i: number) => TIER_COLOURS[i % TIER_COLOURS.length]!;

const WIDTH = 640;
const HEIGHT = 240;
const LEFT = 36;
const BOTTOM = 36;
const TOP = 12;

/** Round maximum for the axis: 1, 2, 5 × 10^n. */
function niceMax(n: number): number {
  if (n <= 5) return 5;
  const p = 10 ** Math.floor(Math.log10(n));
  for (const m of [1, 2, 5, 10]) if (m * p >= n) return m * p;
  return 10 * p;
}

/** The chart for `months` (oldest first), stacking `tiers` in order. */
export function issuedChart(months: readonly MonthCounts[], tiers: readonly string[]): string {
  const max = niceMax(Math.max(0, ...months.map((m) => m.total)));
  const plotH = HEIGHT - TOP - BOTTOM;
  const slot = (WIDTH - LEFT - 8) / Math.max(1, months.length);
  const barW = Math.max(4, slot * 0.7);
  const y = (v: number) => TOP + plotH - (v / max) * plotH;
  const parts: string[] = [];
  const summary = months
    .map(
      (m) =>
        `${m.month}: ${m.total} (${tiers.map((t) => `${t} ${m.by_tier[t as keyof typeof m.by_tier] ?? 0}`).join(", ")})`,
    )
    .join("; ");
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${WIDTH} ${HEIGHT}" role="img" aria-labelledby="chart-svg-title chart-svg-desc">`,
    `<title id="chart-svg-title">Licenses issued per month by tier, last ${months.length} months</title>`,
    `<desc id="chart-svg-desc">${escapeXml(summary)}</desc>`,
  );
  for (const v of Number.isInteger(max / 2) ? [0, max / 2, max] : [0, max]) {
    parts.push(
      `<line class="axis" x1="${LEFT}" x2="${WIDTH - 4}" y1="${y(v)}" y2="${y(v)}" stroke-width="${v === 0 ? 1 : 0.3}"/>`,
      `<text x="${LEFT - 4}" y="${y(v) + 4}" text-anchor="end">${v}</text>`,
    );
  }
  months.forEach((m, i) => {
    const x = LEFT + 4 + i * slot + (slot - barW) / 2;
    let base = 0;
    const label = `${m.month}: ${m.total} issued`;
    parts.push(`<g><title>${escapeXml(label)}</title>`);
    for (const [ti, t] of tiers.entries()) {
      const n = m.by_tier[t as keyof typeof m.by_tier] ?? 0;
      if (n === 0) continue;
      const top = y(base + n);
      parts.push(
        `<rect fill="${colour(ti)}" x="${x.toFixed(1)}" y="${top.toFixed(1)}" width="${barW.toFixed(1)}" height="${(y(base) - top).toFixed(1)}"/>`,
      );
      base += n;
    }
    if (m.total > 0) {
      parts.push(
        `<text x="${(x + barW / 2).toFixed(1)}" y="${(y(m.total) - 3).toFixed(1)}" text-anchor="middle">${m.total}</text>`,
      );
    }
    parts.push(
      `<text x="${(x + barW / 2).toFixed(1)}" y="${HEIGHT - BOTTOM + 14}" text-anchor="middle">${escapeXml(m.month.slice(5))}</text>`,
    );
    if (i === 0 || m.month.endsWith("-01")) {
      parts.push(
        `<text x="${(x + barW / 2).toFixed(1)}" y="${HEIGHT - BOTTOM + 28}" text-anchor="middle">${escapeXml(m.month.slice(0, 4))}</text>`,
      );
    }
    parts.push(`</g>`);
  });
  parts.push(`</svg>`);
  return parts.join("\n");
}

/** A legend swatch for the tier at `index` (SVG, so the colour needs no inline style). */
export function swatch(index: number): string {
  return `<svg class="swatch" viewBox="0 0 10 10" aria-hidden="true"><rect width="10" height="10" fill="${colour(index)}"/></svg>`;
}
