//! Follows the head: `LISTEN` on a dedicated connection (woken on every
//! commit), plus a bounded poll (every 250 ms) as a safety net for missed
//! notifications and reconnects.

use deadpool_postgres::Pool;
use futures_util::StreamExt;
use std::time::Duration;
use tokio::sync::watch;
use tokio_postgres::AsyncMessage;

const POLL: Duration = Duration::from_millis(250);

fn raise(head: &watch::Sender<u64>, to: u64) {
    head.send_if_modified(|h| std::mem::replace(h, (*h).max(to)) < to);
}

/// The channel name for a schema.
pub(crate) fn channel(schema: &str) -> String {
    format!("{schema}_head")
}

pub(crate) fn spawn(connector: crate::Connector, schema: String, pool: Pool, head: watch::Sender<u64>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let poll = {
            let (pool, head, schema) = (pool.clone(), head.clone(), schema.clone());
            async move {
                loop {
                    tokio::time::sleep(POLL).await;
                    if let Ok(client) = pool.get().await
                        && let Ok(row) = client.query_one(&format!("SELECT position FROM {schema}.head"), &[]).await
                        && let Ok(position) = crate::col::<i64>(&row, 0)
                    {
                        raise(&head, position as u64);
                    }
                }
            }
        };
        let listen = async move {
            loop {
                if let Ok((client, mut conn)) = connector.config().connect(connector.tls()).await {
                    let mut messages = futures_util::stream::poll_fn(move |cx| conn.poll_message(cx));
                    let statement = format!("LISTEN {}", channel(&schema));
                    let listening = client.batch_execute(&statement);
                    let drive = async {
                        while let Some(Ok(message)) = messages.next().await {
                            if let AsyncMessage::Notification(n) = message
                                && let Ok(position) = n.payload().parse::<u64>()
                            {
                                raise(&head, position);
                            }
                        }
                    };
                    // The LISTEN completes only while the connection is driven.
                    let (_, ()) = tokio::join!(listening, drive);
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        };
        tokio::join!(poll, listen);
    })
}
