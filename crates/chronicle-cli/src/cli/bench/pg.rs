//! The PostgreSQL baseline: a plain multi-row INSERT of the same rows into
//! a table shaped like seed 001's (text ids), no ordering guarantee.

use super::append::payload;
use crate::cli::{CliError, CliResult, stats::progress_bar};
use std::time::Instant;
use tokio_postgres::types::ToSql;

const TABLE: &str = "event_id TEXT PRIMARY KEY, aggregate_id TEXT NOT NULL, aggregate_type VARCHAR(50) NOT NULL, event_type VARCHAR(100) NOT NULL,
    event_data JSONB NOT NULL, metadata JSONB, version INTEGER NOT NULL, timestamp TIMESTAMPTZ DEFAULT NOW(), UNIQUE (aggregate_id, version)";

fn pg(e: tokio_postgres::Error) -> CliError {
    CliError::Usage(format!("postgres baseline: {e}"))
}

/// Rows per second of W writers each inserting `batch`-row statements.
pub(crate) async fn multi_row_insert(url: &str, writers: usize, batch: usize, events: u64, size: usize) -> CliResult<f64> {
    let schema = format!("chronicle_bl_{}", chronicle::Uuid::now_v7().simple());
    // The same connection settings (TLS included) as the store it is compared with.
    let connector = chronicle::PgConnector::parse(url)?;
    let admin = connector.connect().await?;
    admin
        .batch_execute(&format!(
            "CREATE SCHEMA {schema}; CREATE TABLE {schema}.events ({TABLE});
             CREATE INDEX ON {schema}.events (timestamp); CREATE INDEX ON {schema}.events (event_type, timestamp);"
        ))
        .await
        .map_err(pg)?;
    let per_writer = (events / batch as u64).max(1).div_ceil(writers as u64);
    let bar = progress_bar(per_writer * writers as u64 * batch as u64, &format!("postgres multi-row INSERT {writers}x{batch}"));
    let values: Vec<String> = (0..batch)
        .map(|i| {
            format!("(${}, ${}, 'bench', 'BenchEvent', (${}::text)::jsonb, '{{}}'::jsonb, ${})", i * 4 + 1, i * 4 + 2, i * 4 + 3, i * 4 + 4)
        })
        .collect();
    let sql = format!(
        "INSERT INTO {schema}.events (event_id, aggregate_id, aggregate_type, event_type, event_data, metadata, version) VALUES {}",
        values.join(", ")
    );
    let start = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..writers {
        let (connector, sql, bar) = (connector.clone(), sql.clone(), bar.clone());
        tasks.push(tokio::spawn(async move {
            let client = connector.connect().await?;
            let statement = client.prepare(&sql).await.map_err(pg)?;
            for c in 0..per_writer {
                let mut rows: Vec<(String, String, String, i32)> = Vec::with_capacity(batch);
                for i in 0..batch as u64 {
                    let n = c * batch as u64 + i;
                    let data = String::from_utf8_lossy(&payload(n, size)).into_owned();
                    rows.push((chronicle::Uuid::now_v7().to_string(), format!("bench-{w}-{}", n % 16), data, (n + 1) as i32));
                }
                let params: Vec<&(dyn ToSql + Sync)> = rows.iter().flat_map(|r| [&r.0 as &(dyn ToSql + Sync), &r.1, &r.2, &r.3]).collect();
                client.execute(&statement, &params).await.map_err(pg)?;
                bar.inc(batch as u64);
            }
            Ok::<_, CliError>(per_writer * batch as u64)
        }));
    }
    let mut total = 0;
    for t in tasks {
        total += t.await.map_err(|e| CliError::Usage(e.to_string()))??;
    }
    let rate = total as f64 / start.elapsed().as_secs_f64();
    bar.finish_and_clear();
    admin.batch_execute(&format!("DROP SCHEMA {schema} CASCADE")).await.map_err(pg)?;
    Ok(rate)
}
