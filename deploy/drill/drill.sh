#!/usr/bin/env bash
# The deployment drill (`npm run drill`): the production layout on loopback,
# without Docker. A throwaway PostgreSQL on 127.0.0.1:5433, the server on
# 127.0.0.1:8090 reading its secrets from a mode-400 folder, and nginx with the
# repository's site file (only certificate paths and listen ports changed);
# then smoke test over TLS, issue, back up, destroy, restore, verify, rotate the
# key and re-issue. Stops everything it started; exits non-zero on any failure.
set -euo pipefail

PROG=drill.sh
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
PG_PORT="${DRILL_PG_PORT:-5433}"
API_PORT="${DRILL_API_PORT:-8090}"
HTTP_PORT="${DRILL_HTTP_PORT:-8080}"
HTTPS_PORT="${DRILL_HTTPS_PORT:-8443}"
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
$HTTP_PORT/$HTTPS_PORT (DRILL_PG_PORT, DRILL_API_PORT, DRILL_HTTP_PORT,
DRILL_HTTPS_PORT override them). Gives up after $DEADLINE_SECONDS s.

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
CLI=(node "$ROOT/dist/cli/main.js")
for port in "$PG_PORT" "$API_PORT" "$HTTP_PORT" "$HTTPS_PORT"; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    fail "port $port on 127.0.0.1 is already in use; stop what uses it or set the DRILL_*_PORT variables"
  fi
done

WORK="$(mktemp -d /tmp/dtl-drill.XXXXXX)"
chmod 755 "$WORK"
AS_ROOT=0
[ "$(id -u)" = 0 ] && AS_ROOT=1
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
step "secrets folder (mode 700, files mode 400) and the first signing key"
SECRETS="$WORK/secrets"
install -d -m 700 "$SECRETS"
(umask 277 && printf '%s\n' "$DB_PASSWORD" >"$SECRETS/db-password")
(umask 277 && "${CLI[@]}" admin token generate >"$SECRETS/admin-token") || fail "admin token generate failed"
check "keys rotate (first key) failed" "${CLI[@]}" keys rotate --secrets-dir "$SECRETS" --json \
  >"$WORK/rotate-1.json" 2>/dev/null
KID1="$(jq -r .kid "$WORK/rotate-1.json")"
for f in "$SECRETS"/*; do
  mode="$(stat -c %a "$f")"
  [ "$mode" = 400 ] || fail "$f has mode $mode, not 400"
done
echo "$PROG: signing key $KID1; secrets: $(cd "$SECRETS" && ls | tr '\n' ' ')"
DB_URL="postgres://datatools@127.0.0.1:$PG_PORT/licenses"
export PGPASSFILE="$WORK/pgpass"
(umask 077 && printf '127.0.0.1:%s:*:datatools:%s\n' "$PG_PORT" "$DB_PASSWORD" >"$PGPASSFILE")
PSQL=("$PG_BIN/psql" -X -q -At -v ON_ERROR_STOP=1 --no-password)
check "cannot create the licenses database" "${PSQL[@]}" -d "postgres://datatools@127.0.0.1:$PG_PORT/postgres" \
  -c "CREATE DATABASE licenses"

# How the server gets the database password: as deploy/compose.yaml does
# (DATABASE_URL + DATABASE_PASSWORD_FILE), or with DRILL_DB_SECRET=url-file a
# mode-400 DATABASE_URL_FILE holding the whole URL.
if [ "${DRILL_DB_SECRET:-password-file}" = url-file ]; then
  (umask 277 && printf 'postgres://datatools:%s@127.0.0.1:%s/licenses\n' "$DB_PASSWORD" "$PG_PORT" >"$SECRETS/database-url")
  DB_ENV=("DATABASE_URL_FILE=$SECRETS/database-url")
else
  DB_ENV=("DATABASE_URL=$DB_URL" "DATABASE_PASSWORD_FILE=$SECRETS/db-password")
fi

# The server's environment: exactly the variables deploy/compose.yaml sets.
SERVER_ENV=(
  env -i "PATH=$PATH" "HOME=$WORK"
  NODE_ENV=production
  "DATATOOLS_SERVER_HOST=127.0.0.1" "DATATOOLS_SERVER_PORT=$API_PORT"
  "DATATOOLS_DATA_DIR=$WORK/data"
  "DATATOOLS_TRUSTED_PROXIES=loopback"
  "DATATOOLS_VERIFY_RATE_LIMIT=1000000"
  "${DB_ENV[@]}"
  "DATATOOLS_LICENSE_PRIVKEY_FILE=$SECRETS/license-signing-key"
  "DATATOOLS_LICENSE_PUBKEY_FILE=$SECRETS/license-public-keys"
  "DATATOOLS_ADMIN_TOKEN_FILE=$SECRETS/admin-token"
)
API="http://127.0.0.1:$API_PORT"
TOKEN="$(cat "$SECRETS/admin-token")"

start_server() {
  "${SERVER_ENV[@]}" "${CLI[@]}" serve >>"$WORK/server.log" 2>&1 &
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
step "start the server on 127.0.0.1:$API_PORT with NODE_ENV=production and *_FILE secrets"
start_server
check "doctor found problems in the drill's deployment" \
  "${SERVER_ENV[@]}" "${CLI[@]}" doctor --secrets-dir "$SECRETS" >"$WORK/doctor-1.txt"
grep -q '^FAIL' "$WORK/doctor-1.txt" && fail "doctor reported a problem: $(grep '^FAIL' "$WORK/doctor-1.txt")"
echo "$PROG: doctor: $(tail -n 1 "$WORK/doctor-1.txt")"

# --- nginx -------------------------------------------------------------------
step "nginx with deploy/nginx/unalogix on 127.0.0.1:$HTTP_PORT/$HTTPS_PORT (self-signed CA)"
TLS="$WORK/tls"
mkdir -p "$TLS" "$WORK/nginx/logs"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
  -subj "/CN=datatools-license drill CA" -keyout "$TLS/ca.key" -out "$TLS/ca.pem" 2>/dev/null ||
  fail "openssl could not make the CA"
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$HOST" \
  -keyout "$TLS/privkey.pem" -out "$TLS/server.csr" 2>/dev/null || fail "openssl could not make a key"
printf 'subjectAltName=DNS:%s\nextendedKeyUsage=serverAuth\n' "$HOST" >"$TLS/ext.cnf"
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
DUMP="$(bash "$ROOT/deploy/scripts/backup.sh" --db-url "$DB_URL" --password-file "$SECRETS/db-password" \
  --out-dir "$BACKUPS" --retention-days 7 --issuance-log "$WORK/issued.jsonl" --pg-bin "$PG_BIN")" ||
  fail "backup.sh failed"
[ -f "$DUMP.sha256" ] && [ -f "${DUMP%.dump}.issued.jsonl" ] || fail "the backup lacks its checksum or issuance log copy"
echo "$PROG: backup $(basename "$DUMP") ($(stat -c %s "$DUMP") bytes)"
stop_server
check "cannot drop the database" "${PSQL[@]}" -d "postgres://datatools@127.0.0.1:$PG_PORT/postgres" \
  -c "DROP DATABASE licenses"
# restore.sh runs this through bash -c: every word quoted for the shell.
printf -v VERIFY_CMD '%q ' env "DATATOOLS_LICENSE_PUBKEY_FILE=$SECRETS/license-public-keys" "HOME=$WORK" \
  node "$ROOT/dist/cli/main.js" keys verify-db
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
MONITOR=(bash "$ROOT/deploy/scripts/monitor.sh" --api-url "$API" --public-url "$PUBLIC"
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
check "keys rotate failed" "${CLI[@]}" keys rotate --secrets-dir "$SECRETS" --json >"$WORK/rotate.json" 2>/dev/null
KID2="$(jq -r .kid "$WORK/rotate.json")"
[ "$(jq -r .previous_kid "$WORK/rotate.json")" = "$KID1" ] || fail "rotate did not record $KID1 as the previous key"
[ "$KID2" != "$KID1" ] || fail "rotate kept the same kid"
[ "$(jq -r '[.ring[].kid] | join(",")' "$WORK/rotate.json")" = "$KID2,$KID1" ] || fail "the ring is not new,old"
echo "$PROG: embed in the next app build: $(jq -r '.embed' "$WORK/rotate.json" | cut -c1-20)… ($(jq '.ring | length' "$WORK/rotate.json") keys)"
for f in "$SECRETS"/*; do
  [ "$(stat -c %a "$f")" = 400 ] || fail "$f is not mode 400 after the rotation"
done
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
check "doctor after the rotation" "${SERVER_ENV[@]}" "${CLI[@]}" doctor --secrets-dir "$SECRETS" >/dev/null
set +e
"${SERVER_ENV[@]}" "${CLI[@]}" doctor --published-keys "$(jq -r .embed "$WORK/rotate-1.json")" >"$WORK/doctor-old.txt"
stale=$?
set -e
[ "$stale" = 1 ] && grep -q "^FAIL  published keys" "$WORK/doctor-old.txt" ||
  fail "doctor did not flag an app that embeds only the old key"

# --- re-issue ----------------------------------------------------------------------
step "keys reissue: every active license re-signed under the new key"
ACTIVE_OLD="$(jq -r --arg kid "$KID1" '[.[] | select(.status == "active" and .kid == $kid and .superseded_by == null)] | map(.license_key) | sort | join(",")' "$WORK/after.json")"
check "keys reissue failed" "${SERVER_ENV[@]}" "${CLI[@]}" keys reissue --from-db -o "$WORK/reissued.json"
covered="$(jq -r 'map(.old_license_key) | sort | join(",")' "$WORK/reissued.json")"
[ "$covered" = "$ACTIVE_OLD" ] || fail "reissue covered [$covered], the active licenses are [$ACTIVE_OLD]"
[ "$(jq -r --arg kid "$KID2" 'all(.[]; .kid == $kid)' "$WORK/reissued.json")" = true ] || fail "a re-issued license is not on $KID2"
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
done < <(jq -c '.[]' "$WORK/reissued.json")
echo "$PROG: re-issued $n active licenses (revoked and suspended ones left alone), each superseding the old"
check "a second reissue failed" "${SERVER_ENV[@]}" "${CLI[@]}" keys reissue --from-db -o "$WORK/reissued-2.csv"
[ "$(wc -l <"$WORK/reissued-2.csv")" = 1 ] || fail "a second reissue re-issued licenses again"
cp "$WORK/issued.jsonl" "$WORK/issued-copy.jsonl"
check "keys reissue --from-log failed" "${SERVER_ENV[@]}" "${CLI[@]}" keys reissue --from-log "$WORK/issued-copy.jsonl" -o "$WORK/reissued-log.csv"
[ "$(($(wc -l <"$WORK/reissued-log.csv") - 1))" = "$LICENSES" ] || fail "reissue --from-log did not cover every logged license"
[ "$(wc -l <"$WORK/issued-copy.jsonl")" = $((LICENSES * 2)) ] || fail "reissue --from-log did not append the new records to the log"

step "stop everything"
stop_server
echo "$PROG: drill passed in $(($(date +%s) - START)) s"
