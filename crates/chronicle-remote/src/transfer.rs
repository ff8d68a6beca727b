//! Export and import through a server (`GET /admin/export`,
//! `POST /admin/import`, an admin token): a remote store is a source and a
//! target of backups and migrations like any other.

use crate::{RemoteStore, unavailable, wire};
use chronicle_core::{Error, ExportRange, LogItem, LogReader, LogWriter, Result};
use futures_util::StreamExt;
use reqwest::Method;

/// What an export line is, besides an item.
enum Line {
    Item(LogItem),
    End,
    Failed(Error),
}

fn line(text: &[u8]) -> Result<Line> {
    if text.starts_with(b"{\"kind\":\"end\"") {
        return Ok(Line::End);
    }
    if text.starts_with(b"{\"kind\":\"error\"") {
        let value: serde_json::Value = serde_json::from_slice(text).map_err(|e| unavailable("the server's export", e))?;
        let body = value.get("error").and_then(|e| serde_json::to_vec(e).ok()).unwrap_or_default();
        return Ok(Line::Failed(wire::error(500, &body, None)));
    }
    LogItem::parse_json_line(text).map(Line::Item).map_err(|e| unavailable("the server's export", e))
}

impl RemoteStore {
    pub(crate) async fn export(&self, range: ExportRange) -> Result<LogReader> {
        let query = [("after", range.after.to_string()), ("through", range.through.to_string())];
        let response = self.request(Method::GET, &["admin", "export"]).query(&query).send().await;
        let response = response.map_err(|e| unavailable("request to the server failed", e))?;
        let status = response.status();
        if !status.is_success() {
            let body = response.bytes().await.map_err(|e| unavailable("reading the server's answer", e))?;
            return Err(wire::error(status.as_u16(), &body, None));
        }
        let (tx, reader) = LogReader::channel(1024);
        tokio::spawn(async move {
            if let Err(e) = relay(response, &tx).await {
                let _ = tx.send(Err(e)).await;
            }
        });
        Ok(reader)
    }

    pub(crate) async fn import(&self, items: Vec<LogItem>) -> Result<()> {
        let mut body = Vec::with_capacity(items.len() * 256);
        for item in &items {
            item.write_json_line(&mut body);
        }
        let request = self.request(Method::POST, &["admin", "import"]).header("content-type", "application/x-ndjson").body(body);
        self.send(request, None).await.map(drop)
    }
}

/// Passes the lines of an export answer on until its `end` line.
async fn relay(response: reqwest::Response, tx: &LogWriter) -> Result<()> {
    let mut chunks = response.bytes_stream();
    let mut buf: Vec<u8> = Vec::new();
    while let Some(chunk) = chunks.next().await {
        buf.extend_from_slice(&chunk.map_err(|e| unavailable("reading the server's export", e))?);
        let mut start = 0;
        while let Some(end) = buf.get(start..).and_then(|rest| rest.iter().position(|b| *b == b'\n')) {
            let text = buf.get(start..start + end).unwrap_or_default();
            start += end + 1;
            match line(text)? {
                Line::Item(item) => {
                    if tx.send(Ok(item)).await.is_err() {
                        return Ok(());
                    }
                }
                Line::End => return Ok(()),
                Line::Failed(e) => return Err(e),
            }
        }
        buf.drain(..start);
    }
    Err(Error::Unavailable { reason: "the server's export ended before its end line".into() })
}
