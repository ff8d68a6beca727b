//! Leases as PostgreSQL session advisory locks: a lease is one dedicated
//! connection holding `pg_try_advisory_lock(hashtext(schema), hashtext(name))`.
//! When the holding process dies its session ends and the lock frees at
//! once; the holder is found in `pg_locks` joined to `pg_stat_activity`
//! by the connection's `application_name`.

use crate::{col, db_error};
use chronicle_core::{Error, Lease, Leases, Result, async_trait};
use std::time::Duration;
use tokio::sync::watch;

/// How often a held lease's connection is checked.
const PING: Duration = Duration::from_secs(2);

/// Prefix of a lease connection's `application_name`; the rest is the holder.
const HOLDER_PREFIX: &str = "chronicle-lease:";

type Session = (tokio_postgres::Client, tokio::task::JoinHandle<()>);

/// Leases shared by every process on one database and schema.
#[derive(Clone)]
pub struct PgLeases {
    url: String,
    schema: String,
    /// Idle sessions by holder name: a standby node polls the lease on one
    /// session instead of connecting each time.
    spare: std::sync::Arc<tokio::sync::Mutex<Vec<(String, Session)>>>,
}

impl std::fmt::Debug for PgLeases {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgLeases").field("schema", &self.schema).finish_non_exhaustive()
    }
}

impl PgLeases {
    /// Leases on the database at `url`, scoped to `schema`.
    pub fn new(url: impl Into<String>, schema: impl Into<String>) -> Self {
        Self { url: url.into(), schema: schema.into(), spare: std::sync::Arc::default() }
    }

    /// An idle session of `holder`, or a new one.
    async fn checkout(&self, holder: &str) -> Result<Session> {
        let mut spare = self.spare.lock().await;
        while let Some(at) = spare.iter().position(|(h, _)| h == holder) {
            let (_, session) = spare.swap_remove(at);
            if !session.0.is_closed() {
                return Ok(session);
            }
        }
        drop(spare);
        self.connect(holder).await
    }

    async fn checkin(&self, holder: &str, session: Session) {
        self.spare.lock().await.push((holder.to_owned(), session));
    }

    async fn connect(&self, holder: &str) -> Result<Session> {
        let connector = crate::Connector::parse(&self.url)?;
        let mut config = connector.config().clone();
        // application_name is at most 63 bytes; keep it a char boundary.
        let mut name = format!("{HOLDER_PREFIX}{holder}");
        while name.len() > 63 {
            name.pop();
        }
        config.application_name(&name);
        config.connect_timeout(Duration::from_secs(5));
        config.keepalives_idle(Duration::from_secs(5));
        let (client, conn) = config
            .connect(connector.tls())
            .await
            .map_err(|e| Error::Unavailable { reason: format!("cannot connect to postgres for a lease: {e}") })?;
        let task = tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok((client, task))
    }
}

struct Held {
    watcher: tokio::task::JoinHandle<()>,
}

impl Drop for Held {
    fn drop(&mut self) {
        // Dropping the client (inside the watcher) ends the session, which
        // releases the advisory lock.
        self.watcher.abort();
    }
}

#[async_trait]
impl Leases for PgLeases {
    async fn try_acquire(&self, name: &str, holder: &str) -> Result<Option<Lease>> {
        let (client, conn) = self.checkout(holder).await?;
        let row =
            client.query_one("SELECT pg_try_advisory_lock(hashtext($1), hashtext($2))", &[&self.schema, &name]).await.map_err(db_error)?;
        let taken: bool = col(&row, 0)?;
        if !taken {
            self.checkin(holder, (client, conn)).await;
            return Ok(None);
        }
        let (alive, held) = watch::channel(true);
        let watcher = tokio::spawn(async move {
            let mut conn = conn;
            loop {
                tokio::select! {
                    _ = &mut conn => break,
                    () = tokio::time::sleep(PING) => {
                        let ping = tokio::time::timeout(PING, client.simple_query("SELECT 1")).await;
                        if !matches!(ping, Ok(Ok(_))) {
                            break;
                        }
                    }
                }
            }
            let _ = alive.send(false);
            conn.abort();
        });
        Ok(Some(Lease::new(held, Box::new(Held { watcher }))))
    }

    async fn holder(&self, name: &str) -> Result<Option<String>> {
        let (client, conn) = self.checkout("status").await?;
        let rows = client
            .query(
                "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
                 WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2 \
                 AND l.classid = hashtext($1)::oid AND l.objid = hashtext($2)::oid AND l.database = \
                 (SELECT oid FROM pg_database WHERE datname = current_database())",
                &[&self.schema, &name],
            )
            .await
            .map_err(db_error);
        self.checkin("status", (client, conn)).await;
        let rows = rows?;
        match rows.first() {
            None => Ok(None),
            Some(row) => {
                let app: String = col(row, 0)?;
                Ok(Some(app.strip_prefix(HOLDER_PREFIX).unwrap_or(&app).to_owned()))
            }
        }
    }
}
