//! `chronicle import FILE|-`: NDJSON lines appended in atomic batches that
//! keep the file's order.

use super::{CliError, CliResult, output};
use chronicle::{Config, ExpectedVersion, NewEvent, RawJson, StreamAppend, StreamId, Uuid, open};
use std::io::BufRead;

/// Most events per atomic append.
const BATCH: usize = 1000;

#[derive(Debug, clap::Args)]
pub(crate) struct ImportArgs {
    /// NDJSON file, or - for stdin.
    file: String,
}

/// One NDJSON line. Other fields (such as the `global_position`, `version`
/// and `recorded_at` of `chronicle export` output) are ignored, so an
/// export imports back as is.
#[derive(serde::Deserialize)]
struct Line {
    stream_id: String,
    event_type: String,
    data: RawJson,
    #[serde(default)]
    metadata: Option<RawJson>,
    #[serde(default)]
    event_id: Option<Uuid>,
    #[serde(default)]
    schema_version: Option<u32>,
}

pub(crate) async fn run(config: &Config, args: ImportArgs) -> CliResult {
    let (reader, size): (Box<dyn BufRead>, u64) = if args.file == "-" {
        (Box::new(std::io::stdin().lock()), 0)
    } else {
        let file = std::fs::File::open(&args.file).map_err(|e| CliError::Usage(format!("cannot open {}: {e}", args.file)))?;
        let size = file.metadata().map(|m| m.len()).unwrap_or(0);
        (Box::new(std::io::BufReader::new(file)), size)
    };
    let store = open(config).await?;
    let bar = super::stats::progress_bar(size, "importing");
    let (mut batch, mut in_batch, mut total): (Vec<StreamAppend>, usize, u64) = (Vec::new(), 0, 0);
    for (n, line) in reader.lines().enumerate() {
        let line = line.map_err(|e| CliError::Usage(format!("reading line {}: {e}", n + 1)))?;
        bar.inc(line.len() as u64 + 1);
        if line.trim().is_empty() {
            continue;
        }
        let bad = |what: String| CliError::Usage(format!("line {}: {what}", n + 1));
        let l: Line = serde_json::from_str(&line).map_err(|e| bad(e.to_string()))?;
        let stream = StreamId::new(&l.stream_id).map_err(|e| bad(e.to_string()))?;
        let mut event = NewEvent::raw(l.event_type, l.data.bytes().clone()).with_schema_version(l.schema_version.unwrap_or(1));
        if let Some(m) = l.metadata {
            event = event.with_metadata_raw(m.bytes().clone());
        }
        if let Some(id) = l.event_id {
            event = event.with_id(id);
        }
        config.limits.validate_event(&format!("line {}", n + 1), event.clone())?;
        // Keep the file's order: a stream may only be the last part of a batch.
        let earlier_part = batch.iter().rev().skip(1).any(|p| p.stream == stream);
        if in_batch == BATCH || earlier_part {
            total += flush(&*store, &mut batch, n + 1).await?;
            in_batch = 0;
        }
        match batch.last_mut() {
            Some(last) if last.stream == stream => last.events.push(event),
            _ => batch.push(StreamAppend::new(stream, ExpectedVersion::Any, vec![event])),
        }
        in_batch += 1;
    }
    total += flush(&*store, &mut batch, 0).await?;
    bar.finish_and_clear();
    Ok(output::print(format!("imported {total} events\n").as_bytes())?)
}

async fn flush(store: &dyn chronicle::EventStore, batch: &mut Vec<StreamAppend>, before_line: usize) -> CliResult<u64> {
    if batch.is_empty() {
        return Ok(0);
    }
    let parts = std::mem::take(batch);
    let count = parts.iter().map(|p| p.events.len() as u64).sum();
    let request = chronicle::AppendRequest { streams: parts, condition: None };
    store.append_with(&chronicle::AppendContext::cli(), request).await.map_err(|e| match before_line {
        0 => CliError::Store(e),
        n => CliError::Usage(format!("batch ending before line {n}: {e}")),
    })?;
    Ok(count)
}
