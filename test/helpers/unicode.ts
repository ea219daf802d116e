// The characters a buyer's name or e-mail may not hold when a license is issued, by class.

/** A code point as U+XXXX. */
export const hex = (cp: number) => `U+${cp.toString(16).toUpperCase().padStart(4, "0")}`;

const range = (from: number, to: number) =>
  Array.from({ length: to - from + 1 }, (_, i) => from + i);

/** Every class of character a name may not hold, with examples of each. */
export const REFUSED: Record<string, number[]> = {
  "bidi embeddings and overrides": range(0x202a, 0x202e),
  "bidi isolates": range(0x2066, 0x2069),
  "bidi marks": [0x200e, 0x200f, 0x061c],
  "zero-width space and no-break space (BOM)": [0x200b, 0xfeff],
  "soft hyphen": [0x00ad],
  "word joiner and invisible operators": range(0x2060, 0x2064),
  "other format characters": [0x180e, 0x206a, 0x206f, 0xfff9, 0x110bd, 0xe0001, 0xe0041],
  // Tab, line feed, vertical tab, form feed and carriage return are whitespace: tidied to a space.
  "C0 controls": range(0x00, 0x1f).filter((c) => ![0x09, 0x0a, 0x0b, 0x0c, 0x0d].includes(c)),
  DEL: [0x7f],
  "C1 controls": range(0x80, 0x9f),
  "line and paragraph separators": [0x2028, 0x2029],
  "private use": [0xe000, 0xf8ff, 0xf0000, 0xffffd, 0x100000, 0x10fffd],
  unassigned: [0x0378, 0x05ff, 0xfdd0, 0xfffe, 0xffff, 0x2fffe, 0xe0080, 0x10ffff],
  "invisible fillers": [0x115f, 0x1160, 0x3164, 0xffa0, 0x2800],
  "other invisible characters": [0x034f, 0x17b4, 0x17b5, 0xfe0f, 0xe0100],
};
