# Functions the deploy scripts share; sourced by them, never run on its own.
# The caller has set -euo pipefail.

# mask_url URL: prints URL with its password, if any, replaced by ***.
mask_url() { printf '%s' "$1" | sed -E 's#://([^:@/]+):[^@/]*@#://\1:***@#'; }

# write_pgpass PASSWORD_FILE PGPASS: writes a pgpass file (mode 600) holding the
# first line of PASSWORD_FILE for every host, so the password never reaches a
# command line or the environment.
write_pgpass() {
  local password
  password="$(head -n 1 "$1")" || return 1
  # pgpass fields escape ':' and '\'.
  (umask 077 && printf '*:*:*:*:%s\n' "$(printf '%s' "$password" | sed -e 's/[\\:]/\\&/g')" >"$2")
}

# tls_target URL [HOST:PORT:ADDR]: prints "HOST CONNECT" for openssl s_client:
# the URL's host name (sent as SNI) and the address:port to connect to, which a
# curl-style --resolve value overrides.
tls_target() {
  local hostport host port addr
  hostport="${1#https://}"
  hostport="${hostport%%/*}"
  host="${hostport%%:*}"
  port=443
  if [ "$hostport" != "$host" ]; then port="${hostport##*:}"; fi
  addr="$host"
  if [ -n "${2:-}" ]; then
    addr="${2#*:*:}"
    addr="${addr#[}"
    addr="${addr%]}"
  fi
  case "$addr" in *:*) addr="[$addr]" ;; esac
  printf '%s %s:%s\n' "$host" "$addr" "$port"
}

# cert_days_left HOST CONNECT SECONDS: prints "DAYS NOT_AFTER" for the
# certificate served at CONNECT for HOST, or nothing when none could be read
# within SECONDS (a silent firewall must not hang a cron job).
cert_days_left() {
  local end end_s
  end="$({ timeout "$3" openssl s_client -connect "$2" -servername "$1" </dev/null 2>/dev/null || true; } |
    openssl x509 -noout -enddate 2>/dev/null | sed 's/^notAfter=//')" || end=""
  [ -n "$end" ] || return 0
  end_s="$(date -u -d "$end" +%s 2>/dev/null)" || return 0
  printf '%s %s\n' "$(((end_s - $(date -u +%s)) / 86400))" "$end"
}

# is_whole N: true when N is a whole number.
is_whole() { case "$1" in '' | *[!0-9]*) return 1 ;; *) return 0 ;; esac; }
