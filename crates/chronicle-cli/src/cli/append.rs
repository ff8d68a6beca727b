//! `chronicle append STREAM --type TYPE [--expected-version V] [--metadata JSON] [DATA | -]`

use super::{CliError, CliResult, output};
use chronicle::{AppendContext, Config, ExpectedVersion, NewEvent, StreamId, open};
use std::io::Read;

#[derive(Debug, clap::Args)]
pub(crate) struct AppendArgs {
    /// Stream id, e.g. order-42.
    stream: String,
    /// Event type, e.g. OrderPlaced.
    #[arg(long = "type", value_name = "TYPE")]
    event_type: String,
    /// A version number, any, no-stream or exists.
    #[arg(long, default_value = "any", value_name = "N|any|no-stream|exists")]
    expected_version: String,
    /// Metadata: a JSON object.
    #[arg(long, value_name = "JSON")]
    metadata: Option<String>,
    /// Schema version of the data.
    #[arg(long, default_value_t = 1)]
    schema_version: u32,
    /// Event id (UUID) for an idempotent retry; a UUIDv7 is assigned otherwise.
    #[arg(long)]
    event_id: Option<chronicle::Uuid>,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
    /// The event data as JSON; `-` reads it from stdin; omitted: {}.
    data: Option<String>,
}

pub(crate) async fn run(config: &Config, args: AppendArgs) -> CliResult {
    let stream = StreamId::new(&args.stream)?;
    let expected: ExpectedVersion = args.expected_version.parse()?;
    let data = match args.data.as_deref() {
        None => b"{}".to_vec(),
        Some("-") => {
            let mut buf = Vec::new();
            std::io::stdin().read_to_end(&mut buf).map_err(|e| CliError::Usage(format!("reading data from stdin: {e}")))?;
            buf
        }
        Some(inline) => inline.as_bytes().to_vec(),
    };
    let mut event = NewEvent::raw(args.event_type, data).with_schema_version(args.schema_version);
    if let Some(meta) = args.metadata {
        event = event.with_metadata_raw(meta.into_bytes());
    }
    if let Some(id) = args.event_id {
        event = event.with_id(id);
    }
    let store = open(config).await?;
    let r = store.append_as(&AppendContext::cli(), &stream, expected, vec![event]).await?;
    let line = if args.json {
        serde_json::to_string(&r).map_err(|e| CliError::Usage(e.to_string()))?
    } else {
        format!("appended to {} at version {}, position {}", r.stream_id, r.last_version, r.last_position)
    };
    output::print(format!("{line}\n").as_bytes())?;
    Ok(())
}
