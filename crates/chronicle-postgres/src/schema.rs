//! Versioned migrations, applied on open (under an advisory lock) and
//! printable with `chronicle schema --dry-run`.

use chronicle_core::{Error, Result};

/// Checks a schema name (interpolated into SQL, so strictly an identifier).
pub fn validate_schema_name(schema: &str) -> Result<()> {
    let ok = !schema.is_empty()
        && schema.len() <= 63
        && schema.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
        && schema.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if ok { Ok(()) } else { Err(Error::invalid("postgres.schema", format!("{schema:?} must match [a-z_][a-z0-9_]{{0,62}}"))) }
}

/// The migrations, in order: (version, description, SQL with `{s}` for the schema).
const MIGRATIONS: [(i32, &str, &str); 5] = [
    (
        1,
        "events, streams, head, snapshots, checkpoints",
        r#"
CREATE TABLE {s}.head (
    id boolean PRIMARY KEY DEFAULT true CHECK (id),
    position bigint NOT NULL,
    recorded_at bigint NOT NULL
);
INSERT INTO {s}.head VALUES (true, 0, 0);
CREATE TABLE {s}.streams (
    stream_id text PRIMARY KEY,
    last_version bigint NOT NULL DEFAULT 0,
    status smallint NOT NULL DEFAULT 0,          -- 0 absent, 1 active, 2 soft-deleted, 3 tombstoned
    deleted_through bigint NOT NULL DEFAULT 0,
    max_age bigint,
    max_count bigint,
    truncate_before bigint
);
CREATE TABLE {s}.events (
    global_position bigint PRIMARY KEY,
    stream_id text NOT NULL,
    version bigint NOT NULL,
    event_id uuid NOT NULL UNIQUE,
    event_type text NOT NULL,
    schema_version integer NOT NULL,
    data text NOT NULL,                          -- validated, compact JSON kept verbatim
    metadata text NOT NULL,
    recorded_at bigint NOT NULL,                 -- microseconds since the epoch, non-decreasing with position
    category text NOT NULL,
    correlation_id text,
    actor_type text,
    actor_id text,
    tags text[] NOT NULL DEFAULT '{}',
    UNIQUE (stream_id, version)
);
CREATE INDEX events_type_position ON {s}.events (event_type, global_position);
CREATE INDEX events_category_position ON {s}.events (category, global_position);
CREATE INDEX events_correlation ON {s}.events (correlation_id, global_position) WHERE correlation_id IS NOT NULL;
CREATE INDEX events_actor ON {s}.events (actor_id, global_position) WHERE actor_id IS NOT NULL;
CREATE INDEX events_tags ON {s}.events USING GIN (tags);
CREATE INDEX events_recorded_at ON {s}.events (recorded_at);
CREATE TABLE {s}.snapshots (
    stream_id text PRIMARY KEY,
    version bigint NOT NULL,
    schema_version integer NOT NULL,
    state text NOT NULL
);
CREATE TABLE {s}.checkpoints (
    name text PRIMARY KEY,
    position bigint NOT NULL
);
"#,
    ),
    (
        2,
        "cheaper indexes: BRIN on recorded_at, tags GIN only for tagged events",
        r#"
-- recorded_at never decreases with position: a BRIN index answers time
-- ranges at a fraction of a B-tree's upkeep.
DROP INDEX {s}.events_recorded_at;
CREATE INDEX events_recorded_at ON {s}.events USING BRIN (recorded_at);
-- Most events carry no tags; queries on tags add `tags <> '{}'`.
DROP INDEX {s}.events_tags;
CREATE INDEX events_tags ON {s}.events USING GIN (tags) WHERE tags <> '{}';
"#,
    ),
    (
        3,
        "consumer groups: groups, their unhandled events, consumers and stream pins",
        r#"
CREATE TABLE {s}.groups (
    name text PRIMARY KEY,
    spec text NOT NULL,
    read_through bigint NOT NULL,
    delivered bigint NOT NULL DEFAULT 0,
    redeliveries bigint NOT NULL DEFAULT 0
);
-- One row per event a group has read and not yet handled; acknowledged
-- rows are deleted. consumer NULL: pending; otherwise leased to it.
CREATE TABLE {s}.group_events (
    group_name text NOT NULL REFERENCES {s}.groups (name) ON DELETE CASCADE,
    position bigint NOT NULL,
    event_id uuid NOT NULL,
    stream_id text NOT NULL,
    consumer text,
    lease_until timestamptz,
    not_before timestamptz,
    retries integer NOT NULL DEFAULT 0,
    replayed boolean NOT NULL DEFAULT false,
    PRIMARY KEY (group_name, position)
) WITH (fillfactor = 70);
-- Two indexes only, neither on a column a lease changes: leasing a row is a
-- HOT update (no index writes). Rows are found by event id through
-- events.event_id, by consumer by scanning the group's (bounded) rows.
CREATE INDEX group_events_stream ON {s}.group_events (group_name, stream_id, position);
CREATE TABLE {s}.group_consumers (
    group_name text NOT NULL REFERENCES {s}.groups (name) ON DELETE CASCADE,
    consumer text NOT NULL,
    node text NOT NULL,
    seen_at timestamptz NOT NULL DEFAULT now(),
    delivered bigint NOT NULL DEFAULT 0,
    redeliveries bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (group_name, consumer)
);
CREATE TABLE {s}.group_pins (
    group_name text NOT NULL,
    stream_id text NOT NULL,
    consumer text NOT NULL,
    PRIMARY KEY (group_name, stream_id),
    FOREIGN KEY (group_name, consumer) REFERENCES {s}.group_consumers (group_name, consumer) ON DELETE CASCADE
);
"#,
    ),
    (
        4,
        "lossless export: positions a reclaim emptied, the history of stream changes",
        r#"
-- Positions a reclaim emptied (one row per deleted batch of one stream):
-- positions[i] held version first_version + i - 1. Exports list them so a
-- copy keeps every later position and version where it is.
CREATE TABLE {s}.removed (
    stream_id text NOT NULL,
    first_version bigint NOT NULL,
    positions bigint[] NOT NULL,
    min_position bigint NOT NULL,
    max_position bigint NOT NULL,
    PRIMARY KEY (stream_id, first_version)
);
CREATE INDEX removed_max_position ON {s}.removed (max_position);
-- Every stream change (delete, tombstone, retention settings) with the
-- head it was made at: an export replays them in log order.
CREATE TABLE {s}.stream_changes (
    seq bigserial PRIMARY KEY,
    head bigint NOT NULL,
    stream_id text NOT NULL,
    tombstone boolean,                          -- NULL: new retention settings
    deleted_through bigint,
    max_age bigint,
    max_count bigint,
    truncate_before bigint
);
CREATE INDEX stream_changes_head ON {s}.stream_changes (head, seq);
-- Streams changed before this migration: their settings as changes. A soft
-- delete goes right after the last version it hides (or before the first
-- version left), the rest at the current head.
INSERT INTO {s}.stream_changes (head, stream_id, tombstone, deleted_through)
SELECT coalesce(
           (SELECT e.global_position FROM {s}.events e WHERE e.stream_id = st.stream_id AND e.version = st.deleted_through),
           (SELECT min(e.global_position) - 1 FROM {s}.events e WHERE e.stream_id = st.stream_id AND e.version > st.deleted_through),
           (SELECT position FROM {s}.head)),
       stream_id, false, deleted_through
FROM {s}.streams st WHERE deleted_through > 0 ORDER BY stream_id;
INSERT INTO {s}.stream_changes (head, stream_id, tombstone, deleted_through)
SELECT (SELECT position FROM {s}.head), stream_id, true, deleted_through FROM {s}.streams WHERE status = 3 ORDER BY stream_id;
INSERT INTO {s}.stream_changes (head, stream_id, max_age, max_count, truncate_before)
SELECT (SELECT position FROM {s}.head), stream_id, max_age, max_count, truncate_before FROM {s}.streams
WHERE max_age IS NOT NULL OR max_count IS NOT NULL OR truncate_before IS NOT NULL ORDER BY stream_id;
"#,
    ),
    (
        5,
        "privacy: wrapped data keys per subject, forgotten subjects",
        r#"
-- Data keys (wrapped by a key-encryption key), outside the event tables
-- so a copy of the events never holds them; a forget deletes the rows.
CREATE TABLE {s}.privacy_keys (
    kid text PRIMARY KEY,
    subject text NOT NULL,
    generation integer NOT NULL,
    kek_id text NOT NULL,
    wrapped bytea NOT NULL,
    created_at bigint NOT NULL,
    UNIQUE (subject, generation)
);
CREATE INDEX privacy_keys_kek ON {s}.privacy_keys (kek_id);
-- Subjects forgotten, and through which generation.
CREATE TABLE {s}.privacy_forgotten (
    subject text PRIMARY KEY,
    through integer NOT NULL
);
"#,
    ),
];

/// Every migration as SQL for `schema`, with the bookkeeping statements.
pub(crate) fn migration_sql(schema: &str) -> Vec<(i32, String, String)> {
    MIGRATIONS.iter().map(|(v, what, sql)| (*v, (*what).to_owned(), sql.replace("{s}", schema))).collect()
}

/// The whole script `chronicle schema --dry-run` prints.
pub fn dry_run(schema: &str) -> Result<String> {
    validate_schema_name(schema)?;
    let mut out = format!(
        "CREATE SCHEMA IF NOT EXISTS {schema};\nCREATE TABLE IF NOT EXISTS {schema}.migrations (version integer PRIMARY KEY, description text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now());\n"
    );
    for (v, what, sql) in migration_sql(schema) {
        out += &format!(
            "\n-- migration {v}: {what}\n{}\nINSERT INTO {schema}.migrations (version, description) VALUES ({v}, '{what}');\n",
            sql.trim()
        );
    }
    Ok(out)
}

/// Applies the missing migrations, one transaction each, under an
/// advisory lock (several servers may start at once).
pub(crate) async fn migrate(client: &mut tokio_postgres::Client, schema: &str) -> Result<()> {
    validate_schema_name(schema)?;
    let tx = client.transaction().await.map_err(crate::db_error)?;
    tx.execute("SELECT pg_advisory_xact_lock(hashtext($1))", &[&format!("chronicle:{schema}")]).await.map_err(crate::db_error)?;
    tx.batch_execute(&format!(
        "CREATE SCHEMA IF NOT EXISTS {schema}; CREATE TABLE IF NOT EXISTS {schema}.migrations (version integer PRIMARY KEY, description text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now());"
    ))
    .await
    .map_err(crate::db_error)?;
    let applied: Vec<i32> = tx
        .query(&format!("SELECT version FROM {schema}.migrations"), &[])
        .await
        .map_err(crate::db_error)?
        .iter()
        .map(|r| crate::col(r, 0))
        .collect::<chronicle_core::Result<_>>()?;
    for (v, what, sql) in migration_sql(schema) {
        if applied.contains(&v) {
            continue;
        }
        tx.batch_execute(&sql).await.map_err(crate::db_error)?;
        tx.execute(&format!("INSERT INTO {schema}.migrations (version, description) VALUES ($1, $2)"), &[&v, &what])
            .await
            .map_err(crate::db_error)?;
        tracing::info!(schema, version = v, "applied migration");
    }
    tx.commit().await.map_err(crate::db_error)
}
