// The layer rule: README.md's Layout table, enforced by `npm run lint` (eslint/layers.js).
import { resolve } from "node:path";
import { ESLint } from "eslint";
import { describe, expect, it } from "vitest";
// @ts-expect-error - a plain ESM module of the lint configuration, without type declarations
import { readLayout, rowOf, sourceFolders } from "../../eslint/layers.js";

const ROOT = resolve(import.meta.dirname, "../..");

async function layoutErrors(file: string, code: string): Promise<string[]> {
  const eslint = new ESLint({ cwd: ROOT });
  const [result] = await eslint.lintText(code, { filePath: resolve(ROOT, file) });
  return result!.messages.filter((m) => m.ruleId === "layout/layers").map((m) => m.message);
}

describe("the layer rule read from README.md's Layout table", () => {
  const refused: [string, string, RegExp][] = [
    [
      "src/core/x.ts",
      'import { openDatabase } from "../store/open.js";',
      /src\/core\/ may not import src\/store\/open\.ts/,
    ],
    ["src/core/x.ts", 'import pg from "pg";', /Node built-ins only, not the package "pg"/],
    [
      "src/client/x.ts",
      'import { loadServerConfig } from "../config/server.js";',
      /src\/client\/ may not import src\/config\/server\.ts/,
    ],
    [
      "src/server/x.ts",
      'export const q = () => import("../store/licenses.js");',
      /src\/server\/ may not import src\/store\/licenses\.ts/,
    ],
    ["src/server/x.ts", 'export * from "../store/db.js";', /may not import src\/store\/db\.ts/],
    [
      "src/store/x.ts",
      'import type { ServiceContext } from "../service/context.js";',
      /src\/store\/ may not import src\/service/,
    ],
    [
      "src/cli/commands/x.ts",
      'import { registerMint } from "./mint.js";',
      /may not import another/,
    ],
    [
      "src/service/x.ts",
      'import { buildApp } from "../server/app.js";',
      /src\/service\/ may not import src\/server\/app\.ts/,
    ],
    [
      "src/index.ts",
      'export * from "./server/index.js";',
      /src\/index\.ts may not import src\/server/,
    ],
    [
      "src/cli/x.ts",
      "export const m = (p: string) => import(p);",
      /computed path cannot be checked/,
    ],
  ];
  for (const [file, code, message] of refused) {
    it(`fails the lint for ${file}: ${code}`, async () => {
      const errors = await layoutErrors(file, code);
      expect(errors.join("\n")).toMatch(message);
    });
  }

  const allowed: [string, string][] = [
    [
      "src/client/x.ts",
      'import { acquireLockSync } from "../config/lock.js";\nexport { acquireLockSync };',
    ],
    ["src/server/x.ts", 'import Fastify from "fastify";\nexport { Fastify };'],
    ["src/cli/commands/x.ts", 'import { withService } from "../open.js";\nexport { withService };'],
    ["src/core/x.ts", 'import { createHash } from "node:crypto";\nexport { createHash };'],
  ];
  for (const [file, code] of allowed) {
    it(`passes ${file} importing what its row allows`, async () => {
      expect(await layoutErrors(file, code)).toEqual([]);
    });
  }

  it("has a row for every folder under src/", () => {
    const rows = readLayout();
    for (const folder of sourceFolders() as string[]) {
      expect(rowOf(rows, `${folder}x.ts`)?.path, folder).toBe(folder);
    }
  });
});
