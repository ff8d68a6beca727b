//! Writing results: NDJSON lines or a table, to a locked, buffered stdout.

use chronicle::RecordedEvent;
use std::io::Write;

/// Writes bytes to stdout.
pub(crate) fn print(bytes: &[u8]) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(bytes)?;
    out.flush()
}

/// Prints events as NDJSON (`json`) or as table rows (with a header when
/// `header` is set).
pub(crate) fn events(events: &[RecordedEvent], json: bool, header: bool) -> std::io::Result<()> {
    let mut buf = Vec::with_capacity(events.len() * 256);
    if json {
        events.iter().for_each(|e| e.write_json_line(&mut buf));
    } else {
        if header {
            writeln!(buf, "{:>9}  {:<24} {:>7}  {:<24} {:<27}  DATA", "POSITION", "STREAM", "VERSION", "TYPE", "RECORDED_AT")?;
        }
        for e in events {
            let data = String::from_utf8_lossy(e.data.as_bytes());
            let data: String = if data.chars().count() > 60 { data.chars().take(57).chain("...".chars()).collect() } else { data.into() };
            writeln!(
                buf,
                "{:>9}  {:<24} {:>7}  {:<24} {:<27}  {data}",
                e.global_position,
                e.stream_id.as_str(),
                e.version,
                &*e.event_type,
                e.recorded_at.to_string()
            )?;
        }
    }
    print(&buf)
}
