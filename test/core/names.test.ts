// Names and e-mail addresses that would display as something else (bidi overrides, invisible and
// format characters, controls) are refused when a license is issued, and still read when signed.
import { describe, expect, it } from "vitest";
import {
  DEV_PRIVATE_KEY_HEX,
  KeyRing,
  encodeBlob,
  importSigner,
  validateEmail,
  validateName,
  verifyBlob,
} from "../../src/core/index.js";
import { REFUSED, hex } from "../helpers/unicode.js";
import { codeOf, errorOf } from "./support.js";

const dev = importSigner(Buffer.from(DEV_PRIVATE_KEY_HEX, "hex"));
const ALL_REFUSED = Object.values(REFUSED).flat();

/** The names each refused character is tried in: at the start, inside, at the end. */
function placements(cp: number): { name: string; position: number }[] {
  const c = String.fromCodePoint(cp);
  return [
    { name: `${c}Ada Lovelace`, position: 1 },
    { name: `Ada ${c}Lovelace`, position: 5 },
    { name: `Ada Love${c}lace`, position: 9 },
    { name: `Ada Lovelace${c}`, position: 13 },
  ];
}

describe("validateName refuses characters that would make a name display as something else", () => {
  for (const [what, cps] of Object.entries(REFUSED)) {
    it(`refuses ${what} anywhere in the name with NAME_INVALID, naming the character and position`, () => {
      for (const cp of cps) {
        for (const { name, position } of placements(cp)) {
          const err = errorOf(() => validateName(name));
          expect(err.code, `${hex(cp)} in ${JSON.stringify(name)}`).toBe("NAME_INVALID");
          expect(err.message).toContain(`${hex(cp)}`);
          expect(err.message).toContain(`at position ${position}`);
          // The message names the character; it never prints it.
          expect(err.message).not.toContain(String.fromCodePoint(cp));
        }
      }
    });
  }

  it("gives the Unicode name of the usual suspects", () => {
    const cases: [string, string][] = [
      ["Ada \u202ecalevoL", "U+202E RIGHT-TO-LEFT OVERRIDE at position 5"],
      ["Ada\u200b Lovelace", "U+200B ZERO WIDTH SPACE at position 4"],
      ["\ufeffAda", "U+FEFF ZERO WIDTH NO-BREAK SPACE at position 1"],
      ["Ada\u2066x", "U+2066 LEFT-TO-RIGHT ISOLATE at position 4"],
      ["Ada\u3164", "U+3164 HANGUL FILLER at position 4"],
      ["Ada\u0000", "U+0000 NULL at position 4"],
      ["Ada\u001b[31m", "U+001B ESCAPE at position 4"],
      ["A\u0085da", "U+0085 NEXT LINE at position 2"],
    ];
    for (const [name, expected] of cases) {
      expect(errorOf(() => validateName(name)).message).toContain(expected);
    }
    expect(errorOf(() => validateName("Ada\ue000")).message).toMatch(/U\+E000 \(private use\)/);
    expect(errorOf(() => validateName("Ada\u0378")).message).toMatch(/U\+0378 \(unassigned\)/);
  });

  it("counts positions in characters, so one beyond the BMP counts once", () => {
    expect(errorOf(() => validateName("😀😀\u202e")).message).toContain("at position 3");
  });

  it("refuses an unpaired surrogate, which nobody could type back", () => {
    for (const name of ["Ada \ud800", "\udc00Ada", "Ada \ud800x"]) {
      expect(codeOf(() => validateName(name))).toBe("NAME_INVALID");
    }
  });

  it("refuses ZWNJ and ZWJ anywhere but between two letters or marks", () => {
    for (const cp of [0x200c, 0x200d]) {
      const j = String.fromCodePoint(cp);
      for (const name of [
        `${j}Ada`,
        `Ada${j}`,
        `Ada ${j}Lovelace`,
        `Ada${j} Lovelace`,
        `Ada${j}${j}Lovelace`,
        `Ada${j}\u200bLovelace`,
        `R2${j}D2`,
        `👨${j}👩`,
      ]) {
        expect(
          codeOf(() => validateName(name)),
          JSON.stringify(name),
        ).toBe("NAME_INVALID");
      }
    }
  });

  it("keeps ZWNJ and ZWJ between letters or marks, as Persian and Indic names need them", () => {
    const names = [
      "علی\u200cاکبر", // Persian: ZWNJ keeps ی from joining ا
      "می\u200cخواهم",
      "क्\u200dष", // Devanagari: virama + ZWJ gives the half form
      "क्\u200cष", // virama + ZWNJ: the explicit virama
      "ශ්\u200dරී", // Sinhala: al-lakuna + ZWJ (rakaransaya)
    ];
    for (const name of names) expect(validateName(name)).toBe(name.normalize("NFC"));
  });

  it("keeps a variation selector after a Han character (ideographic variants of a name)", () => {
    expect(validateName("葛\u{e0100}城")).toBe("葛\u{e0100}城");
    expect(validateName("辻\ufe00")).toBe("辻\ufe00");
    expect(codeOf(() => validateName("Ada\u{e0100}"))).toBe("NAME_INVALID");
  });

  it("keeps a Mongolian free variation selector after a Mongolian letter, and nowhere else", () => {
    expect(validateName("\u1820\u180b\u1822")).toBe("\u1820\u180b\u1822");
    expect(codeOf(() => validateName("Ada\u180b"))).toBe("NAME_INVALID");
    expect(codeOf(() => validateName("\u180bAda"))).toBe("NAME_INVALID");
  });

  it("keeps accepting ordinary names, tidied as before", () => {
    const names: [string, string][] = [
      ["  Ada   Lovelace ", "Ada Lovelace"],
      ["Ada\tLovelace\n", "Ada Lovelace"],
      ["Ada\r\nLovelace", "Ada Lovelace"],
      ["Zoe\u0308 Ångström-Müller", "Zoë Ångström-Müller"],
      ["O'Brien, Jr.", "O'Brien, Jr."],
      ["Ada\u00a0Lovelace", "Ada Lovelace"],
      ["山田\u3000太郎", "山田 太郎"],
      ["Σωκράτης", "Σωκράτης"],
      ["محمد رضا", "محمد رضا"],
      ["Ada 😀", "Ada 😀"],
      ["=Ada", "=Ada"],
    ];
    for (const [input, output] of names) expect(validateName(input)).toBe(output);
  });
});

describe("validateEmail refuses the same characters", () => {
  for (const [what, cps] of Object.entries(REFUSED)) {
    it(`refuses ${what} with EMAIL_INVALID, naming the character and position`, () => {
      for (const cp of cps) {
        const c = String.fromCodePoint(cp);
        for (const [email, position] of [
          [`${c}ada@example.com`, 1],
          [`ada${c}@example.com`, 4],
          [`ada@exa${c}mple.com`, 8],
          [`ada@example.com${c}`, 16],
        ] as const) {
          const err = errorOf(() => validateEmail(email));
          expect(err.code, `${hex(cp)} in ${JSON.stringify(email)}`).toBe("EMAIL_INVALID");
          expect(err.message).toContain(`${hex(cp)}`);
          expect(err.message).toContain(`at position ${position}`);
          expect(err.message).not.toContain(c);
        }
      }
    });
  }

  it("keeps accepting plausible addresses", () => {
    for (const email of ["ada@example.com", "zoë@exämple.de", "=ada@example.com"]) {
      expect(validateEmail(email)).toBe(email);
    }
  });
});

describe("licenses already signed with such a name", () => {
  it("still verify: the rule is for issuing, not for reading", () => {
    const ring = new KeyRing([dev.publicKey]);
    for (const cp of ALL_REFUSED.filter((c) => c < 0xd800 || c > 0xdfff)) {
      const name = `Ada ${String.fromCodePoint(cp)}Lovelace`;
      const blob = encodeBlob(
        {
          v: 2,
          kid: dev.kid,
          license_key: "DT1-PRO-00000000-00000001",
          name,
          email: `ada${String.fromCodePoint(cp)}@example.com`,
          tier: "pro",
          issued_at: "2026-05-13T22:10:27Z",
          expires_at: "2027-05-13T22:10:27Z",
        },
        dev,
      );
      expect(verifyBlob(blob, ring).payload.name).toBe(name);
    }
  });
});
