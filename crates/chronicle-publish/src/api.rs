//! The operator surface's JSON bodies, shared by the server's routes and
//! the CLI's remote client (one set of types on both sides), and the
//! Prometheus metrics of the relays.

use crate::{DlqEntry, PublishError, RelayState, Selection, SinkStatus};
use chronicle_core::Uuid;
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;

/// At most this many ids per replay / discard request.
pub const MAX_SELECTED: usize = 10_000;

/// `GET /publish`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StatusBody {
    /// Every configured sink, in configuration order.
    pub sinks: Vec<SinkStatus>,
}

/// `GET /publish/{sink}/dlq`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DlqBody {
    /// The sink.
    pub sink: String,
    /// Entries in the queue.
    pub size: u64,
    /// The entries, oldest first.
    pub entries: Vec<DlqEntry>,
}

/// The body of `POST /publish/{sink}/dlq/replay` and `…/discard`:
/// `{"event_ids": [...]}` or `{"all": true}`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SelectionBody {
    /// The entries, by event id (1 to 10,000, each in the queue).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_ids: Option<Vec<Uuid>>,
    /// Every entry in the queue now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub all: Option<bool>,
}

impl SelectionBody {
    /// The selection, or the field at fault and why.
    pub fn selection(&self) -> Result<Selection, (&'static str, String)> {
        match (&self.event_ids, self.all) {
            (Some(_), Some(true)) => Err(("all", "give either event_ids or all, not both".into())),
            (None, Some(true)) => Ok(Selection::All),
            (_, Some(false)) => Err(("all", "must be true when given (or give event_ids)".into())),
            (None, None) => Err(("event_ids", "give event_ids (a list of event ids) or \"all\": true".into())),
            (Some(ids), None) if ids.is_empty() || ids.len() > MAX_SELECTED => {
                Err(("event_ids", format!("must hold 1 to {MAX_SELECTED} event ids")))
            }
            (Some(ids), None) => Ok(Selection::Ids(ids.clone())),
        }
    }

    /// The body of a selection.
    pub fn of(selection: &Selection) -> Self {
        match selection {
            Selection::All => Self { event_ids: None, all: Some(true) },
            Selection::Ids(ids) => Self { event_ids: Some(ids.clone()), all: None },
        }
    }
}

/// The answer to a replay or discard.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MarkedBody {
    /// The sink.
    pub sink: String,
    /// The entries taken out of the queue.
    pub event_ids: Vec<Uuid>,
}

/// Prometheus text of the relays' status: lag, delivered, failures, DLQ
/// size and a one-hot state per sink.
///
/// ```
/// let text = chronicle_publish::render_prometheus(&[]);
/// assert!(text.contains("# TYPE chronicle_publish_lag_events gauge"));
/// ```
pub fn render_prometheus(sinks: &[SinkStatus]) -> String {
    let mut out = String::new();
    let mut family = |name: &str, kind: &str, help: &str, value: &dyn Fn(&SinkStatus) -> u64| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for s in sinks {
            let _ = writeln!(out, "{name}{{sink=\"{}\"}} {}", s.name, value(s));
        }
    };
    family("chronicle_publish_lag_events", "gauge", "Events between a sink's checkpoint and the head.", &|s| s.lag);
    family("chronicle_publish_delivered_total", "counter", "Events the broker acknowledged (this node).", &|s| s.delivered);
    family("chronicle_publish_failures_total", "counter", "Failed deliveries, each retry counted (this node).", &|s| s.failures);
    family("chronicle_dlq_size", "gauge", "Entries in a sink's dead-letter queue.", &|s| s.dlq_size);
    let _ = writeln!(out, "# HELP chronicle_publish_state The relay's state on this node (1 for the current one).");
    let _ = writeln!(out, "# TYPE chronicle_publish_state gauge");
    for s in sinks {
        for state in RelayState::ALL {
            let _ =
                writeln!(out, "chronicle_publish_state{{sink=\"{}\",state=\"{}\"}} {}", s.name, state.as_str(), u8::from(s.state == state));
        }
    }
    out
}

impl PublishError {
    /// Whether the error means "no such thing" (HTTP 404) rather than a
    /// store failure.
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::UnknownSink(_) | Self::NotInDlq { .. })
    }
}
