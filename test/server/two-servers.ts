// Two `dtlicense serve` processes on one scratch PostgreSQL database, sharing one admin token file.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import pg from "pg";
import { generateToken } from "../../src/store/tokens.js";
import { tempHome } from "../helpers/cli.js";
import { createScratchDatabase } from "../store/databases.js";
import { spawnServer, type ServerProcess } from "./spawn.js";

export interface TwoServers {
  /** The scratch database's connection string. */
  readonly url: string;
  /** The admin token both servers read from their token file. */
  readonly token: string;
  readonly servers: ServerProcess[];
  /** The rows of `sql`, run on a connection of its own. */
  query<T>(sql: string): Promise<T[]>;
  /** Stops both servers and drops the database. */
  stop(): Promise<void>;
}

/** Starts two servers at once on a new scratch database (HOME under a temp dir named `prefix…`). */
export async function startTwoServers(
  prefix: string,
  env: Record<string, string> = {},
): Promise<TwoServers> {
  const scratch = await createScratchDatabase();
  const token = generateToken();
  const home = tempHome(prefix);
  const secrets = join(home, "secrets");
  mkdirSync(secrets, { mode: 0o700 });
  writeFileSync(join(secrets, "admin-token"), token, { mode: 0o400 });
  const started = await Promise.allSettled(
    ["a", "b"].map((name) =>
      spawnServer(["--data-dir", join(home, name)], {
        HOME: home,
        DATABASE_URL: scratch.url,
        DATATOOLS_ADMIN_TOKEN_FILE: join(secrets, "admin-token"),
        DATATOOLS_LOG_LEVEL: "warn",
        ...env,
      }),
    ),
  );
  const servers = started.flatMap((s) => (s.status === "fulfilled" ? [s.value] : []));
  const stop = async () => {
    for (const s of servers) await s.stop();
    await scratch.drop();
  };
  const failed = started.find((s) => s.status === "rejected");
  if (failed) {
    await stop();
    throw failed.reason;
  }
  return {
    url: scratch.url,
    token,
    servers,
    stop,
    async query<T>(sql: string): Promise<T[]> {
      const c = new pg.Client({ connectionString: scratch.url });
      await c.connect();
      try {
        return (await c.query(sql)).rows as T[];
      } finally {
        await c.end();
      }
    },
  };
}
