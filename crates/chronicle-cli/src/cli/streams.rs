//! `chronicle streams`: what streams the store holds.

use super::{CliError, CliResult, output};
use chronicle::{Config, ListStreams, StreamStatus, StreamSummary, open_read_only};
use std::io::Write as _;

#[derive(Debug, clap::Args)]
pub(crate) struct StreamsArgs {
    /// Only streams whose id starts with this.
    #[arg(long)]
    prefix: Option<String>,
    /// Only streams of this category (the part of the id before the first `-`).
    #[arg(long)]
    category: Option<String>,
    /// One JSON object per line.
    #[arg(long)]
    json: bool,
}

pub(crate) async fn run(config: &Config, args: StreamsArgs) -> CliResult {
    let store = open_read_only(config).await?;
    let mut query = ListStreams { prefix: args.prefix, category: args.category, after: None, limit: Some(ListStreams::MAX_LIMIT) };
    let mut header = !args.json;
    loop {
        let page = store.list_streams(&query).await?;
        print(&page.streams, args.json, std::mem::take(&mut header))?;
        match page.next {
            Some(next) => query.after = Some(next),
            None => return Ok(()),
        }
    }
}

fn status(s: StreamStatus) -> &'static str {
    match s {
        StreamStatus::Active => "active",
        StreamStatus::SoftDeleted => "soft_deleted",
        StreamStatus::Tombstoned => "tombstoned",
        StreamStatus::Absent => "absent",
    }
}

fn print(streams: &[StreamSummary], json: bool, header: bool) -> CliResult {
    let mut buf = Vec::with_capacity(streams.len() * 96);
    if header {
        writeln!(buf, "{:<32} {:>9} {:>13}  {:<27}  STATUS", "STREAM", "VERSION", "LAST_POSITION", "LAST_RECORDED_AT")?;
    }
    for s in streams {
        if json {
            serde_json::to_writer(&mut buf, s).map_err(|e| CliError::Usage(format!("encoding a stream: {e}")))?;
            buf.push(b'\n');
        } else {
            let at = s.last_recorded_at.to_string();
            writeln!(buf, "{:<32} {:>9} {:>13}  {at:<27}  {}", s.stream_id.as_str(), s.version, s.last_position, status(s.status))?;
        }
    }
    Ok(output::print(&buf)?)
}
