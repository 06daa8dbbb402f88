// The PostgreSQL schema: the same history as SQLite's (store/migrations.ts), version for version, applied by
// `tenantgate store migrate` or at start-up. Timestamps are ISO 8601 text, as in SQLite, so that both engines give
// the same records; "window" is quoted (a reserved word here).
export const PG_MIGRATIONS: string[] = [
  `
  CREATE TABLE tenants (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    tier        TEXT NOT NULL CHECK (tier IN ('free', 'basic', 'premium', 'enterprise')),
    status      TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended')),
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
  );
  `,
  `
  ALTER TABLE tenants ADD COLUMN upstream TEXT;

  CREATE TABLE groups (
    tenant_id         TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    id                TEXT NOT NULL,
    name              TEXT NOT NULL,
    description       TEXT NOT NULL DEFAULT '',
    type              TEXT NOT NULL CHECK (type IN ('team', 'role', 'region', 'tier')),
    permissions       TEXT NOT NULL DEFAULT '[]',
    data_access_rules TEXT NOT NULL DEFAULT '[]',
    data_access_level TEXT NOT NULL CHECK (data_access_level IN ('public', 'internal', 'confidential')),
    resource_limits   TEXT NOT NULL DEFAULT '{}',
    routing           TEXT NOT NULL DEFAULT '{}',
    active            INTEGER NOT NULL DEFAULT 1,
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id)
  );

  -- seq: the order memberships were made in (SQLite's rowid).
  CREATE TABLE memberships (
    tenant_id  TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    group_id   TEXT NOT NULL,
    role       TEXT NOT NULL CHECK (role IN ('member', 'admin', 'owner')),
    joined_at  TEXT NOT NULL,
    expires_at TEXT,
    seq        BIGSERIAL,
    PRIMARY KEY (tenant_id, user_id, group_id),
    FOREIGN KEY (tenant_id, group_id) REFERENCES groups(tenant_id, id) ON DELETE CASCADE
  );
  CREATE INDEX memberships_by_group ON memberships(tenant_id, group_id);

  CREATE TABLE api_keys (
    id           TEXT PRIMARY KEY,
    tenant_id    TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    user_id      TEXT NOT NULL,
    name         TEXT NOT NULL DEFAULT '',
    secret_hash  BYTEA NOT NULL,
    scopes       TEXT NOT NULL DEFAULT '[]',
    tier         TEXT CHECK (tier IS NULL OR tier IN ('free', 'basic', 'premium', 'enterprise')),
    created_at   TEXT NOT NULL,
    expires_at   TEXT,
    revoked_at   TEXT,
    rotated_to   TEXT,
    last_used_at TEXT
  );
  CREATE INDEX api_keys_by_tenant ON api_keys(tenant_id);

  CREATE TABLE federation_grants (
    id             TEXT PRIMARY KEY,
    source_tenant  TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    target_tenant  TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    resource_type  TEXT NOT NULL,
    resource_id    TEXT,
    access         TEXT NOT NULL CHECK (access IN ('read', 'write')),
    created_at     TEXT NOT NULL,
    expires_at     TEXT NOT NULL,
    revoked_at     TEXT
  );

  CREATE TABLE audit_log (
    seq       BIGSERIAL PRIMARY KEY,
    at        TEXT NOT NULL,
    actor     TEXT NOT NULL,
    action    TEXT NOT NULL,
    tenant_id TEXT,
    target    TEXT,
    before    TEXT,
    after     TEXT
  );
  CREATE INDEX audit_by_tenant ON audit_log(tenant_id, seq);
  `,
  `
  ALTER TABLE tenants ADD COLUMN billing_anchor_day INTEGER CHECK (billing_anchor_day IS NULL OR billing_anchor_day BETWEEN 1 AND 28);

  CREATE TABLE quota_overrides (
    tenant_id  TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    scope      TEXT NOT NULL CHECK (scope IN ('tenant', 'group', 'key')),
    scope_id   TEXT NOT NULL,
    per_minute BIGINT,
    per_day    BIGINT,
    per_month  BIGINT,
    burst      BIGINT,
    rate       DOUBLE PRECISION,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (tenant_id, scope, scope_id)
  );

  CREATE TABLE quota_usage (
    tenant_id    TEXT NOT NULL,
    subject      TEXT NOT NULL,
    "window"     TEXT NOT NULL CHECK ("window" IN ('day', 'month')),
    window_start TEXT NOT NULL,
    count        BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, subject, "window", window_start)
  );
  `,
  // Fleet mode: the change version every write bumps (replicas compare it to know what they may have missed), and
  // the usage batches already added (a flush retried after an unanswered commit is not counted twice).
  `
  CREATE TABLE store_version (
    one     BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (one),
    version BIGINT NOT NULL
  );
  INSERT INTO store_version (version) VALUES (0);

  CREATE TABLE usage_batches (
    id TEXT PRIMARY KEY,
    at TEXT NOT NULL
  );
  `,
  // SQLite's change counter for replicas on one file (store/migrations.ts, version 5): here store_version already
  // says what changed, so this version changes nothing; it keeps the two histories version for version.
  `SELECT 1;`,
  // Tenants' own rules and Rego (store/migrations.ts, version 6).
  `
  CREATE TABLE tenant_policies (
    tenant_id  TEXT PRIMARY KEY REFERENCES tenants(id) ON DELETE CASCADE,
    rules      TEXT NOT NULL DEFAULT '[]',
    rego       TEXT,
    wasm       BYTEA,
    projection TEXT,
    revision   BIGINT NOT NULL,
    updated_at TEXT NOT NULL,
    updated_by TEXT NOT NULL
  );
  `,
  // GenAI token usage (store/migrations.ts, version 7).
  `
  CREATE TABLE token_usage (
    tenant_id      TEXT NOT NULL,
    subject        TEXT NOT NULL,
    model          TEXT NOT NULL,
    "window"       TEXT NOT NULL CHECK ("window" IN ('day', 'month')),
    window_start   TEXT NOT NULL,
    input_tokens   BIGINT NOT NULL,
    output_tokens  BIGINT NOT NULL,
    cost_nano_usd  BIGINT NOT NULL,
    responses      BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, subject, model, "window", window_start)
  );
  `,
  // Token budgets per tenant, group or key (store/migrations.ts, version 8).
  `
  CREATE TABLE token_overrides (
    tenant_id  TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    scope      TEXT NOT NULL CHECK (scope IN ('tenant', 'group', 'key')),
    scope_id   TEXT NOT NULL,
    limits     TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (tenant_id, scope, scope_id)
  );
  `,
];
