//! `chronicle read`, `chronicle tail`, `chronicle export`.

use super::{CliError, CliResult, output};
use chronicle::{Config, Direction, Filter, ReadAll, ReadStream, StreamId, SubscribeFrom, open_read_only as open};

/// Events per page when streaming large reads to stdout.
const PAGE: usize = 10_000;

#[derive(Debug, clap::Args)]
pub(crate) struct ReadArgs {
    /// The stream to read (or --all).
    #[arg(required_unless_present = "all", conflicts_with = "all")]
    stream: Option<String>,
    /// Read the whole log.
    #[arg(long)]
    all: bool,
    /// Only these event types (repeatable).
    #[arg(long = "type", value_name = "TYPE", requires = "all")]
    types: Vec<String>,
    /// Only streams of this category.
    #[arg(long, requires = "all")]
    category: Option<String>,
    /// Only events with this metadata correlation_id.
    #[arg(long, requires = "all")]
    correlation_id: Option<String>,
    /// First position (--all) or version (stream), inclusive.
    #[arg(long, value_name = "POSITION")]
    from: Option<u64>,
    /// At most this many events (default: all).
    #[arg(long)]
    limit: Option<usize>,
    /// Newest first.
    #[arg(long)]
    backward: bool,
    /// One JSON object per line.
    #[arg(long)]
    json: bool,
}

pub(crate) async fn run(config: &Config, args: ReadArgs) -> CliResult {
    let store = open(config).await?;
    let direction = if args.backward { Direction::Backward } else { Direction::Forward };
    if let Some(stream) = &args.stream {
        let opts = ReadStream { from: args.from, direction, limit: args.limit };
        let events = store.read_stream(&StreamId::new(stream)?, opts).await?;
        return Ok(output::events(&events, args.json, true)?);
    }
    let filter = Filter { event_types: args.types, category: args.category, correlation_id: args.correlation_id, ..Filter::default() };
    let mut remaining = args.limit.unwrap_or(usize::MAX);
    let mut read = ReadAll { from: args.from, direction, limit: None, filter };
    let mut header = true;
    while remaining > 0 {
        read.limit = Some(remaining.min(PAGE));
        let page = store.read_all(&read).await?;
        remaining -= page.events.len();
        output::events(&page.events, args.json, header)?;
        header = false;
        match page.next {
            Some(next) => read.from = Some(next),
            None => break,
        }
    }
    Ok(())
}

#[derive(Debug, clap::Args)]
pub(crate) struct TailArgs {
    /// Only this stream.
    stream: Option<String>,
    /// Start at this position (inclusive); default: only new events.
    #[arg(long, value_name = "POSITION")]
    from: Option<u64>,
    /// One JSON object per line.
    #[arg(long)]
    json: bool,
}

pub(crate) async fn tail(config: &Config, args: TailArgs) -> CliResult {
    let store = open(config).await?;
    let filter = Filter { stream_id: args.stream.as_deref().map(StreamId::new).transpose()?, ..Filter::default() };
    let from = args.from.map_or(SubscribeFrom::End, SubscribeFrom::Position);
    let mut sub = store.subscribe(from, filter).await?;
    let mut header = true;
    while let Some(event) = sub.next().await {
        output::events(&[event?], args.json, header)?;
        header = false;
    }
    Err(CliError::Usage("the store shut down".into()))
}

pub(crate) async fn export(config: &Config) -> CliResult {
    let store = open(config).await?;
    let head = store.head().await?;
    let bar = super::stats::progress_bar(head, "exporting");
    let mut read = ReadAll::forward().limit(PAGE);
    loop {
        let page = store.read_all(&read).await?;
        output::events(&page.events, true, false)?;
        bar.inc(page.events.len() as u64);
        match page.next {
            Some(next) => read.from = Some(next),
            None => break,
        }
    }
    bar.finish_and_clear();
    Ok(())
}
