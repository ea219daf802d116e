/**
 * The schema, as numbered forward-only migrations (one SQL dialect for
 * PostgreSQL and PGlite), and the runner that applies the missing ones at
 * start-up. The runner holds a transaction-scoped advisory lock, so two
 * servers starting together on one database apply each migration once: the
 * second waits, then finds nothing left to do. DDL is transactional in
 * PostgreSQL, so a failed migration leaves no half-made schema behind.
 *
 * A migration is never edited once released; a change is a new migration.
 * Releases expand first and contract a release later, so the previous
 * release keeps running on the newer schema (see docs/LICENSE-SERVER.md).
 */
import { TIERS } from "../core/catalogue.js";
import { LicenseError } from "../core/errors.js";
import type { Database, Queryable } from "./db.js";

export interface Migration {
  readonly version: number;
  readonly name: string;
  /** Statements run in order, one at a time (PGlite's extended protocol takes one per call). */
  readonly statements: readonly string[];
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: "licenses, events, admin tokens, idempotency keys",
    statements: [
      `CREATE TABLE licenses (
        id bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
        license_key text PRIMARY KEY,
        name text NOT NULL,
        email text NOT NULL,
        email_norm text NOT NULL,
        tier text NOT NULL CHECK (tier IN ('lite', 'core', 'pro')),
        issued_at timestamptz NOT NULL,
        expires_at timestamptz NOT NULL,
        kid text NOT NULL,
        blob text NOT NULL,
        status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended', 'revoked')),
        status_reason text,
        supersedes text REFERENCES licenses (license_key),
        superseded_by text REFERENCES licenses (license_key),
        source text NOT NULL CHECK (source IN ('api', 'import')),
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL
      )`,
      `CREATE INDEX licenses_email_norm ON licenses (email_norm, id)`,
      `CREATE INDEX licenses_tier ON licenses (tier, id)`,
      `CREATE INDEX licenses_expires_at ON licenses (expires_at)`,
      `CREATE TABLE events (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        license_key text NOT NULL REFERENCES licenses (license_key),
        action text NOT NULL,
        actor text NOT NULL,
        reason text,
        request_id text,
        before jsonb,
        after jsonb,
        at timestamptz NOT NULL
      )`,
      `CREATE INDEX events_license_key ON events (license_key, id)`,
      `CREATE TABLE admin_tokens (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        name text NOT NULL,
        hash text NOT NULL UNIQUE,
        created_by text NOT NULL,
        created_at timestamptz NOT NULL,
        last_used_at timestamptz,
        revoked_at timestamptz
      )`,
      `CREATE UNIQUE INDEX admin_tokens_live_name ON admin_tokens (name) WHERE revoked_at IS NULL`,
      `CREATE TABLE idempotency_keys (
        key text PRIMARY KEY,
        request_hash text NOT NULL,
        status integer,
        response text,
        created_at timestamptz NOT NULL
      )`,
    ],
  },
  {
    version: 2,
    name: "earlier blobs of a license key",
    statements: [
      // A vendor may re-mint a buyer under the same license key (docs/ADMIN.md, "renew an
      // existing buyer"); the licenses row holds the key's current blob and this table every
      // earlier one, so each genuine blob the server was given still verifies with its state.
      `CREATE TABLE earlier_blobs (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        license_key text NOT NULL REFERENCES licenses (license_key),
        name text NOT NULL,
        email text NOT NULL,
        tier text NOT NULL CHECK (tier IN ('lite', 'core', 'pro')),
        issued_at timestamptz NOT NULL,
        expires_at timestamptz NOT NULL,
        kid text NOT NULL,
        blob text NOT NULL,
        recorded_at timestamptz NOT NULL
      )`,
      // md5 keeps the index entry small (a blob may exceed a btree entry's size limit).
      `CREATE UNIQUE INDEX earlier_blobs_blob ON earlier_blobs (license_key, md5(blob))`,
    ],
  },
  {
    version: 3,
    name: "tiers as a table the catalogue's tiers are kept in",
    statements: [
      // The tier names come from the code's TIERS, which migrate() writes after the
      // migrations; a migration never names them, so it need not change when they do.
      `CREATE TABLE tiers (name text PRIMARY KEY)`,
      `INSERT INTO tiers (name) SELECT tier FROM licenses UNION SELECT tier FROM earlier_blobs`,
      `ALTER TABLE licenses DROP CONSTRAINT licenses_tier_check`,
      `ALTER TABLE licenses ADD CONSTRAINT licenses_tier_fkey FOREIGN KEY (tier) REFERENCES tiers (name)`,
      `ALTER TABLE earlier_blobs DROP CONSTRAINT earlier_blobs_tier_check`,
      `ALTER TABLE earlier_blobs ADD CONSTRAINT earlier_blobs_tier_fkey FOREIGN KEY (tier) REFERENCES tiers (name)`,
    ],
  },
  {
    version: 4,
    name: "a hash chain over the audit events",
    statements: [
      // prev: the hash of the event before (by id); hash: this event's. log_line: for an
      // import, the SHA-256 of the issuance-log line the license came from (docs/LICENSE-SERVER.md).
      `ALTER TABLE events ADD COLUMN log_line text, ADD COLUMN prev text, ADD COLUMN hash text`,
      // Events written before this migration stay unchained; every later one carries its link
      // (NOT VALID: checked for new rows only; see the trigger below), and a missing head row
      // makes a write fail rather than go unchained.
      `ALTER TABLE events ADD CONSTRAINT events_chained
        CHECK (prev IS NOT NULL AND hash IS NOT NULL) NOT VALID`,
      // The hashed text of an event: its fields as a JSON array in a fixed order, rendered by
      // jsonb (which fixes the key order and spacing of before/after) and the time in UTC with
      // microseconds, so it is recomputed byte for byte from the stored row.
      `CREATE FUNCTION ledger_event_content(license_key text, action text, actor text,
          reason text, request_id text, before jsonb, after jsonb, at timestamptz, log_line text)
        RETURNS text LANGUAGE sql STABLE AS $$
          SELECT jsonb_build_array(license_key, action, actor, reason, request_id, before, after,
            to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), log_line)::text
        $$`,
      // An event's hash: lower-case hex SHA-256 of the UTF-8 of prev followed by its content.
      `CREATE FUNCTION ledger_link(prev text, content text) RETURNS text LANGUAGE sql STABLE AS $$
          SELECT encode(sha256(convert_to(prev || content, 'UTF8')), 'hex')
        $$`,
      // ledger_chain(head, content ORDER BY …): the hash after appending each content in turn,
      // starting from head (as a window function, each event's own hash).
      `CREATE FUNCTION ledger_step(state text, head text, content text) RETURNS text
        LANGUAGE plpgsql STABLE AS $$
        BEGIN
          RETURN ledger_link(coalesce(state, head), content);
        END
        $$`,
      `CREATE AGGREGATE ledger_chain(text, text) (SFUNC = ledger_step, STYPE = text)`,
      // The chain's head: the last event's hash. Every append updates this one row in the
      // statement that inserts the events, which serializes appends (two server processes
      // cannot fork the chain) and gives them the latest head; "before" returns the head the
      // statement started from. An empty ledger starts from 64 zeros; an existing one from
      // its last event, hashed as if it followed 64 zeros.
      `CREATE TABLE ledger_head (
        one boolean PRIMARY KEY DEFAULT true CHECK (one),
        hash text NOT NULL,
        before text
      )`,
      `INSERT INTO ledger_head (hash) SELECT coalesce(
        (SELECT ledger_link(repeat('0', 64), ledger_event_content(license_key, action, actor,
            reason, request_id, before, after, at, log_line))
          FROM events ORDER BY id DESC LIMIT 1),
        repeat('0', 64))`,
      // An event inserted without a link — by the previous release, which keeps running on this
      // schema during a rolling upgrade or after a rollback, or by hand — is chained by the
      // database: the head's row lock first, then the id, so ids keep the chain's order.
      // This release's statements link their events themselves and skip it (WHEN).
      `CREATE FUNCTION ledger_chain_event() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          UPDATE ledger_head SET before = hash,
              hash = ledger_link(hash, ledger_event_content(NEW.license_key, NEW.action,
                NEW.actor, NEW.reason, NEW.request_id, NEW.before, NEW.after, NEW.at, NEW.log_line))
            WHERE one = true
            RETURNING before, hash INTO NEW.prev, NEW.hash;
          NEW.id := nextval(pg_get_serial_sequence('events', 'id'));
          RETURN NEW;
        END
        $$`,
      `CREATE TRIGGER events_chain BEFORE INSERT ON events
        FOR EACH ROW WHEN (NEW.prev IS NULL) EXECUTE FUNCTION ledger_chain_event()`,
      // Statistics saying it holds one row keep the plans of the statements that update it
      // small (an unanalyzed table is estimated at hundreds of rows, which made PostgreSQL
      // JIT-compile every insert of a batch of licenses).
      `ANALYZE ledger_head`,
    ],
  },
  {
    version: 5,
    name: "store sales: webhook events, the sale behind a license, the e-mail outbox",
    statements: [
      `ALTER TABLE licenses DROP CONSTRAINT licenses_source_check`,
      `ALTER TABLE licenses ADD CONSTRAINT licenses_source_check
        CHECK (source IN ('api', 'import', 'stripe', 'lemonsqueezy'))`,
      // One row per provider event: the unique (provider, event_id) makes a redelivery,
      // also one racing on another server process, wait for the first and then do nothing.
      `CREATE TABLE webhook_events (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        provider text NOT NULL CHECK (provider IN ('stripe', 'lemonsqueezy')),
        event_id text NOT NULL,
        type text NOT NULL,
        status text NOT NULL CHECK (status IN ('processed', 'ignored')),
        reason text,
        license_key text REFERENCES licenses (license_key),
        payload jsonb NOT NULL,
        received_at timestamptz NOT NULL,
        processed_at timestamptz NOT NULL,
        UNIQUE (provider, event_id)
      )`,
      `CREATE INDEX webhook_events_status ON webhook_events (status, id)`,
      // The sale a store license came from: its order or payment reference (a Stripe
      // payment_intent, a Lemon Squeezy order id) finds it again for a refund or dispute.
      `CREATE TABLE sales (
        license_key text PRIMARY KEY REFERENCES licenses (license_key),
        provider text NOT NULL,
        reference text NOT NULL,
        event_id text NOT NULL,
        product text NOT NULL,
        created_at timestamptz NOT NULL,
        UNIQUE (provider, reference)
      )`,
      // What is to be e-mailed: written with the license, sent by the delivery worker.
      `CREATE TABLE outbox (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        license_key text NOT NULL REFERENCES licenses (license_key),
        status text NOT NULL CHECK (status IN ('queued', 'sent', 'failing')),
        attempts integer NOT NULL DEFAULT 0,
        last_error text,
        next_attempt_at timestamptz NOT NULL,
        sent_at timestamptz,
        created_at timestamptz NOT NULL
      )`,
      `CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE status <> 'sent'`,
      `CREATE INDEX outbox_license_key ON outbox (license_key, id)`,
    ],
  },
  {
    version: 6,
    name: "seat limits, machine activations, the revocation list's serial",
    statements: [
      // NULL: no limit. Kept on the server, not in the blob, so it can change without re-issuing.
      `ALTER TABLE licenses ADD COLUMN seats integer CHECK (seats BETWEEN 1 AND 10000)`,
      // One row per seat a machine took; a released (or reclaimed) seat keeps its row with
      // released_at set, so the history stays and the fingerprint may activate again.
      `CREATE TABLE activations (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        license_key text NOT NULL REFERENCES licenses (license_key),
        fingerprint text NOT NULL,
        hostname text,
        first_seen_at timestamptz NOT NULL,
        last_seen_at timestamptz NOT NULL,
        released_at timestamptz,
        released_by text
      )`,
      `CREATE UNIQUE INDEX activations_held ON activations (license_key, fingerprint)
        WHERE released_at IS NULL`,
      `CREATE INDEX activations_license ON activations (license_key, id)`,
      `CREATE INDEX activations_unseen ON activations (last_seen_at) WHERE released_at IS NULL`,
      // The revocation list reads these (a few among many active licenses).
      `CREATE INDEX licenses_withdrawn ON licenses (license_key)
        WHERE status IN ('revoked', 'suspended')`,
      // The revocation list's serial is the id of the latest status change (ids only grow).
      `CREATE INDEX events_status_changes ON events (id)
        WHERE action IN ('revoke', 'suspend', 'reinstate')`,
    ],
  },
  {
    version: 7,
    name: "admin console sessions",
    statements: [
      // A console session: only the SHA-256 of its cookie's id is stored; csrf is the
      // per-session secret its forms carry. A session ends on sign-out, after its idle or
      // absolute expiry, or when its token is revoked (ended_reason says which).
      `CREATE TABLE admin_sessions (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        hash text NOT NULL UNIQUE,
        token_id bigint NOT NULL REFERENCES admin_tokens (id),
        csrf text NOT NULL,
        created_at timestamptz NOT NULL,
        last_seen_at timestamptz NOT NULL,
        expires_at timestamptz NOT NULL,
        ended_at timestamptz,
        ended_reason text
      )`,
      `CREATE INDEX admin_sessions_token ON admin_sessions (token_id) WHERE ended_at IS NULL`,
    ],
  },
  {
    version: 8,
    name: "indexes for a million licenses: state, expiry, trigram search; a tally for the counts",
    statements: [
      // Trigram indexes serve the list's `q` (ILIKE '%text%'). pg_trgm is a trusted
      // extension (PostgreSQL 13+): a database owner may create it without superuser.
      `CREATE EXTENSION IF NOT EXISTS pg_trgm`,
      // state=suspended|revoked|active|expired, newest first, walks this index in id order.
      `CREATE INDEX licenses_status_id ON licenses (status, id)`,
      // expiring-within and expired: a range of expires_at among one status.
      `CREATE INDEX licenses_status_expires_at ON licenses (status, expires_at)`,
      // One trigram index over the three searched columns (the query keeps the exact
      // per-column condition as a recheck, so text spanning two columns never matches).
      `CREATE INDEX licenses_search ON licenses
        USING gin ((name || ' ' || email || ' ' || license_key) gin_trgm_ops)`,
      // The counts endpoint without reading every license: licenses by tier, status and
      // day of expiry (days since 1970-01-01 UTC), as signed deltas that statement
      // triggers append (no row is updated, so writers never wait on one another here)
      // and the counts read compacts now and then (store/licenses.ts countLicenses).
      `CREATE TABLE license_tally (
        tier text NOT NULL,
        status text NOT NULL,
        expires_day integer NOT NULL,
        n bigint NOT NULL
      )`,
      `CREATE FUNCTION license_day(t timestamptz) RETURNS integer LANGUAGE sql STABLE AS $$
          SELECT floor(extract(epoch FROM t) / 86400)::integer
        $$`,
      `CREATE FUNCTION license_tally_insert() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          INSERT INTO license_tally (tier, status, expires_day, n)
            SELECT tier, status, license_day(expires_at), count(*) FROM tally_new GROUP BY 1, 2, 3;
          RETURN NULL;
        END
        $$`,
      `CREATE FUNCTION license_tally_update() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          INSERT INTO license_tally (tier, status, expires_day, n)
            SELECT tier, status, day, sum(n) FROM (
              SELECT tier, status, license_day(expires_at) AS day, 1 AS n FROM tally_new
              UNION ALL
              SELECT tier, status, license_day(expires_at), -1 FROM tally_old) d
            GROUP BY 1, 2, 3 HAVING sum(n) <> 0;
          RETURN NULL;
        END
        $$`,
      `CREATE FUNCTION license_tally_delete() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          INSERT INTO license_tally (tier, status, expires_day, n)
            SELECT tier, status, license_day(expires_at), -count(*) FROM tally_old GROUP BY 1, 2, 3;
          RETURN NULL;
        END
        $$`,
      `CREATE TRIGGER licenses_tally_insert AFTER INSERT ON licenses
        REFERENCING NEW TABLE AS tally_new
        FOR EACH STATEMENT EXECUTE FUNCTION license_tally_insert()`,
      `CREATE TRIGGER licenses_tally_update AFTER UPDATE ON licenses
        REFERENCING OLD TABLE AS tally_old NEW TABLE AS tally_new
        FOR EACH STATEMENT EXECUTE FUNCTION license_tally_update()`,
      `CREATE TRIGGER licenses_tally_delete AFTER DELETE ON licenses
        REFERENCING OLD TABLE AS tally_old
        FOR EACH STATEMENT EXECUTE FUNCTION license_tally_delete()`,
      `CREATE FUNCTION license_tally_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          DELETE FROM license_tally;
          RETURN NULL;
        END
        $$`,
      `CREATE TRIGGER licenses_tally_truncate AFTER TRUNCATE ON licenses
        FOR EACH STATEMENT EXECUTE FUNCTION license_tally_truncate()`,
      `INSERT INTO license_tally (tier, status, expires_day, n)
        SELECT tier, status, license_day(expires_at), count(*) FROM licenses GROUP BY 1, 2, 3`,
      `ANALYZE licenses`,
    ],
  },
  {
    version: 9,
    name: "events reference licenses through one check per statement instead of one per row",
    statements: [
      // The foreign key checked each event's license with its own query (about half of
      // the time of a statement that issues a batch of licenses). This checks all of a
      // statement's events in one query, and takes the same KEY SHARE lock on their
      // licenses as the foreign key did, so a license cannot be deleted or rekeyed under
      // an event being written; deleting or rekeying one that has events is refused as
      // before. The SQLSTATE (23503) and the constraint's name are the foreign key's.
      `ALTER TABLE events DROP CONSTRAINT events_license_key_fkey`,
      `CREATE FUNCTION events_license_check() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE
          missing text;
        BEGIN
          WITH wanted AS (SELECT DISTINCT license_key FROM events_new),
            held AS (
              SELECT license_key FROM licenses
              WHERE license_key IN (SELECT license_key FROM wanted)
              FOR KEY SHARE)
          SELECT w.license_key INTO missing FROM wanted w
            WHERE NOT EXISTS (SELECT 1 FROM held h WHERE h.license_key = w.license_key)
            LIMIT 1;
          IF missing IS NOT NULL THEN
            RAISE foreign_key_violation USING
              MESSAGE = format('an event refers to license %s, which is not in licenses', missing),
              CONSTRAINT = 'events_license_key_fkey', TABLE = 'events';
          END IF;
          RETURN NULL;
        END
        $$`,
      `CREATE TRIGGER events_license_check AFTER INSERT ON events
        REFERENCING NEW TABLE AS events_new
        FOR EACH STATEMENT EXECUTE FUNCTION events_license_check()`,
      `CREATE FUNCTION licenses_keep_referenced() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE
          kept text;
        BEGIN
          SELECT e.license_key INTO kept FROM events e
            WHERE e.license_key IN (SELECT license_key FROM licenses_old)
              AND NOT EXISTS (SELECT 1 FROM licenses l WHERE l.license_key = e.license_key)
            LIMIT 1;
          IF kept IS NOT NULL THEN
            RAISE foreign_key_violation USING
              MESSAGE = format('license %s has events and cannot be deleted', kept),
              CONSTRAINT = 'events_license_key_fkey', TABLE = 'licenses';
          END IF;
          RETURN NULL;
        END
        $$`,
      `CREATE TRIGGER licenses_keep_referenced_delete AFTER DELETE ON licenses
        REFERENCING OLD TABLE AS licenses_old
        FOR EACH STATEMENT EXECUTE FUNCTION licenses_keep_referenced()`,
      `CREATE FUNCTION licenses_keep_referenced_key() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF EXISTS (SELECT 1 FROM events WHERE license_key = OLD.license_key) THEN
            RAISE foreign_key_violation USING
              MESSAGE = format('license %s has events and cannot be rekeyed', OLD.license_key),
              CONSTRAINT = 'events_license_key_fkey', TABLE = 'licenses';
          END IF;
          RETURN NEW;
        END
        $$`,
      `CREATE TRIGGER licenses_keep_referenced_rekey BEFORE UPDATE OF license_key ON licenses
        FOR EACH ROW WHEN (OLD.license_key IS DISTINCT FROM NEW.license_key)
        EXECUTE FUNCTION licenses_keep_referenced_key()`,
    ],
  },
];

/** The schema version this code expects. */
export const LATEST_VERSION = MIGRATIONS.reduce((max, m) => Math.max(max, m.version), 0);

// An arbitrary constant that names "datatools-license migrations" among advisory locks.
const MIGRATION_LOCK = "7243012946113905";

const CREATE_VERSIONS = `CREATE TABLE IF NOT EXISTS schema_migrations (
  version integer PRIMARY KEY,
  name text NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now()
)`;

async function appliedVersions(q: Queryable): Promise<number[]> {
  const exists = await q.query<{ t: string | null }>(
    "SELECT to_regclass('schema_migrations')::text AS t",
  );
  if (!exists.rows[0]?.t) return [];
  const { rows } = await q.query<{ version: number }>(
    "SELECT version FROM schema_migrations ORDER BY version",
  );
  return rows.map((r) => Number(r.version));
}

/** The highest applied migration (0 for an empty database). */
export async function schemaVersion(q: Queryable): Promise<number> {
  const versions = await appliedVersions(q);
  return versions.length === 0 ? 0 : Math.max(...versions);
}

/** What {@link migrate} did. */
export interface MigrateResult {
  /** Versions applied by this call, in order. */
  readonly applied: number[];
  /** The schema version afterwards. */
  readonly version: number;
}

/**
 * Applies every missing migration, in order, in one transaction under the
 * migration lock.
 *
 * @example
 * ```ts
 * const { applied } = await migrate(db);
 * ```
 */
export async function migrate(db: Database): Promise<MigrateResult> {
  return db.transaction(async (tx) => {
    await tx.query(`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK})`);
    await tx.query(CREATE_VERSIONS);
    const done = new Set(await appliedVersions(tx));
    const applied: number[] = [];
    for (const m of MIGRATIONS) {
      if (done.has(m.version)) continue;
      for (const sql of m.statements) await tx.query(sql);
      await tx.query("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", [
        m.version,
        m.name,
      ]);
      applied.push(m.version);
    }
    const version = Math.max(0, ...done, ...applied);
    if (version >= 3) {
      // The tiers a license may have are the catalogue's (core/catalogue.ts TIERS).
      await tx.query("INSERT INTO tiers (name) SELECT unnest($1::text[]) ON CONFLICT DO NOTHING", [
        [...TIERS],
      ]);
    }
    return { applied, version };
  });
}

/** Throws SCHEMA_OUTDATED unless every migration this code knows is applied. */
export async function assertSchemaCurrent(q: Queryable): Promise<number> {
  const version = await schemaVersion(q);
  if (version < LATEST_VERSION) {
    throw new LicenseError(
      "SCHEMA_OUTDATED",
      `the database schema is at version ${version}, this server needs ${LATEST_VERSION}; run dtlicense db migrate`,
    );
  }
  return version;
}
