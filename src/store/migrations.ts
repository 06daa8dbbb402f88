// Versioned schema migrations: index i upgrades user_version i to i+1. Append only; never edit a shipped one.
// PostgreSQL has the same history, version for version (pg/migrations.ts).
export const migrations: string[] = [
  `
  CREATE TABLE tenants (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    tier        TEXT NOT NULL CHECK (tier IN ('free', 'basic', 'premium', 'enterprise')),
    status      TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended')),
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
  ) STRICT;
  `,
  // The authorization model: groups, memberships, API keys, federation grants, and the audit log.
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
  ) STRICT;

  CREATE TABLE memberships (
    tenant_id  TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    group_id   TEXT NOT NULL,
    role       TEXT NOT NULL CHECK (role IN ('member', 'admin', 'owner')),
    joined_at  TEXT NOT NULL,
    expires_at TEXT,
    PRIMARY KEY (tenant_id, user_id, group_id),
    FOREIGN KEY (tenant_id, group_id) REFERENCES groups(tenant_id, id) ON DELETE CASCADE
  ) STRICT;
  CREATE INDEX memberships_by_group ON memberships(tenant_id, group_id);

  CREATE TABLE api_keys (
    id           TEXT PRIMARY KEY,
    tenant_id    TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    user_id      TEXT NOT NULL,
    name         TEXT NOT NULL DEFAULT '',
    secret_hash  BLOB NOT NULL,
    scopes       TEXT NOT NULL DEFAULT '[]',
    tier         TEXT CHECK (tier IS NULL OR tier IN ('free', 'basic', 'premium', 'enterprise')),
    created_at   TEXT NOT NULL,
    expires_at   TEXT,
    revoked_at   TEXT,
    rotated_to   TEXT,
    last_used_at TEXT
  ) STRICT;
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
  ) STRICT;

  -- Kept after a tenant is deleted (offboarding itself is audited), so no foreign key.
  CREATE TABLE audit_log (
    seq       INTEGER PRIMARY KEY AUTOINCREMENT,
    at        TEXT NOT NULL,
    actor     TEXT NOT NULL,
    action    TEXT NOT NULL,
    tenant_id TEXT,
    target    TEXT,
    before    TEXT,
    after     TEXT
  ) STRICT;
  CREATE INDEX audit_by_tenant ON audit_log(tenant_id, seq);
  `,
  // Quotas: limit overrides per tenant / group / API key, usage counters, and the billing anchor day.
  `
  ALTER TABLE tenants ADD COLUMN billing_anchor_day INTEGER CHECK (billing_anchor_day IS NULL OR billing_anchor_day BETWEEN 1 AND 28);

  CREATE TABLE quota_overrides (
    tenant_id  TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    scope      TEXT NOT NULL CHECK (scope IN ('tenant', 'group', 'key')),
    scope_id   TEXT NOT NULL,
    per_minute INTEGER,
    per_day    INTEGER,
    per_month  INTEGER,
    burst      INTEGER,
    rate       REAL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (tenant_id, scope, scope_id)
  ) STRICT;

  -- One row per counter and window: subject is '*' for the tenant as a whole, 'key:<id>' or 'user:<id>'.
  CREATE TABLE quota_usage (
    tenant_id    TEXT NOT NULL,
    subject      TEXT NOT NULL,
    window       TEXT NOT NULL CHECK (window IN ('day', 'month')),
    window_start TEXT NOT NULL,
    count        INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, subject, window, window_start)
  ) STRICT;
  `,
  // Fleet mode: usage batches already added (PostgreSQL's flushes are idempotent by batch id; kept here so that both
  // engines share one history and `store copy` maps one to the other).
  `
  CREATE TABLE usage_batches (
    id TEXT PRIMARY KEY,
    at TEXT NOT NULL
  ) STRICT;
  `,
  // What the caches hold changed: every write to the tables they read bumps this version, and a replica on the same
  // file drops its caches when it moves. PRAGMA data_version alone also moves for writes that change nothing cached
  // (a key's last use from the store thread, quota usage, audit entries), which dropped every cache once a second
  // under load. A column added to a cached table later must join api_keys' UPDATE OF list below.
  `
  CREATE TABLE store_changes (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    version INTEGER NOT NULL
  ) STRICT;
  INSERT INTO store_changes (id, version) VALUES (1, 0);
  CREATE TRIGGER tenants_insert_changes AFTER INSERT ON tenants BEGIN UPDATE store_changes SET version = version + 1; END;
  CREATE TRIGGER tenants_update_changes AFTER UPDATE ON tenants BEGIN UPDATE store_changes SET version = version + 1; END;
  CREATE TRIGGER tenants_delete_changes AFTER DELETE ON tenants BEGIN UPDATE store_changes SET version = version + 1; END;
  CREATE TRIGGER groups_insert_changes AFTER INSERT ON groups BEGIN UPDATE store_changes SET version = version + 1; END;
  CREATE TRIGGER groups_update_changes AFTER UPDATE ON groups BEGIN UPDATE store_changes SET version = version + 1; END;
  CREATE TRIGGER groups_delete_changes AFTER DELETE ON groups BEGIN UPDATE store_changes SET version = version + 1; END;
  CREATE TRIGGER memberships_insert_changes AFTER INSERT ON memberships BEGIN UPDATE store_changes SET version = version + 1; END;
  CREATE TRIGGER memberships_update_changes AFTER UPDATE ON memberships BEGIN UPDATE store_changes SET version = version + 1; END;
  CREATE TRIGGER memberships_delete_changes AFTER DELETE ON memberships BEGIN UPDATE store_changes SET version = version + 1; END;
  CREATE TRIGGER federation_grants_insert_changes AFTER INSERT ON federation_grants BEGIN UPDATE store_changes SET version = version + 1; END;
  CREATE TRIGGER federation_grants_update_changes AFTER UPDATE ON federation_grants BEGIN UPDATE store_changes SET version = version + 1; END;
  CREATE TRIGGER federation_grants_delete_changes AFTER DELETE ON federation_grants BEGIN UPDATE store_changes SET version = version + 1; END;
  CREATE TRIGGER quota_overrides_insert_changes AFTER INSERT ON quota_overrides BEGIN UPDATE store_changes SET version = version + 1; END;
  CREATE TRIGGER quota_overrides_update_changes AFTER UPDATE ON quota_overrides BEGIN UPDATE store_changes SET version = version + 1; END;
  CREATE TRIGGER quota_overrides_delete_changes AFTER DELETE ON quota_overrides BEGIN UPDATE store_changes SET version = version + 1; END;
  CREATE TRIGGER api_keys_insert_changes AFTER INSERT ON api_keys BEGIN UPDATE store_changes SET version = version + 1; END;
  CREATE TRIGGER api_keys_delete_changes AFTER DELETE ON api_keys BEGIN UPDATE store_changes SET version = version + 1; END;
  CREATE TRIGGER api_keys_update_changes AFTER UPDATE OF id, tenant_id, user_id, name, secret_hash, scopes, tier, created_at, expires_at, revoked_at, rotated_to ON api_keys BEGIN UPDATE store_changes SET version = version + 1; END;
  `,
  // Tenants' own rules and Rego (src/tenant-rules/): one row per tenant that has any, replaced whole on each change.
  `
  CREATE TABLE tenant_policies (
    tenant_id  TEXT PRIMARY KEY REFERENCES tenants(id) ON DELETE CASCADE,
    rules      TEXT NOT NULL DEFAULT '[]',
    rego       TEXT,
    wasm       BLOB,
    projection TEXT,
    revision   INTEGER NOT NULL,
    updated_at TEXT NOT NULL,
    updated_by TEXT NOT NULL
  ) STRICT;
  CREATE TRIGGER tenant_policies_insert_changes AFTER INSERT ON tenant_policies BEGIN UPDATE store_changes SET version = version + 1; END;
  CREATE TRIGGER tenant_policies_update_changes AFTER UPDATE ON tenant_policies BEGIN UPDATE store_changes SET version = version + 1; END;
  CREATE TRIGGER tenant_policies_delete_changes AFTER DELETE ON tenant_policies BEGIN UPDATE store_changes SET version = version + 1; END;
  `,
  // GenAI token usage from the responses (genai/), per tenant, subject, model and window; its cost in nano-dollars
  // (whole numbers, so that sums are exact).
  `
  CREATE TABLE token_usage (
    tenant_id      TEXT NOT NULL,
    subject        TEXT NOT NULL,
    model          TEXT NOT NULL,
    window         TEXT NOT NULL CHECK (window IN ('day', 'month')),
    window_start   TEXT NOT NULL,
    input_tokens   INTEGER NOT NULL,
    output_tokens  INTEGER NOT NULL,
    cost_nano_usd  INTEGER NOT NULL,
    responses      INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, subject, model, window, window_start)
  ) STRICT;
  `,
  // LLM token budgets per tenant, group or API key, over the tier's (genai/, quota/service.ts): the fields of
  // core/limits.ts TOKEN_LIMIT_FIELDS as JSON, one row per scope.
  `
  CREATE TABLE token_overrides (
    tenant_id  TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    scope      TEXT NOT NULL CHECK (scope IN ('tenant', 'group', 'key')),
    scope_id   TEXT NOT NULL,
    limits     TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (tenant_id, scope, scope_id)
  ) STRICT;
  CREATE TRIGGER token_overrides_insert_changes AFTER INSERT ON token_overrides BEGIN UPDATE store_changes SET version = version + 1; END;
  CREATE TRIGGER token_overrides_update_changes AFTER UPDATE ON token_overrides BEGIN UPDATE store_changes SET version = version + 1; END;
  CREATE TRIGGER token_overrides_delete_changes AFTER DELETE ON token_overrides BEGIN UPDATE store_changes SET version = version + 1; END;
  `,
];
