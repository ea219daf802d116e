#!/usr/bin/env bash
# Smoke test of a deployed license server through its public URL: health,
# readiness, the TLS certificate's days left and HSTS, and a verify call round trip.
set -euo pipefail

PROG=smoke-test.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
URL="https://license.unalogix.com"
MIN_DAYS=14
TIMEOUT=10
BLOB_FILE=""
EXPECT_STATE="active"
CURL_TLS=()
RESOLVE=""

usage() {
  cat <<EOF
Usage: $PROG [options]

Checks a deployed license server from the outside and prints one line per
check. Exits 1 when any check fails (each failure says what was wrong).

  1. GET  /healthz answers 200
  2. GET  /readyz answers 200 (database reachable, migrations current)
  3. TLS (https URLs): the certificate has at least --min-days days left, and
     the response carries Strict-Transport-Security
  4. POST /v1/licenses/verify round trip: with --blob-file, the blob is genuine
     and in state --expect-state; without it, a made-up blob is answered by the
     API (genuine: false or an error in the API's format), not by a proxy error

Options:
  --url URL            base URL (default https://license.unalogix.com)
  --insecure           do not verify the certificate chain (self-signed drills)
  --cacert FILE        verify the certificate against this CA file
  --resolve H:P:ADDR   connect to ADDR for host H, port P (as curl --resolve);
                       tests a server before DNS points at it
  --min-days N         fewest days the certificate may have left (default 14)
  --blob-file FILE     a genuine license blob to verify (text file)
  --expect-state S     state the blob must have (default active)
  --timeout SECONDS    per request (default 10)
  -h, --help           show this help
EOF
}

while [ $# -gt 0 ]; do
  case "$1" in
    --url) URL="${2:?--url needs a value}"; shift 2 ;;
    --insecure) CURL_TLS+=(--insecure); shift ;;
    --cacert) CURL_TLS+=(--cacert "${2:?--cacert needs a file}"); shift 2 ;;
    --resolve) RESOLVE="${2:?--resolve needs HOST:PORT:ADDR}"; shift 2 ;;
    --min-days) MIN_DAYS="${2:?--min-days needs a value}"; shift 2 ;;
    --blob-file) BLOB_FILE="${2:?--blob-file needs a file}"; shift 2 ;;
    --expect-state) EXPECT_STATE="${2:?--expect-state needs a value}"; shift 2 ;;
    --timeout) TIMEOUT="${2:?--timeout needs a value}"; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "$PROG: unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
done
for tool in curl jq openssl; do
  command -v "$tool" >/dev/null || { echo "$PROG: error: $tool is not installed" >&2; exit 1; }
done
is_whole "$MIN_DAYS" || { echo "$PROG: --min-days must be a whole number" >&2; exit 2; }
is_whole "$TIMEOUT" || { echo "$PROG: --timeout must be a whole number of seconds" >&2; exit 2; }
if [ -n "$BLOB_FILE" ] && [ ! -r "$BLOB_FILE" ]; then
  echo "$PROG: error: cannot read $BLOB_FILE" >&2
  exit 1
fi

URL="${URL%/}"
CURL=(curl --silent --show-error --max-time "$TIMEOUT" "${CURL_TLS[@]}")
[ -n "$RESOLVE" ] && CURL+=(--resolve "$RESOLVE")
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
FAILS=0
ok() { echo "ok    $*"; }
fail() {
  echo "FAIL  $*"
  FAILS=$((FAILS + 1))
}

# GET path → sets STATUS, writes body to $WORK/body and headers to $WORK/headers.
get() {
  STATUS="$("${CURL[@]}" --output "$WORK/body" --dump-header "$WORK/headers" \
    --write-out '%{http_code}' "$URL$1" 2>"$WORK/err")" || STATUS="000 ($(head -c 300 "$WORK/err"))"
}

get /healthz
if [ "$STATUS" = 200 ]; then ok "healthz 200"; else fail "healthz: HTTP $STATUS from $URL/healthz"; fi
HEALTH_HEADERS="$(cat "$WORK/headers" 2>/dev/null || true)"

get /readyz
if [ "$STATUS" = 200 ]; then
  ok "readyz 200"
else
  fail "readyz: HTTP $STATUS from $URL/readyz: $(head -c 300 "$WORK/body" 2>/dev/null || true)"
fi

case "$URL" in
  https://*)
    read -r host connect <<<"$(tls_target "$URL" "$RESOLVE")"
    read -r days end <<<"$(cert_days_left "$host" "$connect" "$TIMEOUT")" || true
    if [ -z "${days:-}" ]; then
      fail "tls: could not read the certificate of $host from $connect"
    else
      if [ "$days" -ge "$MIN_DAYS" ]; then
        ok "tls certificate for $host: $days days left (expires $end)"
      else
        fail "tls: the certificate for $host expires in $days days ($end); renew it (certbot renew) - at least $MIN_DAYS wanted"
      fi
    fi
    if printf '%s' "$HEALTH_HEADERS" | grep -qi '^strict-transport-security:'; then
      ok "hsts header present"
    else
      fail "hsts: no Strict-Transport-Security header on $URL/healthz"
    fi
    ;;
  *) echo "skip  tls checks ($URL is not https)" ;;
esac

if [ -n "$BLOB_FILE" ]; then
  BLOB="$(tr -d ' \t\r\n' <"$BLOB_FILE")"
else
  # Well formed, but signed by no one: the API must answer it, not a proxy.
  payload='{"v":2,"kid":"0000000000000000","license_key":"SMOKE-TEST","name":"Smoke Test","email":"smoke@example.com","tier":"core","issued_at":"2026-01-01T00:00:00Z","expires_at":"2027-01-01T00:00:00Z"}'
  b64u() { base64 -w0 | tr '+/' '-_' | tr -d '='; }
  BLOB="DTLIC2:$(printf '%s' "$payload" | b64u).$(head -c 64 /dev/zero | b64u)"
fi
jq -n --arg blob "$BLOB" '{blob: $blob}' >"$WORK/request"
STATUS="$("${CURL[@]}" --output "$WORK/body" --write-out '%{http_code}' \
  --header 'Content-Type: application/json' --data-binary "@$WORK/request" \
  "$URL/v1/licenses/verify" 2>"$WORK/err")" || STATUS="000 ($(head -c 300 "$WORK/err"))"
BODY="$(head -c 1000 "$WORK/body" 2>/dev/null || true)"
if [ -n "$BLOB_FILE" ]; then
  genuine="$(jq -r '.genuine' <<<"$BODY" 2>/dev/null || true)"
  state="$(jq -r '.state' <<<"$BODY" 2>/dev/null || true)"
  if [ "$STATUS" = 200 ] && [ "$genuine" = true ] && [ "$state" = "$EXPECT_STATE" ]; then
    ok "verify round trip: genuine, state $state"
  else
    fail "verify: HTTP $STATUS, expected genuine and state $EXPECT_STATE, got: $BODY"
  fi
else
  if jq -e '(.genuine == false) or (.error.code | type == "string")' <<<"$BODY" >/dev/null 2>&1; then
    ok "verify round trip: HTTP $STATUS, $(jq -c '{genuine, code, state, error: .error.code} | with_entries(select(.value != null))' <<<"$BODY")"
  else
    fail "verify: HTTP $STATUS, not an answer from the API: $BODY"
  fi
fi

if [ "$FAILS" -gt 0 ]; then
  echo "$PROG: $FAILS check(s) failed against $URL" >&2
  exit 1
fi
echo "$PROG: all checks passed against $URL"
