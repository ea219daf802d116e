#!/usr/bin/env bash
# Restores a backup made by backup.sh into an EMPTY database, then checks it:
# the row count of every table equals the dump's, and every stored license blob
# still verifies against the configured key ring.
set -euo pipefail

PROG=restore.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
DB_URL="${DATABASE_URL:-postgres://datatools@127.0.0.1:5433/licenses}"
PASSWORD_FILE="${DATABASE_PASSWORD_FILE:-/srv/datatools-license/secrets/db-password}"
CREATE=0
VERIFY_WITH="${DATATOOLS_VERIFY_WITH:-dtlicense keys verify-db}"
VERIFY=1
PG_BIN="${PG_BIN:-}"
DUMP=""

usage() {
  cat <<EOF
Usage: $PROG [options] BACKUP.dump

Restores a backup.sh dump into an empty database and checks the result.
Refuses, changing nothing, when the checksum file is missing or does not
match, or when the target database already holds tables.

Steps: the dump's sha256 against BACKUP.dump.sha256; pg_restore --list; check the target is
empty; pg_restore in one transaction (--exit-on-error); compare every table's
row count with the dump's; run the blob check (every stored blob verifies
against the key ring the environment configures).

Options:
  --db-url URL          target database (default \$DATABASE_URL, else
                        postgres://datatools@127.0.0.1:5433/licenses)
  --password-file FILE  password for the URL's user (default \$DATABASE_PASSWORD_FILE,
                        else /srv/datatools-license/secrets/db-password; skipped
                        when the file does not exist)
  --create              create the target database when it does not exist
                        (connects to the "postgres" database of the same server)
  --verify-with CMD     command that checks every stored blob of the restored
                        database; it runs (with bash -c) with DATABASE_URL and
                        DATABASE_PASSWORD_FILE set to the target and
                        RESTORE_DB_NAME to its database name, and must exit 0
                        (default: "dtlicense keys verify-db"). In the compose
                        deployment the check runs in the api container, which
                        reaches PostgreSQL as postgres:5432 and knows nothing of
                        this shell's DATABASE_URL: name the restored database
                        with -e, in single quotes so restore.sh fills it in:
                        'docker compose --env-file /srv/datatools-license/compose.env \\
                        -f /srv/datatools-license/app/deploy/compose.yaml exec -T \\
                        -e DATABASE_URL=postgres://datatools@postgres:5432/\$RESTORE_DB_NAME \\
                        api dtlicense keys verify-db'
                        (without -e it would check the live database instead)
  --no-verify-blobs     skip the blob check (row counts are still compared)
  --pg-bin DIR          folder holding pg_restore and psql (default: from PATH)
  -h, --help            show this help

Exit status: 0 restored and checked; 1 a step failed; 2 bad usage;
3 refused (checksum, or the target is not empty).
EOF
}

die() {
  echo "$PROG: error: $*" >&2
  exit 1
}
refuse() {
  echo "$PROG: refused: $*" >&2
  exit 3
}

while [ $# -gt 0 ]; do
  case "$1" in
    --db-url) DB_URL="${2:?--db-url needs a value}"; shift 2 ;;
    --password-file) PASSWORD_FILE="${2:?--password-file needs a value}"; shift 2 ;;
    --create) CREATE=1; shift ;;
    --verify-with) VERIFY_WITH="${2:?--verify-with needs a value}"; shift 2 ;;
    --no-verify-blobs) VERIFY=0; shift ;;
    --pg-bin) PG_BIN="${2:?--pg-bin needs a value}"; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    -*) echo "$PROG: unknown option: $1 (see --help)" >&2; exit 2 ;;
    *)
      [ -z "$DUMP" ] || { echo "$PROG: give one backup file, not several" >&2; exit 2; }
      DUMP="$1"; shift ;;
  esac
done
[ -n "$DUMP" ] || { echo "$PROG: which backup? (see --help)" >&2; exit 2; }

PSQL=psql
PG_RESTORE=pg_restore
if [ -n "$PG_BIN" ]; then
  PSQL="$PG_BIN/psql"
  PG_RESTORE="$PG_BIN/pg_restore"
fi
command -v "$PSQL" >/dev/null || die "$PSQL not found; install postgresql-client or pass --pg-bin"
command -v "$PG_RESTORE" >/dev/null || die "$PG_RESTORE not found"

# 1. The file is the one backup.sh wrote.
[ -f "$DUMP" ] || die "no such backup: $DUMP"
SUM="$DUMP.sha256"
[ -f "$SUM" ] || refuse "no checksum file $SUM beside the backup; cannot tell it is intact"
# The digest of this very file against the one recorded: the name inside the
# .sha256 file is not trusted to point at it.
EXPECTED="$(sed -n '1s/^\([0-9a-f]\{64\}\) .*$/\1/p' "$SUM")"
ACTUAL="$(sha256sum <"$DUMP")" || die "cannot read $DUMP"
ACTUAL="${ACTUAL%% *}"
[ -n "$EXPECTED" ] || refuse "$SUM holds no sha256 digest; nothing was restored"
[ "$EXPECTED" = "$ACTUAL" ] ||
  refuse "checksum mismatch: $DUMP does not match $SUM (damaged or altered); nothing was restored"
"$PG_RESTORE" --list "$DUMP" >/dev/null || die "$DUMP is not a pg_dump custom-format archive"
echo "$PROG: checksum ok: $DUMP" >&2

umask 077
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
if [ -n "$PASSWORD_FILE" ] && [ -e "$PASSWORD_FILE" ]; then
  [ -r "$PASSWORD_FILE" ] || die "cannot read $PASSWORD_FILE as $(id -un)"
  write_pgpass "$PASSWORD_FILE" "$WORK/pgpass" || die "cannot write a pgpass file"
  export PGPASSFILE="$WORK/pgpass"
else
  PASSWORD_FILE=""
fi
q() { "$PSQL" -X -q -At --no-password -v ON_ERROR_STOP=1 --dbname="$1" -c "$2"; }

# 2. The target exists (or is created) and is empty.
DB_NAME="${DB_URL##*/}"
DB_NAME="${DB_NAME%%\?*}"
MAINT_URL="${DB_URL%/*}/postgres"
case "$DB_URL" in *\?*) MAINT_URL="$MAINT_URL?${DB_URL#*\?}" ;; esac
if ! q "$DB_URL" "SELECT 1" >/dev/null 2>"$WORK/connect.err"; then
  if [ "$CREATE" = 1 ] && grep -q "does not exist" "$WORK/connect.err"; then
    case "$DB_NAME" in
      '' | *[!A-Za-z0-9_]*) die "will not create a database named '$DB_NAME' (letters, digits, _ only)" ;;
    esac
    q "$MAINT_URL" "CREATE DATABASE \"$DB_NAME\"" >/dev/null ||
      die "cannot create database $DB_NAME on $(mask_url "$MAINT_URL")"
    echo "$PROG: created database $DB_NAME" >&2
  else
    cat "$WORK/connect.err" >&2
    die "cannot connect to $(mask_url "$DB_URL")"
  fi
fi
EXISTING="$(q "$DB_URL" "SELECT string_agg(n.nspname || '.' || c.relname, ', ' ORDER BY 1)
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
    AND n.nspname NOT IN ('pg_catalog', 'information_schema')
    AND n.nspname NOT LIKE 'pg_toast%' AND n.nspname NOT LIKE 'pg_temp%'")" ||
  die "cannot inspect $(mask_url "$DB_URL")"
if [ -n "$EXISTING" ]; then
  refuse "the target database $DB_NAME is not empty (it has ${EXISTING:0:200}); restore into a new, empty database, or drop this one first"
fi

# 3. Restore in one transaction: it all lands, or nothing does.
echo "$PROG: restoring into $(mask_url "$DB_URL")" >&2
"$PG_RESTORE" --exit-on-error --single-transaction --no-owner --no-privileges --no-password \
  --dbname="$DB_URL" "$DUMP" || die "pg_restore failed; the target was left as it was (empty)"

# 4. Every table has as many rows as the dump holds for it.
"$PG_RESTORE" --data-only --file=- "$DUMP" |
  awk '/^COPY .* FROM stdin;$/ { t = $2; n = 0; inside = 1; next }
       inside && $0 == "\\." { print t, n; inside = 0; next }
       inside { n++ }' >"$WORK/expected" || die "cannot read the row counts from $DUMP"
[ -s "$WORK/expected" ] || die "the dump holds no table data; is it a license database backup?"
BAD=0
while read -r table expected; do
  actual="$(q "$DB_URL" "SELECT count(*) FROM $table")" || die "cannot count rows of $table"
  if [ "$actual" = "$expected" ]; then
    echo "$PROG: rows ok: $table $actual" >&2
  else
    echo "$PROG: rows MISMATCH: $table has $actual rows, the dump has $expected" >&2
    BAD=1
  fi
done <"$WORK/expected"
[ "$BAD" = 0 ] || die "row counts differ from the dump"

# 5. Every stored blob verifies under the configured key ring.
if [ "$VERIFY" = 1 ]; then
  echo "$PROG: checking every stored blob: $VERIFY_WITH" >&2
  if [ -n "$PASSWORD_FILE" ]; then
    export DATABASE_PASSWORD_FILE="$PASSWORD_FILE"
  else
    unset DATABASE_PASSWORD_FILE
  fi
  DATABASE_URL="$DB_URL" RESTORE_DB_NAME="$DB_NAME" bash -c "$VERIFY_WITH" >&2 ||
    die "the blob check failed (see above): some stored licenses do not verify under the configured key ring"
else
  echo "$PROG: blob check skipped (--no-verify-blobs)" >&2
fi

echo "$PROG: restored $DUMP into $DB_NAME and checked it" >&2
