#!/usr/bin/env bash
# Prints deploy/nginx/unalogix adapted for a loopback run: certificate paths
# swapped for given files and listen directives moved to 127.0.0.1 on given
# ports. Nothing else changes, so the drill and the tests exercise the real
# site file. Used by deploy/drill/drill.sh and test/deploy/nginx.test.ts.
set -euo pipefail

PROG=adapt-nginx.sh
SITE="$(dirname "$0")/../nginx/unalogix"
CERT=""
KEY=""
HTTP_PORT=8080
HTTPS_PORT=8443
LOG_DIR=""
BOOTSTRAP=0

usage() {
  cat <<USAGE
Usage: $PROG --cert FILE --key FILE [options] > site.conf

  --site FILE         site file to adapt (default deploy/nginx/unalogix)
  --cert FILE         certificate (chain) to use instead of the Let's Encrypt one
  --key FILE          its private key
  --http-port N       port for the listen 80 lines (default 8080), on 127.0.0.1
  --https-port N      port for the listen 443 lines (default 8443), on 127.0.0.1
  --log-dir DIR       also move the site's log files into DIR (for runs without root)
  --bootstrap         leave out the HTTPS server block, as before the first certificate
  -h, --help          show this help

IPv6 listen lines are dropped: a loopback run listens on 127.0.0.1 only.
USAGE
}

while [ $# -gt 0 ]; do
  case "$1" in
    --site) SITE="${2:?}"; shift 2 ;;
    --cert) CERT="${2:?}"; shift 2 ;;
    --key) KEY="${2:?}"; shift 2 ;;
    --http-port) HTTP_PORT="${2:?}"; shift 2 ;;
    --https-port) HTTPS_PORT="${2:?}"; shift 2 ;;
    --log-dir) LOG_DIR="${2:?}"; shift 2 ;;
    --bootstrap) BOOTSTRAP=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) echo "$PROG: unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
done
[ -f "$SITE" ] || { echo "$PROG: no site file $SITE" >&2; exit 1; }
if [ "$BOOTSTRAP" = 0 ] && { [ -z "$CERT" ] || [ -z "$KEY" ]; }; then
  echo "$PROG: --cert and --key are required (see --help)" >&2
  exit 2
fi

# Each substitution must match, so a change to the site file cannot silently
# leave the drill running something else.
for pattern in '^    listen 80;$' '^    listen \[::\]:80;$' '^    ssl_certificate /etc/letsencrypt/' \
  '^    ssl_certificate_key /etc/letsencrypt/' '^    listen 443 ssl http2;$' '^# BEGIN https' '^# END https'; do
  grep -q -- "$pattern" "$SITE" || { echo "$PROG: $SITE has no line matching $pattern" >&2; exit 1; }
done

script=(
  -e "s#^    listen 80;\$#    listen 127.0.0.1:$HTTP_PORT;#"
  -e '/^    listen \[::\]:80;$/d'
  -e "s#^    listen 443 ssl http2;\$#    listen 127.0.0.1:$HTTPS_PORT ssl http2;#"
  -e '/^    listen \[::\]:443 ssl http2;$/d'
)
if [ "$BOOTSTRAP" = 1 ]; then
  script+=(-e '/^# BEGIN https/,/^# END https/d')
else
  script+=(
    -e "s#^    ssl_certificate /etc/letsencrypt/.*;\$#    ssl_certificate $CERT;#"
    -e "s#^    ssl_certificate_key /etc/letsencrypt/.*;\$#    ssl_certificate_key $KEY;#"
  )
fi
if [ -n "$LOG_DIR" ]; then
  script+=(-e "s#/var/log/nginx/#$LOG_DIR/#")
fi
sed "${script[@]}" "$SITE"
