-- The pekko-persistence-jdbc 1.1.x PostgreSQL schema, made re-runnable. The jar's version uses
-- CREATE INDEX CONCURRENTLY (not allowed in a transaction, and not idempotent); the tables are
-- created empty here, so a plain CREATE INDEX IF NOT EXISTS is the same and safe.
-- Durable state is not used by Reins and is left out.
CREATE TABLE IF NOT EXISTS event_journal(
  ordering BIGSERIAL,
  persistence_id VARCHAR(255) NOT NULL,
  sequence_number BIGINT NOT NULL,
  deleted BOOLEAN DEFAULT FALSE NOT NULL,
  writer VARCHAR(255) NOT NULL,
  write_timestamp BIGINT,
  adapter_manifest VARCHAR(255),
  event_ser_id INTEGER NOT NULL,
  event_ser_manifest VARCHAR(255) NOT NULL,
  event_payload BYTEA NOT NULL,
  meta_ser_id INTEGER,
  meta_ser_manifest VARCHAR(255),
  meta_payload BYTEA,
  PRIMARY KEY(persistence_id, sequence_number)
);

CREATE UNIQUE INDEX IF NOT EXISTS event_journal_ordering_idx ON event_journal(ordering);

CREATE TABLE IF NOT EXISTS event_tag(
  event_id BIGINT,
  tag VARCHAR(256),
  PRIMARY KEY(event_id, tag),
  CONSTRAINT fk_event_journal
    FOREIGN KEY(event_id)
    REFERENCES event_journal(ordering)
    ON DELETE CASCADE
);

CREATE TABLE IF NOT EXISTS snapshot (
  persistence_id VARCHAR(255) NOT NULL,
  sequence_number BIGINT NOT NULL,
  created BIGINT NOT NULL,
  snapshot_ser_id INTEGER NOT NULL,
  snapshot_ser_manifest VARCHAR(255) NOT NULL,
  snapshot_payload BYTEA NOT NULL,
  meta_ser_id INTEGER,
  meta_ser_manifest VARCHAR(255),
  meta_payload BYTEA,
  PRIMARY KEY(persistence_id, sequence_number)
);

-- Reins' own tables (unquoted names: the same statements on H2 and PostgreSQL).
-- API tokens: only a SHA-256 of each token is stored; the token itself is shown once, at creation.
CREATE TABLE IF NOT EXISTS reins_api_token (
  id VARCHAR(40) PRIMARY KEY,
  name VARCHAR(200) NOT NULL,
  tenant VARCHAR(63) NOT NULL,
  scopes VARCHAR(500) NOT NULL,
  secret_sha256 VARCHAR(64) NOT NULL,
  created_at BIGINT NOT NULL,
  expires_at BIGINT,
  revoked_at BIGINT
);

CREATE UNIQUE INDEX IF NOT EXISTS reins_api_token_secret_idx ON reins_api_token(secret_sha256);

-- HMAC keys that sign per-run tokens, shared by every node of a cluster. A retired key no longer
-- verifies tokens; the newest unretired key signs.
CREATE TABLE IF NOT EXISTS reins_signing_key (
  kid VARCHAR(40) PRIMARY KEY,
  secret VARCHAR(100) NOT NULL,
  created_at BIGINT NOT NULL,
  retired_at BIGINT
);

-- One journal, one cluster: the cluster that writes this journal renews this row (id 1) with its
-- members; a node whose cluster shares none of them refuses to start while the row is fresh.
CREATE TABLE IF NOT EXISTS reins_cluster_lease (
  id INT PRIMARY KEY,
  members VARCHAR(8000) NOT NULL,
  holder VARCHAR(300) NOT NULL,
  renewed_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL
);

-- The run list: one row per run, kept by the "runs" projection (dev.reins.persistence.runlist)
-- from the journal's tagged events; rebuildable from offset zero. Times are epoch nanoseconds;
-- fold_state is the run's state after event seq (the projection's own fold input, never served).
CREATE TABLE IF NOT EXISTS reins_runs (
  run_id VARCHAR(64) PRIMARY KEY,
  tenant VARCHAR(63) NOT NULL,
  state VARCHAR(20) NOT NULL,
  parent_run_id VARCHAR(64),
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  attempt INT NOT NULL,
  seq BIGINT NOT NULL,
  labels TEXT NOT NULL,
  fold_state BYTEA NOT NULL
);

CREATE INDEX IF NOT EXISTS reins_runs_tenant_created_idx ON reins_runs(tenant, created_at, run_id);

CREATE INDEX IF NOT EXISTS reins_runs_tenant_state_idx ON reins_runs(tenant, state, created_at, run_id);

CREATE INDEX IF NOT EXISTS reins_runs_parent_idx ON reins_runs(parent_run_id);

-- A run's labels, one row each, for the list's label filter (labels never change after submit).
-- Labels longer than these columns (only from before submit limited them) are not filterable.
CREATE TABLE IF NOT EXISTS reins_run_labels (
  run_id VARCHAR(64) NOT NULL,
  label_key VARCHAR(200) NOT NULL,
  label_value VARCHAR(2000) NOT NULL,
  PRIMARY KEY(run_id, label_key)
);

CREATE INDEX IF NOT EXISTS reins_run_labels_kv_idx ON reins_run_labels(label_key, label_value);
