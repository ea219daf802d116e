#!/usr/bin/env bash
# Backs up the license database: one consistent pg_dump in custom format, a
# sha256 checksum beside it, the issuance log copied next to it, and backups
# older than the retention removed. Run by datatools-license-backup.timer.
set -euo pipefail

PROG=backup.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
DB_URL="${DATABASE_URL:-postgres://datatools@127.0.0.1:5433/licenses}"
PASSWORD_FILE="${DATABASE_PASSWORD_FILE:-/srv/datatools-license/secrets/db-password}"
OUT_DIR="${DATATOOLS_BACKUP_DIR:-/srv/datatools-license/backups}"
RETENTION_DAYS="${DATATOOLS_BACKUP_RETENTION_DAYS:-14}"
ISSUANCE_LOG="${DATATOOLS_ISSUANCE_LOG:-}"
PG_BIN="${PG_BIN:-}"

usage() {
  cat <<EOF
Usage: $PROG [options]

Takes a consistent backup of the license database with pg_dump (custom format,
one snapshot), writes it as licenses-<UTC timestamp>.dump with a .sha256 file
beside it (sha256sum -c format), copies the issuance log next to it when there
is one, and deletes this script's backups older than the retention.

Options:
  --db-url URL           database to dump (default \$DATABASE_URL, else
                         postgres://datatools@127.0.0.1:5433/licenses)
  --password-file FILE   password for the URL's user (default \$DATABASE_PASSWORD_FILE,
                         else /srv/datatools-license/secrets/db-password; skipped
                         when the file does not exist)
  --out-dir DIR          where backups go (default /srv/datatools-license/backups)
  --retention-days N     delete backups older than N days; 0 keeps all (default 14)
  --issuance-log FILE    issuance log to copy beside the dump (default
                         \$DATATOOLS_ISSUANCE_LOG; none when unset or missing)
  --pg-bin DIR           folder holding pg_dump/pg_restore (default: from PATH)
  -h, --help             show this help

Prints the path of the new dump on stdout. Exits non-zero, saying why on
stderr, when anything fails; a failed run leaves no partial dump behind. Two
runs at once are refused (flock on --out-dir).
EOF
}

die() {
  echo "$PROG: error: $*" >&2
  exit 1
}

while [ $# -gt 0 ]; do
  case "$1" in
    --db-url) DB_URL="${2:?--db-url needs a value}"; shift 2 ;;
    --password-file) PASSWORD_FILE="${2:?--password-file needs a value}"; shift 2 ;;
    --out-dir) OUT_DIR="${2:?--out-dir needs a value}"; shift 2 ;;
    --retention-days) RETENTION_DAYS="${2:?--retention-days needs a value}"; shift 2 ;;
    --issuance-log) ISSUANCE_LOG="${2:?--issuance-log needs a value}"; shift 2 ;;
    --pg-bin) PG_BIN="${2:?--pg-bin needs a value}"; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "$PROG: unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
done

is_whole "$RETENTION_DAYS" || { echo "$PROG: --retention-days must be a whole number of days, not '$RETENTION_DAYS'" >&2; exit 2; }

PG_DUMP=pg_dump
PG_RESTORE=pg_restore
if [ -n "$PG_BIN" ]; then
  PG_DUMP="$PG_BIN/pg_dump"
  PG_RESTORE="$PG_BIN/pg_restore"
fi
command -v "$PG_DUMP" >/dev/null || die "$PG_DUMP not found; install postgresql-client or pass --pg-bin"
command -v sha256sum >/dev/null || die "sha256sum not found (coreutils)"

# checksum_into_place PART FINAL: writes FINAL.sha256 (sha256sum -c format,
# naming FINAL) and renames PART to FINAL, each step atomic.
checksum_into_place() {
  local sum
  sum="$(sha256sum <"$1")" || return 1
  printf '%s  %s\n' "${sum%% *}" "$(basename "$2")" >"$2.sha256.part" &&
    mv "$2.sha256.part" "$2.sha256" && mv "$1" "$2"
}

umask 077
mkdir -p "$OUT_DIR" || die "cannot create $OUT_DIR"
[ -w "$OUT_DIR" ] || die "$OUT_DIR is not writable by $(id -un)"

STAMP="$(date -u +%Y%m%dT%H%M%SZ)"
BASE="licenses-$STAMP"
DUMP="$OUT_DIR/$BASE.dump"
PART="$DUMP.part"
LOG_COPY="$OUT_DIR/$BASE.issued.jsonl"

# One backup at a time: a second run would race the first's retention.
if command -v flock >/dev/null; then
  # The lock is on the folder itself: no lock file to leave behind.
  exec 9<"$OUT_DIR"
  flock -n 9 || die "another backup.sh is running in $OUT_DIR"
fi
if [ -e "$DUMP" ]; then die "$DUMP already exists (two backups in one second?)"; fi

# Everything half-written is removed on any exit; only finished files are renamed into place.
WORK="$(mktemp -d)"
cleanup() {
  rm -rf "$WORK"
  rm -f "$PART" "$DUMP.sha256.part" "$LOG_COPY.part" "$LOG_COPY.sha256.part"
}
trap cleanup EXIT
# The password goes through a private pgpass file, never the command line.
if [ -n "$PASSWORD_FILE" ] && [ -e "$PASSWORD_FILE" ]; then
  [ -r "$PASSWORD_FILE" ] || die "cannot read $PASSWORD_FILE as $(id -un)"
  write_pgpass "$PASSWORD_FILE" "$WORK/pgpass" || die "cannot write a pgpass file"
  export PGPASSFILE="$WORK/pgpass"
fi

# pg_dump reads every table in one repeatable-read snapshot, so the dump is
# consistent while the API keeps serving.
"$PG_DUMP" --format=custom --compress=6 --no-password --file="$PART" --dbname="$DB_URL" ||
  die "pg_dump of $(mask_url "$DB_URL") failed (see above)"
[ -s "$PART" ] || die "pg_dump wrote an empty file"
"$PG_RESTORE" --list "$PART" >/dev/null || die "the new dump is not readable by pg_restore"
# The checksum lands first, so a dump is never in place without one.
checksum_into_place "$PART" "$DUMP" || die "cannot write $DUMP.sha256"

if [ -n "$ISSUANCE_LOG" ]; then
  if [ -f "$ISSUANCE_LOG" ]; then
    cp "$ISSUANCE_LOG" "$LOG_COPY.part" || die "cannot copy $ISSUANCE_LOG"
    checksum_into_place "$LOG_COPY.part" "$LOG_COPY" || die "cannot checksum the issuance log copy"
  else
    echo "$PROG: note: no issuance log at $ISSUANCE_LOG; nothing copied" >&2
  fi
fi

# Retention: only files this script names, and never the backup just made.
if [ "$RETENTION_DAYS" -gt 0 ]; then
  find "$OUT_DIR" -maxdepth 1 -type f -name 'licenses-*' -mtime "+$((RETENTION_DAYS - 1))" \
    ! -name "$BASE.*" -print -delete | sed "s#^#$PROG: removed old backup #" >&2 ||
    die "cannot apply the retention in $OUT_DIR"
fi

echo "$DUMP"
