#!/usr/bin/env bash
# The deployment drill (`npm run drill`): the production layout on loopback,
# without Docker. A throwaway PostgreSQL on 127.0.0.1:5433, the server on
# 127.0.0.1:8090 reading its secrets from a mode-400 folder, and nginx with the
# repository's site file (only certificate paths and listen ports changed);
# then smoke test over TLS, issue, back up, destroy, restore, verify, rotate the
# key and re-issue. Every dtlicense command of the runbook runs as the image
# runs it: exactly the environment deploy/Dockerfile (docker run) or that plus
# deploy/compose.yaml (docker compose exec/run api) sets, read from those files,
# as uid 10001 when the drill runs as root. Stops everything it started; exits
# non-zero on any failure.
set -euo pipefail

PROG=drill.sh
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
PG_PORT="${DRILL_PG_PORT:-5433}"
API_PORT="${DRILL_API_PORT:-8090}"
HTTP_PORT="${DRILL_HTTP_PORT:-8080}"
HTTPS_PORT="${DRILL_HTTPS_PORT:-8443}"
SMTP_PORT="${DRILL_SMTP_PORT:-2525}"
HOST=license.unalogix.com
LICENSES=12
DEADLINE_SECONDS="${DRILL_DEADLINE_SECONDS:-300}"
KEEP=0

usage() {
  cat <<EOF
Usage: $PROG [--keep]

Runs the deployment drill on loopback (see the header of this file and
docs/SETUP-LICENSE-SERVER.md, "The drill"). Needs PostgreSQL 15 server
binaries (/usr/lib/postgresql/15/bin), nginx, openssl, curl, jq and a built
dist/ (npm run build). Ports: PostgreSQL $PG_PORT, API $API_PORT, nginx
$HTTP_PORT/$HTTPS_PORT, the SMTP sink $SMTP_PORT (DRILL_PG_PORT, DRILL_API_PORT,
DRILL_HTTP_PORT, DRILL_HTTPS_PORT, DRILL_SMTP_PORT override them). Gives up
after $DEADLINE_SECONDS s.

  --keep      keep the work folder (logs, dumps, secrets) after a success
  -h, --help  show this help
EOF
}
while [ $# -gt 0 ]; do
  case "$1" in
    --keep) KEEP=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) echo "$PROG: unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
done

START=$(date +%s)
STEP_START=$START
STEP="setup"
step() {
  local now
  now=$(date +%s)
  [ "$STEP" = setup ] || echo "$PROG: ---- done: $STEP ($((now - STEP_START)) s)"
  STEP="$1"
  STEP_START=$now
  echo "$PROG: ---- $STEP"
}
fail() {
  echo "$PROG: FAILED in step '$STEP': $*" >&2
  exit 1
}
check() {
  # check "what" command...: runs the command, fails the drill with "what" if it fails.
  local what="$1"
  shift
  "$@" || fail "$what"
}

# --- prerequisites ---------------------------------------------------------
PG_BIN="${DRILL_PG_BIN:-}"
if [ -z "$PG_BIN" ]; then
  for d in /usr/lib/postgresql/15/bin /usr/lib/postgresql/*/bin; do
    if [ -x "$d/initdb" ]; then PG_BIN="$d"; break; fi
  done
fi
[ -n "$PG_BIN" ] && [ -x "$PG_BIN/initdb" ] || fail "no PostgreSQL server binaries (initdb) under /usr/lib/postgresql; set DRILL_PG_BIN"
NGINX="$(command -v nginx || echo /usr/sbin/nginx)"
[ -x "$NGINX" ] || fail "nginx is not installed (apt-get install nginx; .ci/run does it)"
for tool in openssl curl jq node; do
  command -v "$tool" >/dev/null || fail "$tool is not installed"
done
[ -f "$ROOT/dist/cli/main.js" ] || fail "dist/ is not built; run npm run build"
for port in "$PG_PORT" "$API_PORT" "$HTTP_PORT" "$HTTPS_PORT" "$SMTP_PORT"; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    fail "port $port on 127.0.0.1 is already in use; stop what uses it or set the DRILL_*_PORT variables"
  fi
done

WORK="$(mktemp -d /tmp/dtl-drill.XXXXXX)"
chmod 755 "$WORK"
AS_ROOT=0
[ "$(id -u)" = 0 ] && AS_ROOT=1
SECRETS="$WORK/secrets"
CONFIG="$WORK/config" # /srv/datatools-license/config, mounted at /etc/datatools-license
DATA="$WORK/data"
DB_URL="postgres://datatools@127.0.0.1:$PG_PORT/licenses"

# --- the image's environment -------------------------------------------------
# The image's user: uid/gid 10001 (deploy/Dockerfile USER, compose's DATATOOLS_UID).
# As root the drill runs every dtlicense command, the server and the backup as that
# user, owning the secrets as in production; otherwise as the user running the drill.
IMAGE_UID=10001
AS_IMAGE_USER=()
OWNED=()
if [ "$AS_ROOT" = 1 ]; then
  command -v setpriv >/dev/null || fail "setpriv is not installed (util-linux); it runs commands as uid $IMAGE_UID"
  AS_IMAGE_USER=(setpriv "--reuid=$IMAGE_UID" "--regid=$IMAGE_UID" --clear-groups)
  OWNED=(-o "$IMAGE_UID" -g "$IMAGE_UID")
fi
OWNER_UID="$IMAGE_UID"
[ "$AS_ROOT" = 1 ] || OWNER_UID="$(id -u)"
give_to_image_user() {
  if [ "$AS_ROOT" = 1 ]; then chown "$IMAGE_UID:$IMAGE_UID" "$@"; fi
}
# The variables of deploy/Dockerfile's runtime stage (its last ENV instructions), KEY=value a line.
dockerfile_env() {
  awk '/^FROM / { env = ""; inenv = 0 }
       /^ENV[ \t]/ { inenv = 1; sub(/^ENV[ \t]+/, "") }
       inenv { line = $0; cont = sub(/[ \t]*\\$/, "", line); env = env " " line; if (!cont) inenv = 0 }
       END { print env }' "$ROOT/deploy/Dockerfile" | tr -s ' \t' '\n\n' | grep -v '^$'
}
# The api service's environment in deploy/compose.yaml, KEY=value a line.
compose_env() {
  awk '/^[^ #]/ { api = 0 }
       /^  [^ #]/ { api = ($0 == "  api:") }
       /^    [^ #]/ { inenv = api && ($0 == "    environment:") }
       inenv && /^      [A-Za-z0-9_]+:/ {
         k = $1; sub(/:$/, "", k); v = $0; sub(/^ *[A-Za-z0-9_]+:[ ]*/, "", v)
         if (v ~ /^".*"$/ || v ~ /^\x27.*\x27$/) v = substr(v, 2, length(v) - 2)
         # ${NAME:-default} from compose.env: the drill has none, so the default.
         if (v ~ /^\$\{[A-Za-z0-9_]+:-.*\}$/) { sub(/^\$\{[A-Za-z0-9_]+:-/, "", v); sub(/\}$/, "", v) }
         print k "=" v
       }' "$ROOT/deploy/compose.yaml"
}
# Container paths to the drill's: /run/secrets/X, the config folder (products file),
# the data folder, postgres:5432.
map_env() {
  local kv k v
  while IFS= read -r kv; do
    k="${kv%%=*}"
    v="${kv#*=}"
    case "$v" in
      /run/secrets/*) v="$SECRETS/${v#/run/secrets/}" ;;
      /etc/datatools-license/*) v="$CONFIG/${v#/etc/datatools-license/}" ;;
    esac
    case "$k" in
      DATATOOLS_DATA_DIR) v="$DATA" ;;
      DATABASE_URL) v="$DB_URL" ;;
    esac
    printf '%s=%s\n' "$k" "$v"
  done
}
# A variable set twice (compose over the Dockerfile) keeps its last value, in its first place.
last_wins() {
  awk '{ k = substr($0, 1, index($0, "=") - 1); if (!(k in v)) order[++n] = k; v[k] = $0 }
       END { for (i = 1; i <= n; i++) print v[order[i]] }'
}
mapfile -t IMAGE_VARS < <(dockerfile_env | map_env | last_wins)
mapfile -t COMPOSE_VARS < <({ dockerfile_env; compose_env; } | map_env | last_wins)
printf '%s\n' "${IMAGE_VARS[@]}" | grep -qx 'NODE_ENV=production' ||
  fail "cannot read NODE_ENV=production from deploy/Dockerfile (read: ${IMAGE_VARS[*]})"
printf '%s\n' "${COMPOSE_VARS[@]}" | grep -q '^DATABASE_PASSWORD_FILE=' ||
  fail "cannot read the api service's environment from deploy/compose.yaml (read: ${COMPOSE_VARS[*]})"
# The secret that carries the database password: as deploy/compose.yaml passes it
# (DATABASE_URL + DATABASE_PASSWORD_FILE), or with DRILL_DB_SECRET=url-file a mode-400
# DATABASE_URL_FILE holding the whole URL.
if [ "${DRILL_DB_SECRET:-password-file}" = url-file ]; then
  mapfile -t COMPOSE_VARS < <(printf '%s\n' "${COMPOSE_VARS[@]}" | grep -v '^DATABASE_URL=\|^DATABASE_PASSWORD_FILE=')
  COMPOSE_VARS+=("DATABASE_URL_FILE=$SECRETS/database-url")
fi
# Docker's HOME for the image's user (its passwd entry) and the node image's PATH.
BASE_VARS=("PATH=$(dirname "$(command -v node)"):/usr/local/bin:/usr/bin:/bin" "HOME=/nonexistent")
MAIN="$ROOT/dist/cli/main.js" # /usr/local/bin/dtlicense in the image
# docker run <image> dtlicense …
IN_IMAGE=(env -i "${IMAGE_VARS[@]}" "${BASE_VARS[@]}" "${AS_IMAGE_USER[@]}" node "$MAIN")
# docker compose exec|run api dtlicense …
IN_API=(env -i "${COMPOSE_VARS[@]}" "${BASE_VARS[@]}" "${AS_IMAGE_USER[@]}" node "$MAIN")
# The server: the api service's environment, except that it listens on 127.0.0.1:$API_PORT
# (the container's 0.0.0.0:8090 is published on 127.0.0.1:8090 only; without the container
# 0.0.0.0 would open the port to the network).
DRILL_OVERRIDES=("DATATOOLS_SERVER_HOST=127.0.0.1" "DATATOOLS_SERVER_PORT=$API_PORT")
SERVE=(env -i "${COMPOSE_VARS[@]}" "${BASE_VARS[@]}" "${DRILL_OVERRIDES[@]}" "${AS_IMAGE_USER[@]}" node "$MAIN" serve)
SERVER_PID=""
NGINX_STARTED=0
PG_STARTED=0

pg_as_owner() {
  # PostgreSQL refuses to run as root: run its binaries as the postgres user then.
  if [ "$AS_ROOT" = 1 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
stop_server() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 1 50); do
      kill -0 "$SERVER_PID" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  SERVER_PID=""
}
cleanup() {
  local code=$?
  trap - EXIT INT TERM
  if [ -n "${WATCHDOG:-}" ]; then kill "$WATCHDOG" 2>/dev/null || true; fi
  stop_server
  if [ -n "${SMTP_PID:-}" ]; then kill "$SMTP_PID" 2>/dev/null || true; fi
  if [ "$NGINX_STARTED" = 1 ]; then
    "$NGINX" -c "$WORK/nginx/nginx.conf" -p "$WORK/nginx/" -s stop 2>/dev/null || true
  fi
  if [ "$PG_STARTED" = 1 ]; then
    pg_as_owner "$PG_BIN/pg_ctl" -D "$WORK/pg/data" -m fast -w stop >/dev/null 2>&1 || true
  fi
  if [ "$code" != 0 ]; then
    echo "$PROG: logs kept in $WORK (server.log, pg/log, nginx/logs)" >&2
    for f in "$WORK/server.log" "$WORK/nginx/logs/error.log"; do
      [ -s "$f" ] && { echo "--- tail of $f" >&2; tail -n 15 "$f" >&2; }
    done
  elif [ "$KEEP" = 1 ]; then
    echo "$PROG: work folder kept: $WORK"
  else
    rm -rf "$WORK"
  fi
  exit "$code"
}
trap cleanup EXIT
trap 'fail "interrupted"' INT TERM
# The drill is bounded: past the deadline the watchdog stops it (cleanup still runs).
# Its sleep must not hold the drill's output open after the drill ends.
(
  trap 'kill "$sleeper" 2>/dev/null; exit 0' TERM
  sleep "$DEADLINE_SECONDS" >/dev/null 2>&1 &
  sleeper=$!
  wait "$sleeper"
  echo "$PROG: deadline of $DEADLINE_SECONDS s passed" >&2
  kill -TERM $$
) &
WATCHDOG=$!

# --- PostgreSQL --------------------------------------------------------------
step "start a throwaway PostgreSQL on 127.0.0.1:$PG_PORT"
mkdir -p "$WORK/pg"
DB_PASSWORD="$(openssl rand -hex 24)"
printf '%s\n' "$DB_PASSWORD" >"$WORK/pg/pwfile"
if [ "$AS_ROOT" = 1 ]; then chown -R postgres: "$WORK/pg"; fi
chmod 700 "$WORK/pg"
check "initdb failed" pg_as_owner "$PG_BIN/initdb" -D "$WORK/pg/data" -U datatools \
  --auth=scram-sha-256 --pwfile="$WORK/pg/pwfile" --encoding=UTF8 --locale=C.UTF-8 >/dev/null
rm -f "$WORK/pg/pwfile"
# Set before the start: a start that times out may still leave a postmaster to stop.
PG_STARTED=1
check "pg_ctl start failed (see $WORK/pg/log)" pg_as_owner "$PG_BIN/pg_ctl" -D "$WORK/pg/data" \
  -l "$WORK/pg/log" -w -t 30 \
  -o "-c listen_addresses=127.0.0.1 -c port=$PG_PORT -c unix_socket_directories=$WORK/pg" start >/dev/null

# --- secrets -------------------------------------------------------------------
step "runbook step 5 in the image's environment, before any key exists: help, version, keypair"
echo "$PROG: docker run environment: ${IMAGE_VARS[*]} (uid $OWNER_UID)"
check "dtlicense --help failed in the image's environment" "${IN_IMAGE[@]}" --help >/dev/null
[ "$("${IN_IMAGE[@]}" --version)" = "$(jq -r .version "$ROOT/package.json")" ] ||
  fail "dtlicense --version in the image's environment does not print package.json's version"
install -d -m 700 "${OWNED[@]}" "$WORK/keypair"
check "dtlicense keypair failed in the image's environment" \
  "${IN_IMAGE[@]}" keypair --output "$WORK/keypair/keypair.env" 2>/dev/null
# The file loads as an env file (comments on their own lines): two 64-hex keys.
[ "$(env -i node --env-file="$WORK/keypair/keypair.env" -e \
  'const e = process.env; console.log(/^[0-9a-f]{64}$/.test(e.DATATOOLS_LICENSE_PRIVKEY) && /^[0-9a-f]{64}$/.test(e.DATATOOLS_LICENSE_PUBKEY))')" = true ] ||
  fail "keypair.env does not load as two 64-hex keys with node --env-file"

step "secrets folder (mode 700, files mode 400, owned by uid $OWNER_UID) and the first signing key, made by the image"
install -d -m 700 "${OWNED[@]}" "$SECRETS"
(umask 277 && printf '%s\n' "$DB_PASSWORD" >"$SECRETS/db-password")
(umask 277 && "${IN_IMAGE[@]}" admin token generate >"$SECRETS/admin-token") || fail "admin token generate failed in the image's environment"
grep -Eqx 'dtl_admin_[A-Za-z0-9_-]{43}' "$SECRETS/admin-token" || fail "admin token generate wrote no token to admin-token"
give_to_image_user "$SECRETS/db-password" "$SECRETS/admin-token"
# Store sales wired in but off (docs/SELLING.md): empty secrets and an empty products file.
STORE_SECRETS=(stripe-webhook-secret lemonsqueezy-webhook-secret smtp-password)
for f in "${STORE_SECRETS[@]}"; do (umask 277 && : >"$SECRETS/$f") && give_to_image_user "$SECRETS/$f"; done
install -d -m 755 "$CONFIG"
printf '{}\n' >"$CONFIG/products.json"
chmod 644 "$CONFIG/products.json"
check "keys rotate (first key) failed in the image's environment" \
  "${IN_IMAGE[@]}" keys rotate --secrets-dir "$SECRETS" --json >"$WORK/rotate-1.json" 2>/dev/null
KID1="$(jq -r .kid "$WORK/rotate-1.json")"
check_secrets() {
  local f
  for f in "$SECRETS"/*; do
    [ "$(stat -c %a "$f")" = 400 ] || fail "$f has mode $(stat -c %a "$f"), not 400"
    [ "$(stat -c %u "$f")" = "$OWNER_UID" ] || fail "$f is owned by uid $(stat -c %u "$f"), not $OWNER_UID"
  done
}
check_secrets
echo "$PROG: signing key $KID1; secrets: $(cd "$SECRETS" && ls | tr '\n' ' ')"
export PGPASSFILE="$WORK/pgpass"
(umask 077 && printf '127.0.0.1:%s:*:datatools:%s\n' "$PG_PORT" "$DB_PASSWORD" >"$PGPASSFILE")
PSQL=("$PG_BIN/psql" -X -q -At -v ON_ERROR_STOP=1 --no-password)
check "cannot create the licenses database" "${PSQL[@]}" -d "postgres://datatools@127.0.0.1:$PG_PORT/postgres" \
  -c "CREATE DATABASE licenses"

if [ "${DRILL_DB_SECRET:-password-file}" = url-file ]; then
  (umask 277 && printf 'postgres://datatools:%s@127.0.0.1:%s/licenses\n' "$DB_PASSWORD" "$PG_PORT" >"$SECRETS/database-url")
  give_to_image_user "$SECRETS/database-url"
fi
# The data folder: in compose a tmpfs of mode 700 owned by the image's user.
install -d -m 700 "${OWNED[@]}" "$DATA"
API="http://127.0.0.1:$API_PORT"
TOKEN="$(cat "$SECRETS/admin-token")"

start_server() {
  "${SERVE[@]}" >>"$WORK/server.log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 1 150); do
    if curl -fsS -o /dev/null "$API/readyz" 2>/dev/null; then return 0; fi
    kill -0 "$SERVER_PID" 2>/dev/null || fail "the server exited during start-up (see $WORK/server.log)"
    # A start-up error is one line ending in its code; do not wait out the timeout for it.
    if grep -q '^dtlicense: .*\[[A-Z_]*\]$' "$WORK/server.log"; then
      fail "the server failed to start: $(grep '^dtlicense: .*\[[A-Z_]*\]$' "$WORK/server.log" | tail -n 1)"
    fi
    sleep 0.2
  done
  fail "the server did not become ready within 30 s"
}

# api METHOD PATH [JSON] → body on stdout; fails the drill unless the status is 2xx.
api() {
  local out status
  out="$(mktemp -p "$WORK")"
  status="$(curl -sS -o "$out" -w '%{http_code}' -X "$1" -H "Authorization: Bearer $TOKEN" \
    ${3:+-H 'Content-Type: application/json' --data-binary "$3"} "$API$2")" || fail "$1 $2: no answer"
  case "$status" in 2??) cat "$out" ;; *) fail "$1 $2: HTTP $status $(head -c 300 "$out")" ;; esac
  rm -f "$out"
}
# verify BLOB → the verify endpoint's JSON (public, no token), straight from the API.
verify() {
  jq -n --arg blob "$1" '{blob: $blob}' |
    curl -sS -H 'Content-Type: application/json' --data-binary @- "$API/v1/licenses/verify"
}

# --- server --------------------------------------------------------------------
step "start the server in the api service's environment on 127.0.0.1:$API_PORT; doctor, admin token create (steps 6, 9)"
echo "$PROG: docker compose exec api environment: ${COMPOSE_VARS[*]} (uid $OWNER_UID)"
echo "$PROG: the server's only changes to it: ${DRILL_OVERRIDES[*]}"
start_server
check "doctor found problems in the drill's deployment" \
  "${IN_API[@]}" doctor --secrets-dir "$SECRETS" >"$WORK/doctor-1.txt"
grep -q '^FAIL' "$WORK/doctor-1.txt" && fail "doctor reported a problem: $(grep '^FAIL' "$WORK/doctor-1.txt")"
echo "$PROG: doctor: $(tail -n 1 "$WORK/doctor-1.txt")"
OPS_TOKEN="$("${IN_API[@]}" admin token create --name "drill ops" 2>/dev/null)" ||
  fail "admin token create failed in the api service's environment"
[ "$(curl -sS -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $OPS_TOKEN" "$API/v1/counts")" = 200 ] ||
  fail "the token admin token create made is not accepted by the API"
"${IN_API[@]}" admin token list | grep -q ' drill ops ' || fail "admin token list does not show the new token"

# --- nginx -------------------------------------------------------------------
step "nginx with deploy/nginx/unalogix on 127.0.0.1:$HTTP_PORT/$HTTPS_PORT (self-signed CA)"
TLS="$WORK/tls"
mkdir -p "$TLS" "$WORK/nginx/logs"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
  -subj "/CN=datatools-license drill CA" -keyout "$TLS/ca.key" -out "$TLS/ca.pem" 2>/dev/null ||
  fail "openssl could not make the CA"
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$HOST" \
  -keyout "$TLS/privkey.pem" -out "$TLS/server.csr" 2>/dev/null || fail "openssl could not make a key"
# IP:127.0.0.1 too: the buyer's command line reaches nginx by address (Node has no --resolve).
printf 'subjectAltName=DNS:%s,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' "$HOST" >"$TLS/ext.cnf"
openssl x509 -req -in "$TLS/server.csr" -CA "$TLS/ca.pem" -CAkey "$TLS/ca.key" -CAcreateserial \
  -days 30 -extfile "$TLS/ext.cnf" -out "$TLS/cert.pem" 2>/dev/null || fail "openssl could not sign"
cat "$TLS/cert.pem" "$TLS/ca.pem" >"$TLS/fullchain.pem"
ADAPT=(bash "$ROOT/deploy/drill/adapt-nginx.sh" --cert "$TLS/fullchain.pem" --key "$TLS/privkey.pem"
  --http-port "$HTTP_PORT" --https-port "$HTTPS_PORT")
# Without root nginx cannot write /var/log/nginx; then the site's logs move too.
[ "$AS_ROOT" = 1 ] || ADAPT+=(--log-dir "$WORK/nginx/logs")
check "adapting the site file failed" "${ADAPT[@]}" >"$WORK/nginx/unalogix"
diff "$ROOT/deploy/nginx/unalogix" "$WORK/nginx/unalogix" >"$WORK/nginx/site.diff" || true
USER_LINE=""
if [ "$AS_ROOT" = 1 ]; then
  if id www-data >/dev/null 2>&1; then USER_LINE="user www-data;"; else USER_LINE="user nobody nogroup;"; fi
fi
cat >"$WORK/nginx/nginx.conf" <<EOF
$USER_LINE
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/logs/error.log;
events { worker_connections 256; }
http {
  client_body_temp_path $WORK/nginx/body;
  proxy_temp_path $WORK/nginx/proxy;
  fastcgi_temp_path $WORK/nginx/fastcgi;
  uwsgi_temp_path $WORK/nginx/uwsgi;
  scgi_temp_path $WORK/nginx/scgi;
  access_log $WORK/nginx/logs/access.log;
  include $ROOT/deploy/nginx/unalogix-ratelimit.conf;
  include $WORK/nginx/unalogix;
}
EOF
check "nginx -t failed on the site file" "$NGINX" -t -q -c "$WORK/nginx/nginx.conf" -p "$WORK/nginx/"
NGINX_STARTED=1
check "nginx did not start" "$NGINX" -c "$WORK/nginx/nginx.conf" -p "$WORK/nginx/"
PUBLIC="https://$HOST:$HTTPS_PORT"
CURL_PUBLIC=(curl -sS --cacert "$TLS/ca.pem" --resolve "$HOST:$HTTPS_PORT:127.0.0.1")
for _ in $(seq 1 50); do
  "${CURL_PUBLIC[@]}" -o /dev/null "$PUBLIC/healthz" 2>/dev/null && break
  sleep 0.1
done
redirect="$(curl -sS -o /dev/null -w '%{http_code} %{redirect_url}' -H "Host: $HOST" \
  "http://127.0.0.1:$HTTP_PORT/v1/licenses?x=1")" || fail "no answer on port $HTTP_PORT"
[ "$redirect" = "301 https://$HOST/v1/licenses?x=1" ] || fail "port 80 block: expected a 301 to https, got '$redirect'"
echo "$PROG: plain HTTP redirects: $redirect"

# --- smoke test ------------------------------------------------------------------
step "smoke-test.sh through nginx over TLS"
SMOKE=(bash "$ROOT/deploy/scripts/smoke-test.sh" --url "$PUBLIC" --cacert "$TLS/ca.pem"
  --resolve "$HOST:$HTTPS_PORT:127.0.0.1" --min-days 7)
check "smoke test failed" "${SMOKE[@]}"
# The server saw the client address nginx passed on (X-Forwarded-For from a trusted proxy).
metrics_via_edge="$("${CURL_PUBLIC[@]}" -o /dev/null -w '%{http_code}' "$PUBLIC/metrics")"
[ "$metrics_via_edge" = 404 ] || fail "/metrics is reachable through nginx (HTTP $metrics_via_edge)"
# Client address: nginx replaces a client's X-Forwarded-For with the connection's
# address, and the server believes the header only from its trusted proxies (loopback).
"${CURL_PUBLIC[@]}" -o /dev/null -H 'X-Forwarded-For: 203.0.113.9' "$PUBLIC/drill-xff-edge" || true
curl -sS -o /dev/null -H 'X-Forwarded-For: 203.0.113.7' "$API/drill-xff-direct" || true
sleep 0.3
ip_of() { grep "\"path\":\"$1\"" "$WORK/server.log" | tail -n 1 | sed -E 's/.*"ip":"([^"]*)".*/\1/'; }
[ "$(ip_of /drill-xff-edge)" = 127.0.0.1 ] ||
  fail "a client's own X-Forwarded-For got through nginx (server saw $(ip_of /drill-xff-edge))"
[ "$(ip_of /drill-xff-direct)" = 203.0.113.7 ] ||
  fail "the server ignored X-Forwarded-For from its trusted proxy (saw $(ip_of /drill-xff-direct))"
# The admin console through nginx over TLS: its cookies are Secure (the proxy's
# X-Forwarded-Proto), and it sends its Content-Security-Policy.
console_headers="$("${CURL_PUBLIC[@]}" -o /dev/null -D - "$PUBLIC/admin/sign-in" | tr -d '\r')" ||
  fail "the console's sign-in page did not answer through nginx"
grep -qi '^set-cookie: dtl_console_signin=.*; Secure' <<<"$console_headers" ||
  fail "the console's cookie is not Secure over TLS: $(grep -i '^set-cookie' <<<"$console_headers")"
grep -qi "^content-security-policy: .*frame-ancestors 'none'" <<<"$console_headers" ||
  fail "the console's page came without its Content-Security-Policy"
echo "$PROG: the console answers over TLS with a Secure cookie"
echo "$PROG: client address: spoofed header through nginx ignored; trusted proxy's header used"

# --- issue ---------------------------------------------------------------------
step "issue $LICENSES licenses via the API, revoke one, suspend one"
mkdir -p "$WORK/issued"
TIERS=(lite core pro)
for i in $(seq 1 "$LICENSES"); do
  body="$(jq -nc --arg n "Drill Buyer $i" --arg e "buyer$i@example.com" --arg t "${TIERS[$((i % 3))]}" \
    --argjson y $((1 + i % 3)) '{name: $n, email: $e, tier: $t, years: $y}')"
  api POST /v1/licenses "$body" >"$WORK/issued/$i.json"
  [ "$(jq -r .kid "$WORK/issued/$i.json")" = "$KID1" ] || fail "license $i was not signed by $KID1"
done
KEY_REVOKED="$(jq -r .license_key "$WORK/issued/1.json")"
KEY_SUSPENDED="$(jq -r .license_key "$WORK/issued/2.json")"
api POST "/v1/licenses/$KEY_REVOKED/revoke" '{"reason":"drill: refunded"}' >/dev/null
api POST "/v1/licenses/$KEY_SUSPENDED/suspend" '{"reason":"drill: chargeback"}' >/dev/null
jq -r .blob "$WORK/issued/3.json" >"$WORK/blob-3.txt"
check "smoke test with a genuine blob failed" "${SMOKE[@]}" --blob-file "$WORK/blob-3.txt" >/dev/null
# The issuance log of these licenses, as the creator's ledger would hold them.
for i in $(seq 1 "$LICENSES"); do
  jq -c '{license_key, name, email, tier, issued_at, expires_at, blob}' "$WORK/issued/$i.json"
done >"$WORK/issued.jsonl"
chmod 600 "$WORK/issued.jsonl"
give_to_image_user "$WORK/issued.jsonl"
list_all() { api GET "/v1/licenses?limit=200" | jq -S '.licenses | sort_by(.license_key)'; }
list_all >"$WORK/before.json"
[ "$(jq length "$WORK/before.json")" = "$LICENSES" ] || fail "the list does not hold $LICENSES licenses"

# nginx's own limit on the public endpoint (10 r/s, burst 20) answers 429 to a
# flood: 60 requests, 20 at a time, arrive far faster than 10 a second.
jq -nc --arg b "$(cat "$WORK/blob-3.txt")" '{blob: $b}' >"$WORK/verify-body.json"
export CURL_FLOOD="${CURL_PUBLIC[*]} -o /dev/null -w %{http_code}\\n -H Content-Type:application/json --data-binary @$WORK/verify-body.json $PUBLIC/v1/licenses/verify"
codes="$(seq 1 60 | xargs -P 20 -I{} sh -c '$CURL_FLOOD' | sort | uniq -c | tr -s ' ' | tr '\n' ';')"
case "$codes" in *" 429"*) echo "$PROG: verify flood through nginx: $codes" ;; *) fail "no 429 from nginx's limit_req on a flood of 60 verify calls: $codes" ;; esac
sleep 2.5

# --- backup, destroy, restore ------------------------------------------------------
step "backup.sh, destroy the database, restore.sh into an empty one"
BACKUPS="$WORK/backups"
install -d -m 700 "${OWNED[@]}" "$BACKUPS"
# As the backup unit runs it: the secrets' owner (User=datatools-license), a clean environment.
DUMP="$(env -i "PATH=$PATH" "HOME=/nonexistent" "${AS_IMAGE_USER[@]}" \
  bash "$ROOT/deploy/scripts/backup.sh" --db-url "$DB_URL" --password-file "$SECRETS/db-password" \
  --out-dir "$BACKUPS" --retention-days 7 --issuance-log "$WORK/issued.jsonl" --pg-bin "$PG_BIN")" ||
  fail "backup.sh failed"
[ -f "$DUMP.sha256" ] && [ -f "${DUMP%.dump}.issued.jsonl" ] || fail "the backup lacks its checksum or issuance log copy"
echo "$PROG: backup $(basename "$DUMP") ($(stat -c %s "$DUMP") bytes)"
stop_server
check "cannot drop the database" "${PSQL[@]}" -d "postgres://datatools@127.0.0.1:$PG_PORT/postgres" \
  -c "DROP DATABASE licenses"
# The runbook's blob check: keys verify-db in the api service's environment with DATABASE_URL
# naming the restored database ($RESTORE_DB_NAME, filled in by restore.sh), as its
# `docker compose exec -T -e DATABASE_URL=…/$RESTORE_DB_NAME api dtlicense keys verify-db`.
# restore.sh runs it through bash -c: every other word quoted for the shell.
mapfile -t VERIFY_VARS < <(printf '%s\n' "${COMPOSE_VARS[@]}" | grep -v '^DATABASE_URL=\|^DATABASE_URL_FILE=\|^DATABASE_PASSWORD_FILE=')
printf -v VERIFY_CMD '%q ' "${VERIFY_VARS[@]}" "DATABASE_PASSWORD_FILE=$SECRETS/db-password" \
  "${BASE_VARS[@]}" "${AS_IMAGE_USER[@]}" node "$MAIN" keys verify-db
VERIFY_CMD="env -i DATABASE_URL=postgres://datatools@127.0.0.1:$PG_PORT/\"\$RESTORE_DB_NAME\" $VERIFY_CMD"
check "restore.sh failed" bash "$ROOT/deploy/scripts/restore.sh" --db-url "$DB_URL" \
  --password-file "$SECRETS/db-password" --create --pg-bin "$PG_BIN" --verify-with "$VERIFY_CMD" "$DUMP"
# A second restore over the now non-empty database is refused (exit 3) and changes nothing.
set +e
bash "$ROOT/deploy/scripts/restore.sh" --db-url "$DB_URL" --password-file "$SECRETS/db-password" \
  --pg-bin "$PG_BIN" --no-verify-blobs "$DUMP" 2>"$WORK/restore-refused.txt"
refused=$?
set -e
[ "$refused" = 3 ] || fail "restore.sh into a non-empty database exited $refused, not 3"
start_server
# Licenses issued after the backup are re-entered from the issuance log (step 10).
imported="$("${IN_API[@]}" import "$WORK/issued.jsonl")" || fail "import failed in the api service's environment: $imported"
[ "$imported" = "imported 0, already present $LICENSES, rejected 0" ] || fail "import after the restore: $imported"
list_all >"$WORK/after.json"
cmp -s "$WORK/before.json" "$WORK/after.json" || fail "the restored licenses differ from those issued: $(diff "$WORK/before.json" "$WORK/after.json" | head -20)"
for i in $(seq 1 "$LICENSES"); do
  key="$(jq -r .license_key "$WORK/issued/$i.json")"
  want=active
  [ "$key" = "$KEY_REVOKED" ] && want=revoked
  [ "$key" = "$KEY_SUSPENDED" ] && want=suspended
  got="$(verify "$(jq -r .blob "$WORK/issued/$i.json")")"
  [ "$(jq -r '"\(.genuine) \(.state)"' <<<"$got")" = "true $want" ] ||
    fail "license $key after the restore: expected genuine and $want, got $got"
done
echo "$PROG: all $LICENSES licenses are back, identical, and verify with their states"

step "monitor.sh: quiet when healthy, one line per problem when the API is down"
MONITOR=(env -i "PATH=$PATH" "HOME=/nonexistent" "${AS_IMAGE_USER[@]}" bash "$ROOT/deploy/scripts/monitor.sh" --api-url "$API" --public-url "$PUBLIC"
  --resolve "$HOST:$HTTPS_PORT:127.0.0.1" --cacert "$TLS/ca.pem" --cert-days 7
  --backup-dir "$BACKUPS" --backup-max-age-hours 1)
out="$("${MONITOR[@]}")" || fail "monitor.sh reported problems on a healthy deployment: $out"
[ -z "$out" ] || fail "monitor.sh printed output on a healthy deployment: $out"
stop_server
set +e
out="$("${MONITOR[@]}" --timeout 3)"
code=$?
set -e
[ "$code" = 1 ] || fail "monitor.sh exited $code with the API down, not 1"
for want in "healthz: no answer" "readyz: no answer" "public: HTTP 502"; do
  grep -q "^monitor.sh: $want" <<<"$out" || fail "monitor.sh did not report '$want': $out"
done
echo "$PROG: monitor.sh with the API down: $(wc -l <<<"$out") problem lines"
start_server

# --- key rotation ----------------------------------------------------------------
step "keys rotate: new signing key, old blobs still verify, new ones carry the new kid"
check "keys rotate failed in the image's environment" \
  "${IN_IMAGE[@]}" keys rotate --secrets-dir "$SECRETS" --json >"$WORK/rotate.json" 2>/dev/null
KID2="$(jq -r .kid "$WORK/rotate.json")"
[ "$(jq -r .previous_kid "$WORK/rotate.json")" = "$KID1" ] || fail "rotate did not record $KID1 as the previous key"
[ "$KID2" != "$KID1" ] || fail "rotate kept the same kid"
[ "$(jq -r '[.ring[].kid] | join(",")' "$WORK/rotate.json")" = "$KID2,$KID1" ] || fail "the ring is not new,old"
echo "$PROG: embed in the next app build: $(jq -r '.embed' "$WORK/rotate.json" | cut -c1-20)… ($(jq '.ring | length' "$WORK/rotate.json") keys)"
check_secrets
stop_server
start_server
new="$(api POST /v1/licenses '{"name":"After Rotation","email":"after@example.com","tier":"pro"}')"
[ "$(jq -r .kid <<<"$new")" = "$KID2" ] || fail "a license issued after the rotation is not signed by $KID2"
[ "$(verify "$(jq -r .blob <<<"$new")" | jq -r '"\(.genuine) \(.state)"')" = "true active" ] ||
  fail "the new license does not verify"
for i in $(seq 3 "$LICENSES"); do
  [ "$(verify "$(jq -r .blob "$WORK/issued/$i.json")" | jq -r .genuine)" = true ] ||
    fail "an old-key blob ($i) no longer verifies after the rotation"
done
# An app that embeds both keys accepts both blobs: the library check, offline.
node --input-type=module -e '
  import { KeyRing, importPublicKey, parseHexKey, verifyBlob } from "'"$ROOT"'/dist/core/index.js";
  const [ring, ...blobs] = process.argv.slice(1);
  const keys = new KeyRing(ring.split(",").map((h) => importPublicKey(parseHexKey(h, "ring"))));
  for (const b of blobs) verifyBlob(b, keys);
' "$(jq -r .embed "$WORK/rotate.json")" "$(jq -r .blob "$WORK/issued/3.json")" "$(jq -r .blob <<<"$new")" ||
  fail "an app ring of old and new keys does not accept both blobs"
check "doctor after the rotation" "${IN_API[@]}" doctor --secrets-dir "$SECRETS" >/dev/null
set +e
"${IN_API[@]}" doctor --published-keys "$(jq -r .embed "$WORK/rotate-1.json")" >"$WORK/doctor-old.txt"
stale=$?
set -e
[ "$stale" = 1 ] && grep -q "^FAIL  published keys" "$WORK/doctor-old.txt" ||
  fail "doctor did not flag an app that embeds only the old key"

# --- re-issue ----------------------------------------------------------------------
step "keys reissue: every active license re-signed under the new key"
# docker compose run api … -v …/reissue:/out: a folder of the image's user.
REISSUE="$WORK/reissue"
install -d -m 700 "${OWNED[@]}" "$REISSUE"
ACTIVE_OLD="$(jq -r --arg kid "$KID1" '[.[] | select(.status == "active" and .kid == $kid and .superseded_by == null)] | map(.license_key) | sort | join(",")' "$WORK/after.json")"
check "keys reissue failed in the api service's environment" \
  "${IN_API[@]}" keys reissue --from-db -o "$REISSUE/reissued.json"
covered="$(jq -r 'map(.old_license_key) | sort | join(",")' "$REISSUE/reissued.json")"
[ "$covered" = "$ACTIVE_OLD" ] || fail "reissue covered [$covered], the active licenses are [$ACTIVE_OLD]"
[ "$(jq -r --arg kid "$KID2" 'all(.[]; .kid == $kid)' "$REISSUE/reissued.json")" = true ] || fail "a re-issued license is not on $KID2"
n=0
while read -r row; do
  blob="$(jq -r .blob <<<"$row")"
  [ "$(verify "$blob" | jq -r '"\(.genuine) \(.state)"')" = "true active" ] || fail "a re-issued blob does not verify as active"
  old="$(jq -r .old_license_key <<<"$row")"
  old_rec="$(api GET "/v1/licenses/$old")"
  [ "$(jq -r .superseded_by <<<"$old_rec")" = "$(jq -r .license_key <<<"$row")" ] || fail "$old is not recorded as superseded"
  [ "$(jq -r '"\(.email) \(.tier) \(.expires_at)"' <<<"$old_rec")" = "$(jq -r '"\(.email) \(.tier) \(.expires_at)"' <<<"$row")" ] ||
    fail "the re-issued $old changed buyer, tier or expiry"
  n=$((n + 1))
done < <(jq -c '.[]' "$REISSUE/reissued.json")
echo "$PROG: re-issued $n active licenses (revoked and suspended ones left alone), each superseding the old"
check "a second reissue failed" "${IN_API[@]}" keys reissue --from-db -o "$REISSUE/reissued-2.csv"
[ "$(wc -l <"$REISSUE/reissued-2.csv")" = 1 ] || fail "a second reissue re-issued licenses again"
cp "$WORK/issued.jsonl" "$REISSUE/issued-copy.jsonl"
give_to_image_user "$REISSUE/issued-copy.jsonl"
check "keys reissue --from-log failed" "${IN_API[@]}" keys reissue --from-log "$REISSUE/issued-copy.jsonl" -o "$REISSUE/reissued-log.csv"
[ "$(($(wc -l <"$REISSUE/reissued-log.csv") - 1))" = "$LICENSES" ] || fail "reissue --from-log did not cover every logged license"
[ "$(wc -l <"$REISSUE/issued-copy.jsonl")" = $((LICENSES * 2)) ] || fail "reissue --from-log did not append the new records to the log"
# That log now holds two blobs under each license key (docs/ADMIN.md: a buyer re-minted under
# the same key): importing it keeps both, the later one current, and a second import adds nothing.
imported="$("${IN_API[@]}" import "$REISSUE/issued-copy.jsonl")" || fail "import of the re-issued log failed: $imported"
[ "$imported" = "imported $LICENSES, already present $LICENSES, rejected 0" ] || fail "import of the re-issued log: $imported"
imported="$("${IN_API[@]}" import "$REISSUE/issued-copy.jsonl")" || fail "a second import of the re-issued log failed: $imported"
[ "$imported" = "imported 0, already present $((LICENSES * 2)), rejected 0" ] || fail "a second import of the re-issued log: $imported"
KEY3="$(jq -r .license_key "$WORK/issued/3.json")"
NEW3="$(jq -r --arg k "$KEY3" 'select(.license_key == $k) | .blob' "$REISSUE/issued-copy.jsonl" | tail -n 1)"
[ "$(verify "$NEW3" | jq -r '"\(.genuine) \(.state) \(.current)"')" = "true active true" ] ||
  fail "the re-issued blob of $KEY3 is not its current blob: $(verify "$NEW3")"
[ "$(verify "$(jq -r .blob "$WORK/issued/3.json")" | jq -r '"\(.genuine) \(.state) \(.current)"')" = "true active false" ] ||
  fail "the first blob of $KEY3 no longer verifies as an earlier blob of the key"
echo "$PROG: the re-issued log imported: each key holds both blobs, the re-issued one current"

# --- store sale ----------------------------------------------------------------------
step "store sale: a signed Stripe event through nginx, the e-mail in a local SMTP sink, the buyer activates it, a refund revokes it (docs/SELLING.md)"
SALE="$WORK/sale"
install -d -m 755 "$SALE"
install -d -m 700 "$SALE/mail" "$SALE/buyer"
(cd "$ROOT" && exec node deploy/drill/store-sale.mjs sink "$SMTP_PORT" "$SALE/mail") >"$SALE/smtp.log" 2>&1 &
SMTP_PID=$!
# The placeholders filled in as SELLING.md says: the signing secret in its (empty) file, the
# product in the products file, SMTP_URL and DATATOOLS_MAIL_FROM as compose.env would set them.
rm -f "$SECRETS/stripe-webhook-secret"
(umask 277 && node -e 'process.stdout.write("whsec_drill" + require("node:crypto").randomBytes(24).toString("hex"))' >"$SECRETS/stripe-webhook-secret")
give_to_image_user "$SECRETS/stripe-webhook-secret"
SALE_VARS=("SMTP_URL=smtp://127.0.0.1:$SMTP_PORT" "DATATOOLS_MAIL_FROM=DataTools <sales@unalogix.com>" "DATATOOLS_MAIL_POLL_MS=200")
stop_server
# with_sale_vars NAME: the command in array NAME (`env -i VARS… node …`, the api service's
# environment) with the sale's variables in place of its empty SMTP_URL and DATATOOLS_MAIL_FROM.
with_sale_vars() {
  local -n cmd=$1
  local arg out=(env -i "${SALE_VARS[@]}")
  for arg in "${cmd[@]:2}"; do
    case "$arg" in SMTP_URL=* | DATATOOLS_MAIL_FROM=*) ;; *) out+=("$arg") ;; esac
  done
  cmd=("${out[@]}")
}
with_sale_vars SERVE
start_server
# A product added to the file while the server runs is used without a restart (docs/SELLING.md).
printf '{"stripe": {"core-1y": {"tier": "core", "years": 1}}}\n' >"$CONFIG/products.json.new"
chmod 644 "$CONFIG/products.json.new"
mv "$CONFIG/products.json.new" "$CONFIG/products.json"
[ "$(curl -sS "$API/readyz" | jq -r .delivery)" = on ] || fail "/readyz does not report delivery on with SMTP_URL set"
# doctor in the same environment names the store that is on and the SMTP server (SELLING.md, step 5).
SALE_IN_API=("${IN_API[@]}")
with_sale_vars SALE_IN_API
"${SALE_IN_API[@]}" doctor --secrets-dir "$SECRETS" >"$SALE/doctor.txt" || fail "doctor found problems with the store configured: $(grep '^FAIL' "$SALE/doctor.txt")"
grep -qx 'ok    sales: Stripe webhooks are on (1 product in DATATOOLS_PRODUCTS_FILE)' "$SALE/doctor.txt" &&
  grep -q "^ok    e-mail: license e-mails go out through smtp://127.0.0.1:$SMTP_PORT " "$SALE/doctor.txt" ||
  fail "doctor does not report the Stripe webhooks and the SMTP server: $(grep -E '^[a-zA-Z]+ +(sales|e-mail):' "$SALE/doctor.txt")"
# stripe_event paid|refund → the webhook's answer (through nginx, over TLS)
stripe_event() {
  local sig
  sig="$(cd "$ROOT" && node deploy/drill/store-sale.mjs event "$SECRETS/stripe-webhook-secret" "$1" pi_drill_1 "$SALE/$1.json")" ||
    fail "could not sign the $1 event"
  "${CURL_PUBLIC[@]}" -f -H 'Content-Type: application/json' -H "Stripe-Signature: $sig" \
    --data-binary @"$SALE/$1.json" "$PUBLIC/v1/webhooks/stripe" || fail "the $1 webhook was refused"
}
sold="$(stripe_event paid)"
SOLD_KEY="$(jq -r .license_key <<<"$sold")"
[ "$(jq -r .status <<<"$sold")" = processed ] || fail "the paid event was not processed: $sold"
# A forged event is refused and stores nothing.
forged="$("${CURL_PUBLIC[@]}" -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
  -H "Stripe-Signature: t=$(date +%s),v1=$(printf '0%.0s' $(seq 64))" --data-binary @"$SALE/paid.json" "$PUBLIC/v1/webhooks/stripe")"
[ "$forged" = 400 ] || fail "a forged Stripe event got HTTP $forged"
for _ in $(seq 1 150); do
  [ -f "$SALE/mail/1.json" ] && break
  sleep 0.2
done
[ -f "$SALE/mail/1.json" ] || fail "no license e-mail reached the SMTP sink within 30 s"
[ "$(jq -r '.to[0]' "$SALE/mail/1.json")" = store.buyer@example.com ] || fail "the e-mail went to $(jq -c .to "$SALE/mail/1.json")"
[ -f "$SALE/mail/$SOLD_KEY.dtlic" ] || fail "the e-mail has no attachment $SOLD_KEY.dtlic"
[ "$(api GET "/v1/licenses/$SOLD_KEY" | jq -r .delivery.status)" = sent ] || fail "the license's delivery is not recorded as sent"
# The buyer's machine, not the image: the packaged command line (package.json "bin") with the
# published public keys, as the user running the drill.
BUYER_CLI="$ROOT/dist/cli/dtlicense.cjs"
BUYER=(env -i "${BASE_VARS[@]}" "HOME=$SALE/buyer" "DATATOOLS_LICENSE_PUBKEY_FILE=$SECRETS/license-public-keys" node "$BUYER_CLI")
check "the buyer could not activate the e-mailed license" \
  "${BUYER[@]}" activate --file "$SALE/mail/$SOLD_KEY.dtlic" --name "Drill Store Buyer" --email store.buyer@example.com
check "the activated license is not active" "${BUYER[@]}" status
echo "$PROG: sold $SOLD_KEY, e-mailed with its .dtlic attachment, activated by the buyer"
refund="$(stripe_event refund)"
[ "$(jq -r .license_key <<<"$refund")" = "$SOLD_KEY" ] || fail "the refund did not act on $SOLD_KEY: $refund"
[ "$(verify "$(cat "$SALE/mail/$SOLD_KEY.dtlic")" | jq -r .code)" = REVOKED ] || fail "verify does not say REVOKED after the refund"
echo "$PROG: refunded: verify says REVOKED"

step "online check-in through nginx: the buyer activates a one-seat license, checks in, the admin revokes, the check-in says revoked"
ONLINE="$WORK/online"
install -d -m 700 "$ONLINE" "$ONLINE/buyer"
seated="$(api POST /v1/licenses '{"name":"Drill Seat Buyer","email":"seat.buyer@example.com","tier":"pro","seats":1}')"
SEAT_KEY="$(jq -r .license_key <<<"$seated")"
[ "$(jq -r .seats <<<"$seated")" = 1 ] || fail "the license was not issued with one seat: $seated"
jq -r .blob <<<"$seated" >"$ONLINE/seat.dtlic"
# The buyer's machine as before, trusting the drill's CA as a system CA would be trusted; nginx by
# address (the site is the only one on the port, and the certificate names 127.0.0.1 too).
ONLINE_URL="https://127.0.0.1:$HTTPS_PORT"
SEAT_BUYER=(env -i "${BASE_VARS[@]}" "HOME=$ONLINE/buyer" "DATATOOLS_LICENSE_PUBKEY_FILE=$SECRETS/license-public-keys"
  "NODE_EXTRA_CA_CERTS=$TLS/ca.pem" node "$BUYER_CLI")
"${SEAT_BUYER[@]}" activate --file "$ONLINE/seat.dtlic" --name "Drill Seat Buyer" --email seat.buyer@example.com \
  --server "$ONLINE_URL" --json >"$ONLINE/activate.json" || fail "activate --server failed: $(cat "$ONLINE/activate.json")"
[ "$(jq -r '"\(.online.code) \(.online.http_status) \(.online.seats.used)/\(.online.seats.limit)"' "$ONLINE/activate.json")" = "ACTIVATED 201 1/1" ] ||
  fail "activate --server did not take the seat: $(cat "$ONLINE/activate.json")"
check "dtlicense check-in did not answer VALID" "${SEAT_BUYER[@]}" check-in
[ "$(api GET "/v1/licenses/$SEAT_KEY/activations" | jq -r .seats.used)" = 1 ] || fail "the server does not show the seat taken"
api POST "/v1/licenses/$SEAT_KEY/revoke" '{"reason":"drill: refunded"}' >/dev/null
code=0
"${SEAT_BUYER[@]}" check-in >"$ONLINE/revoked.txt" 2>&1 || code=$?
[ "$code" = 6 ] || fail "check-in after the revocation exited $code, not 6 (revoked): $(cat "$ONLINE/revoked.txt")"
grep -q REVOKED "$ONLINE/revoked.txt" || fail "check-in after the revocation does not say REVOKED: $(cat "$ONLINE/revoked.txt")"
code=0
"${SEAT_BUYER[@]}" status >/dev/null 2>&1 || code=$?
[ "$code" = 6 ] || fail "dtlicense status (offline) after the revoked check-in exited $code, not 6"
echo "$PROG: $SEAT_KEY activated online through nginx (1 of 1 seats), checked in, revoked: check-in exit 6 REVOKED"

step "stop everything"
stop_server
echo "$PROG: drill passed in $(($(date +%s) - START)) s"
