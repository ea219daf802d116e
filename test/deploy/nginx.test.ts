// The nginx site file passes `nginx -t` (with a self-signed certificate in place of Let's Encrypt's) and keeps the runbook's rules.
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const ROOT = resolve(import.meta.dirname, "../..");
const SITE = join(ROOT, "deploy/nginx/unalogix");
const RATELIMIT = join(ROOT, "deploy/nginx/unalogix-ratelimit.conf");
const ADAPT = join(ROOT, "deploy/drill/adapt-nginx.sh");
const site = readFileSync(SITE, "utf8");

function which(cmd: string): string | undefined {
  const r = spawnSync("sh", ["-c", `command -v ${cmd}`], { encoding: "utf8" });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

/** The server blocks of the site, as text. */
function serverBlocks(text: string): string[] {
  const blocks: string[] = [];
  const re = /^server \{$/gm;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text))) {
    const end = text.indexOf("\n}\n", m.index);
    blocks.push(text.slice(m.index, end + 2));
  }
  return blocks;
}

const NGINX = which("nginx") ?? (which("/usr/sbin/nginx") ? "/usr/sbin/nginx" : undefined);
// In CI (CI set) these fail, not skip, without nginx: .ci/run installs it, and a
// skipped check proves nothing. On a developer's machine without nginx they are skipped.
const NEED_NGINX = Boolean(NGINX) || Boolean(process.env.CI);

describe.skipIf(!NEED_NGINX)("deploy/nginx/unalogix under nginx -t", () => {
  let dir: string;
  const nginx = NGINX;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "dtl-nginx-"));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** Writes nginx.conf including `siteText` and runs nginx -t on it. */
  function nginxTest(siteText: string, includeRateLimit = true) {
    expect(nginx, "nginx is not installed; .ci/run installs it with apt-get").toBeDefined();
    const run = mkdtempSync(join(dir, "run-"));
    mkdirSync(join(run, "logs"));
    writeFileSync(join(run, "site.conf"), siteText);
    // Run as root, nginx switches its workers to this user; without root it cannot.
    const asRoot = process.getuid?.() === 0;
    const hasWwwData = spawnSync("id", ["www-data"]).status === 0;
    const user = !asRoot ? "" : hasWwwData ? "user www-data;" : "user nobody nogroup;";
    writeFileSync(
      join(run, "nginx.conf"),
      `${user}
pid ${run}/nginx.pid;
error_log ${run}/logs/error.log;
events { worker_connections 64; }
http {
  client_body_temp_path ${run}/body;
  proxy_temp_path ${run}/proxy;
  fastcgi_temp_path ${run}/fastcgi;
  uwsgi_temp_path ${run}/uwsgi;
  scgi_temp_path ${run}/scgi;
  access_log ${run}/logs/access.log;
  ${includeRateLimit ? `include ${RATELIMIT};` : ""}
  include ${run}/site.conf;
}
`,
    );
    return spawnSync(nginx!, ["-t", "-q", "-c", join(run, "nginx.conf"), "-p", `${run}/`], {
      encoding: "utf8",
    });
  }

  function adapted(extra: string[] = []): string {
    const certDir = join(dir, "cert");
    mkdirSync(certDir, { recursive: true });
    mkdirSync(join(dir, "logs"), { recursive: true });
    const cert = join(certDir, "fullchain.pem");
    const key = join(certDir, "privkey.pem");
    execFileSync(
      "openssl",
      [
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        key,
        "-out",
        cert,
        "-days",
        "2",
        "-subj",
        "/CN=license.unalogix.com",
        "-addext",
        "subjectAltName=DNS:license.unalogix.com",
      ],
      { stdio: "ignore" },
    );
    return execFileSync(
      "bash",
      [
        ADAPT,
        "--cert",
        cert,
        "--key",
        key,
        "--http-port",
        "18080",
        "--https-port",
        "18443",
        "--log-dir",
        join(dir, "logs"),
        ...extra,
      ],
      { encoding: "utf8" },
    );
  }

  it("passes nginx -t with a self-signed certificate swapped in", () => {
    const r = nginxTest(adapted());
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
  });

  it("passes nginx -t in its bootstrap form, before the first certificate exists", () => {
    const r = nginxTest(adapted(["--bootstrap"]));
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
  });

  it("fails nginx -t without the rate-limit zones, which must be installed in conf.d", () => {
    const r = nginxTest(adapted(), false);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/zone "unalogix_(verify|api)"/);
  });

  it("changes only certificate paths, listen directives and (here) log paths when adapted", () => {
    const before = site.split("\n");
    const after = adapted().split("\n");
    const changed = before.filter((l) => !after.includes(l));
    for (const l of changed) {
      expect(l).toMatch(
        /^\s*(listen |ssl_certificate(_key)? \/etc\/letsencrypt\/|(access|error)_log )/,
      );
    }
  });
});

describe("deploy/nginx/unalogix rules", () => {
  const [http, https] = serverBlocks(site);

  it("has one server on port 80 and one on 443, for license.unalogix.com only, claiming no default", () => {
    expect(serverBlocks(site)).toHaveLength(2);
    expect(http).toMatch(/^\s*listen 80;$/m);
    expect(https).toMatch(/^\s*listen 443 ssl http2;$/m);
    for (const b of [http!, https!]) {
      expect(b).toMatch(/^\s*server_name license\.unalogix\.com;$/m);
    }
    expect(site).not.toMatch(/^\s*listen [^#\n]*default_server/m);
  });

  it("serves only the ACME challenge and a redirect over plain HTTP", () => {
    expect(http).toMatch(
      /location \^~ \/\.well-known\/acme-challenge\/ \{[^}]*root \/var\/www\/unalogix-acme;/,
    );
    expect(http).toMatch(
      /location \/ \{\s*return 301 https:\/\/license\.unalogix\.com\$request_uri;\s*\}/,
    );
    expect(http).not.toMatch(/proxy_pass/);
  });

  it("uses the Let's Encrypt paths, TLS 1.2+, HSTS and its own log files over HTTPS", () => {
    expect(https).toMatch(
      /ssl_certificate \/etc\/letsencrypt\/live\/license\.unalogix\.com\/fullchain\.pem;/,
    );
    expect(https).toMatch(
      /ssl_certificate_key \/etc\/letsencrypt\/live\/license\.unalogix\.com\/privkey\.pem;/,
    );
    expect(https).toMatch(/ssl_protocols TLSv1\.2 TLSv1\.3;/);
    expect(https).toMatch(/add_header Strict-Transport-Security "max-age=\d{8,}" always;/);
    for (const b of [http!, https!]) {
      expect(b).toMatch(/access_log \/var\/log\/nginx\/unalogix\.access\.log;/);
      expect(b).toMatch(/error_log \/var\/log\/nginx\/unalogix\.error\.log/);
    }
  });

  it("proxies to the loopback API, passes the client address on and limits body size and verify rate", () => {
    expect(site).toMatch(/server 127\.0\.0\.1:8090\b/);
    expect(https).toMatch(/proxy_set_header X-Forwarded-For \$remote_addr;/);
    expect(https).toMatch(/proxy_set_header X-Real-IP \$remote_addr;/);
    expect(https).toMatch(/proxy_set_header X-Forwarded-Proto \$scheme;/);
    expect(https).toMatch(/client_max_body_size \d+k;/);
    expect(https).toMatch(
      /location = \/v1\/licenses\/verify \{[^}]*limit_req zone=unalogix_verify/,
    );
    expect(readFileSync(RATELIMIT, "utf8")).toMatch(
      /^limit_req_zone \$binary_remote_addr zone=unalogix_verify:\d+m rate=\d+r\/s;$/m,
    );
    expect(site).not.toMatch(/^\s*limit_req_zone/m);
  });
});
