// Checks deploy/compose.yaml and deploy/Dockerfile for the isolation and secret rules of the runbook.
import { readFileSync, readdirSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { SALES_VARS } from "../../src/config/sales.js";

const DEPLOY = resolve(import.meta.dirname, "../../deploy");
const compose = readFileSync(join(DEPLOY, "compose.yaml"), "utf8");
const dockerfile = readFileSync(join(DEPLOY, "Dockerfile"), "utf8");

/** One meaningful line of a block-style YAML file, with the chain of keys above it. */
interface YamlLine {
  readonly path: string[];
  readonly key?: string;
  readonly value: string;
  readonly item: boolean;
  readonly line: number;
}

/**
 * Walks block-style YAML by indentation (no YAML parser is a dependency here):
 * each `key: value` line and each `- item` line with the keys it sits under.
 * Enough for the shapes compose files use; flow collections are left as text.
 */
function walkYaml(text: string): YamlLine[] {
  const out: YamlLine[] = [];
  const stack: { indent: number; key: string }[] = [];
  text.split("\n").forEach((raw, i) => {
    if (/^\s*(#.*)?$/.test(raw)) return;
    const indent = raw.length - raw.trimStart().length;
    const body = raw.trim();
    while (stack.length > 0 && stack[stack.length - 1]!.indent >= indent) stack.pop();
    const path = stack.map((s) => s.key);
    const item = /^-\s+(.*)$/.exec(body);
    if (item) {
      out.push({ path, value: unquote(item[1]!), item: true, line: i + 1 });
      return;
    }
    const kv = /^("?)([A-Za-z0-9_.-]+)\1:(?:\s+(.*))?$/.exec(body);
    if (kv) {
      const key = kv[2]!;
      out.push({ path, key, value: unquote(kv[3] ?? ""), item: false, line: i + 1 });
      stack.push({ indent, key });
    }
  });
  return out;
}

function unquote(v: string): string {
  const t = v.replace(/\s+#.*$/, "").trim();
  return /^(["']).*\1$/.test(t) ? t.slice(1, -1) : t;
}

const lines = walkYaml(compose);
const at = (...path: string[]) =>
  lines.filter((l) => l.path.length === path.length && l.path.every((p, i) => p === path[i]));
const services = at("services").map((l) => l.key!);

const HEX64 = /\b[0-9a-fA-F]{64}\b/;

function deployFiles(dir = DEPLOY): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? deployFiles(p) : [p];
  });
}

describe("deploy/compose.yaml", () => {
  it("names its own compose project", () => {
    expect(at().find((l) => l.key === "name")?.value).toBe("datatools-license");
  });

  it("runs the api and postgres 15 services, restarting them and checking their health", () => {
    expect(services.sort()).toEqual(["api", "postgres"]);
    expect(at("services", "postgres").find((l) => l.key === "image")?.value).toMatch(
      /^postgres:15(\b|-)/,
    );
    for (const s of services) {
      const keys = at("services", s).map((l) => l.key);
      expect(keys, s).toContain("healthcheck");
      expect(at("services", s).find((l) => l.key === "restart")?.value, s).toMatch(
        /^(unless-stopped|always)$/,
      );
    }
    const depends = at("services", "api", "depends_on", "postgres");
    expect(depends.find((l) => l.key === "condition")?.value).toBe("service_healthy");
  });

  it("publishes the API on 127.0.0.1:8090 and PostgreSQL on 127.0.0.1:5433 and nothing else", () => {
    const published = lines.filter((l) => l.path.at(-1) === "ports" && l.path[0] === "services");
    expect(published.every((l) => l.item)).toBe(true);
    expect(published.map((l) => `${l.path[1]} ${l.value}`).sort()).toEqual([
      "api 127.0.0.1:8090:8090",
      "postgres 127.0.0.1:5433:5432",
    ]);
    for (const l of published) expect(l.value, `line ${l.line}`).toMatch(/^127\.0\.0\.1:\d+:\d+$/);
    expect(compose).not.toMatch(/network_mode:\s*"?host/);
    expect(compose).not.toMatch(/^\s*(published|host_ip):/m);
  });

  it("keeps the database in a named volume of its own, not an external or shared one", () => {
    const volumes = at("volumes");
    expect(volumes.map((l) => l.key)).toEqual(["pgdata"]);
    expect(at("volumes", "pgdata").find((l) => l.key === "name")?.value).toBe(
      "datatools-license-pgdata",
    );
    expect(compose).not.toMatch(/external:\s*true/);
    const mounts = lines.filter((l) => l.path.at(-1) === "volumes" && l.path[0] === "services");
    expect(mounts.map((l) => `${l.path[1]} ${l.value}`)).toEqual([
      "postgres pgdata:/var/lib/postgresql/data",
      "api ${DATATOOLS_CONFIG_DIR:-/srv/datatools-license/config}:/etc/datatools-license:ro",
    ]);
  });

  it("mounts the products file's folder read-only, so an edited (or replaced) file is seen without a restart", () => {
    const env = at("services", "api", "environment");
    expect(env.find((l) => l.key === "DATATOOLS_PRODUCTS_FILE")?.value).toBe(
      "/etc/datatools-license/products.json",
    );
    const mount = at("services", "api", "volumes").map((l) => l.value);
    expect(mount).toEqual([
      "${DATATOOLS_CONFIG_DIR:-/srv/datatools-license/config}:/etc/datatools-license:ro",
    ]);
  });

  it("wires in the store-sale secrets and takes the e-mail settings from compose.env, unset by default", () => {
    const env = Object.fromEntries(
      at("services", "api", "environment").map((l) => [l.key!, l.value]),
    );
    expect(env).toMatchObject({
      STRIPE_WEBHOOK_SECRET_FILE: "/run/secrets/stripe-webhook-secret",
      LEMONSQUEEZY_WEBHOOK_SECRET_FILE: "/run/secrets/lemonsqueezy-webhook-secret",
      SMTP_PASSWORD_FILE: "/run/secrets/smtp-password",
      SMTP_URL: "${SMTP_URL:-}",
      DATATOOLS_MAIL_FROM: "${DATATOOLS_MAIL_FROM:-}",
      DATATOOLS_MAIL_TEMPLATES_DIR: "${DATATOOLS_MAIL_TEMPLATES_DIR:-}",
    });
    // Every variable the sales configuration reads from a file is wired (src/config/sales.ts).
    for (const name of Object.values(SALES_VARS).filter((v) => v.endsWith("_FILE"))) {
      expect(Object.keys(env), name).toContain(name);
    }
    // No value of a secret: the webhook secrets only through their files.
    expect(env).not.toHaveProperty("STRIPE_WEBHOOK_SECRET");
    expect(env).not.toHaveProperty("LEMONSQUEEZY_WEBHOOK_SECRET");
  });

  it("mounts every secret read-only from /srv/datatools-license/secrets and points *_FILE variables at it", () => {
    const secrets = at("secrets").map((l) => l.key!);
    expect(secrets.sort()).toEqual([
      "admin-token",
      "db-password",
      "lemonsqueezy-webhook-secret",
      "license-public-keys",
      "license-signing-key",
      "smtp-password",
      "stripe-webhook-secret",
    ]);
    for (const name of secrets) {
      const file = at("secrets", name).find((l) => l.key === "file")?.value ?? "";
      expect(file, name).toMatch(
        new RegExp(`^\\$\\{DATATOOLS_SECRETS_DIR:-/srv/datatools-license/secrets\\}/${name}$`),
      );
    }
    const env = lines.filter((l) => l.path.at(-1) === "environment" && l.path[0] === "services");
    const fileVars = env.filter((l) => l.key!.endsWith("_FILE"));
    expect(fileVars.map((l) => l.key).sort()).toEqual([
      "DATABASE_PASSWORD_FILE",
      "DATATOOLS_ADMIN_TOKEN_FILE",
      "DATATOOLS_LICENSE_PRIVKEY_FILE",
      "DATATOOLS_LICENSE_PUBKEY_FILE",
      "DATATOOLS_PRODUCTS_FILE",
      "LEMONSQUEEZY_WEBHOOK_SECRET_FILE",
      "POSTGRES_PASSWORD_FILE",
      "SMTP_PASSWORD_FILE",
      "STRIPE_WEBHOOK_SECRET_FILE",
    ]);
    // The products file is not secret: it comes from the mounted config folder.
    for (const l of fileVars.filter((v) => v.key !== "DATATOOLS_PRODUCTS_FILE")) {
      const name = l.value.replace("/run/secrets/", "");
      expect(l.value, l.key).toMatch(/^\/run\/secrets\//);
      expect(secrets, l.key).toContain(name);
      const service = l.path[1]!;
      expect(
        at("services", service, "secrets").map((s) => s.value),
        `${service} mounts ${name}`,
      ).toContain(name);
    }
  });

  it("holds no secret value: no password, key or token variables with values, no 64-hex strings", () => {
    const env = lines.filter((l) => l.path.at(-1) === "environment");
    for (const l of env) {
      if (/PASSWORD|PRIVKEY|TOKEN|SECRET/.test(l.key!) && !l.key!.endsWith("_FILE")) {
        throw new Error(`line ${l.line}: ${l.key} carries a value; use ${l.key}_FILE`);
      }
    }
    expect(compose).not.toMatch(HEX64);
    expect(compose).not.toMatch(/dtl_admin_/);
    expect(compose).not.toMatch(/postgres(ql)?:\/\/[^/\s:@]+:[^/\s@]+@/);
    expect(compose).not.toMatch(/^\s*env_file:/m);
  });

  it("runs the api under an init process, so SIGTERM from docker stop reaches the server and children are reaped", () => {
    expect(at("services", "api").find((l) => l.key === "init")?.value).toBe("true");
    expect(at("services", "api").find((l) => l.key === "stop_signal")?.value ?? "SIGTERM").toBe(
      "SIGTERM",
    );
  });

  it("runs both containers as the secrets' owner, not root", () => {
    for (const s of services) {
      expect(at("services", s).find((l) => l.key === "user")?.value, s).toBe(
        "${DATATOOLS_UID:-10001}:${DATATOOLS_GID:-10001}",
      );
    }
  });
});

describe("deploy/ as a whole", () => {
  it("contains no private key, admin token or password in any file", () => {
    for (const file of deployFiles()) {
      const text = readFileSync(file, "utf8");
      expect(text, file).not.toMatch(HEX64);
      expect(text, file).not.toMatch(/dtl_admin_[A-Za-z0-9_-]{20,}/);
      expect(text, file).not.toMatch(/(PASSWORD|PRIVKEY)=[^\s"'$]/);
    }
  });
});

describe("deploy/Dockerfile", () => {
  const stages = dockerfile.split(/^FROM /m).slice(1);
  const runtime = stages.at(-1) ?? "";

  it("builds in one stage and ships a runtime stage with production dependencies only", () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    expect(stages[0]).toMatch(/npm ci\b(?!.*--omit=dev)/);
    expect(stages[0]).toMatch(/tsc -p tsconfig\.build\.json/);
    expect(runtime).toMatch(/npm ci --omit=dev/);
    expect(runtime).toMatch(/COPY --from=build \/app\/dist/);
    expect(runtime).not.toMatch(/COPY (\.\/)?src\b/);
  });

  it("runs as a non-root user with a HEALTHCHECK on /healthz", () => {
    const user = /^USER\s+(\S+)/m.exec(runtime)?.[1] ?? "";
    expect(user).not.toBe("");
    expect(user).not.toMatch(/^(root|0)(:|$)/);
    expect(runtime).toMatch(/^HEALTHCHECK .*\/healthz/ms);
    expect(runtime).toMatch(/^ENV NODE_ENV=production/m);
  });

  it("starts the server in exec form, with node as the process that receives SIGTERM (no shell, no npm)", () => {
    const cmd = /^CMD\s+(\[.*\])\s*$/m.exec(runtime)?.[1];
    expect(cmd).toBeDefined();
    const argv = JSON.parse(cmd!) as string[];
    expect(argv[0]).toBe("node");
    expect(argv.slice(-1)).toEqual(["serve"]);
    expect(runtime).toMatch(/^STOPSIGNAL SIGTERM$/m);
  });

  it("bakes in no secret", () => {
    expect(dockerfile).not.toMatch(/^(ENV|ARG)\s+.*(PRIVKEY|PASSWORD|TOKEN)(?!_FILE)/m);
    expect(dockerfile).not.toMatch(/COPY .*secrets/);
  });
});
