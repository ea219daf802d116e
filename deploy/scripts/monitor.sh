#!/usr/bin/env bash
# Monitoring check for cron or a systemd timer: API health and readiness, the
# public certificate's expiry and the age of the newest backup. Silent and 0
# when all is well; otherwise one line per problem on stdout and exit 1.
set -euo pipefail

PROG=monitor.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
API_URL="http://127.0.0.1:8090"
PUBLIC_URL="https://license.unalogix.com"
CERT_DAYS=21
BACKUP_DIR="/srv/datatools-license/backups"
BACKUP_HOURS=26
TIMEOUT=10
RESOLVE=""
VERBOSE=0
CURL_TLS=()

usage() {
  cat <<EOF
Usage: $PROG [options]

Checks, printing one line per problem (nothing when all is well):
  - GET <api-url>/healthz answers 200        (the API process is up)
  - GET <api-url>/readyz answers 200         (database reachable, schema current)
  - the certificate served at <public-url> has more than --cert-days days left
  - the newest licenses-*.dump in --backup-dir is younger than --backup-max-age-hours
    and its .sha256 file is present

Options:
  --api-url URL              the API on loopback (default http://127.0.0.1:8090)
  --public-url URL           public https URL for the certificate check
                             (default https://license.unalogix.com; "" skips it)
  --cert-days N              warn when fewer days are left (default 21)
  --backup-dir DIR           backup folder (default /srv/datatools-license/backups;
                             "" skips the backup check)
  --backup-max-age-hours N   newest backup may be this old (default 26)
  --resolve H:P:ADDR         connect to ADDR for the public host (as curl --resolve)
  --insecure / --cacert FILE TLS options for the public URL
  --timeout SECONDS          per request (default 10)
  -v, --verbose              also print a line for each check that passed
  -h, --help                 show this help

Exit status: 0 no problem; 1 at least one problem; 2 bad usage.
EOF
}

while [ $# -gt 0 ]; do
  case "$1" in
    --api-url) API_URL="${2?--api-url needs a value}"; shift 2 ;;
    --public-url) PUBLIC_URL="${2?--public-url needs a value}"; shift 2 ;;
    --cert-days) CERT_DAYS="${2:?--cert-days needs a value}"; shift 2 ;;
    --backup-dir) BACKUP_DIR="${2?--backup-dir needs a value}"; shift 2 ;;
    --backup-max-age-hours) BACKUP_HOURS="${2:?--backup-max-age-hours needs a value}"; shift 2 ;;
    --resolve) RESOLVE="${2:?--resolve needs HOST:PORT:ADDR}"; shift 2 ;;
    --insecure) CURL_TLS+=(--insecure); shift ;;
    --cacert) CURL_TLS+=(--cacert "${2:?--cacert needs a file}"); shift 2 ;;
    --timeout) TIMEOUT="${2:?--timeout needs a value}"; shift 2 ;;
    -v | --verbose) VERBOSE=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) echo "$PROG: unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
done
for n in "$CERT_DAYS" "$BACKUP_HOURS" "$TIMEOUT"; do
  is_whole "$n" || { echo "$PROG: '$n' is not a whole number (see --help)" >&2; exit 2; }
done
case "$PUBLIC_URL" in
  '' | https://*) ;;
  *) echo "$PROG: --public-url must be an https:// URL (or \"\" to skip), not '$PUBLIC_URL'" >&2; exit 2 ;;
esac

PROBLEMS=0
problem() {
  echo "$PROG: $*"
  PROBLEMS=$((PROBLEMS + 1))
}
fine() { if [ "$VERBOSE" = 1 ]; then echo "$PROG: ok: $*"; fi; }

for tool in curl openssl; do
  command -v "$tool" >/dev/null || problem "$tool is not installed; checks that need it cannot run"
done

API_URL="${API_URL%/}"
for path in /healthz /readyz; do
  status="$(curl --silent --max-time "$TIMEOUT" --output /dev/null --write-out '%{http_code}' \
    "$API_URL$path" 2>/dev/null)" || status="000"
  if [ "$status" = 200 ]; then
    fine "$path 200"
  elif [ "$status" = 000 ]; then
    problem "${path#/}: no answer from $API_URL$path (is the api container running? docker compose -p datatools-license ps)"
  else
    problem "${path#/}: HTTP $status from $API_URL$path"
  fi
done

if [ -n "$PUBLIC_URL" ]; then
  read -r host connect <<<"$(tls_target "$PUBLIC_URL" "$RESOLVE")"
  read -r days end <<<"$(cert_days_left "$host" "$connect" "$TIMEOUT")" || true
  if [ -z "${days:-}" ]; then
    problem "certificate: cannot read the certificate of $host at $connect"
  else
    if [ "$days" -lt "$CERT_DAYS" ]; then
      problem "certificate: $host expires in $days days ($end); check certbot renew and its timer"
    else
      fine "certificate $host: $days days left"
    fi
  fi
  # The public path end to end (nginx, TLS, proxy): readiness through the edge.
  pstatus="$(curl --silent --max-time "$TIMEOUT" "${CURL_TLS[@]}" ${RESOLVE:+--resolve "$RESOLVE"} \
    --output /dev/null --write-out '%{http_code}' "${PUBLIC_URL%/}/readyz" 2>/dev/null)" || pstatus="000"
  if [ "$pstatus" = 200 ]; then
    fine "public readyz 200"
  else
    problem "public: HTTP $pstatus from ${PUBLIC_URL%/}/readyz (nginx, certificate or proxy)"
  fi
fi

if [ -n "$BACKUP_DIR" ]; then
  newest="$(find "$BACKUP_DIR" -maxdepth 1 -type f -name 'licenses-*.dump' -printf '%T@ %p\n' 2>/dev/null |
    sort -rn | sed -n 1p)" || newest=""
  if [ -z "$newest" ]; then
    problem "backup: no licenses-*.dump in $BACKUP_DIR (has datatools-license-backup.timer run?)"
  else
    age_h=$((($(date +%s) - ${newest%%.*}) / 3600))
    file="${newest#* }"
    if [ "$age_h" -ge "$BACKUP_HOURS" ]; then
      problem "backup: the newest backup $file is $age_h hours old (limit $BACKUP_HOURS); see journalctl -u datatools-license-backup"
    else
      fine "backup $file is $age_h hours old"
    fi
    [ -s "$file" ] || problem "backup: $file is empty; see journalctl -u datatools-license-backup"
    [ -f "$file.sha256" ] || problem "backup: $file has no checksum file $file.sha256"
  fi
fi

[ "$PROBLEMS" -eq 0 ] || exit 1
exit 0
