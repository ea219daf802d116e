// Makes dist/store/pgdata-template-<PGlite version>.tar.gz: an empty database as PGlite's
// initdb leaves it. A server's first start loads it instead of running initdb, which keeps
// the process that creates the database near 330 MiB instead of 800 (see
// src/store/pglite-create.ts). Run by `npm run build`, after tsc.
import { readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { PGlite } from "@electric-sql/pglite";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const { PGLITE_SHARED_BUFFERS, templateName } = await import(
  join(ROOT, "dist", "store", "pglite-create.js")
);
const main = createRequire(import.meta.url).resolve("@electric-sql/pglite");
const { version } = JSON.parse(readFileSync(join(dirname(main), "..", "package.json"), "utf8"));
const db = await PGlite.create("memory://", {
  startParams: [...PGlite.defaultStartParams, "-c", `shared_buffers=${PGLITE_SHARED_BUFFERS}`],
});
try {
  const tar = await db.dumpDataDir("gzip");
  writeFileSync(
    join(ROOT, "dist", "store", templateName(version)),
    Buffer.from(await tar.arrayBuffer()),
  );
} finally {
  await db.close();
}
