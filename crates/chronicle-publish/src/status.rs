//! What a relay reports: its state and counters, shared between the relay
//! task and whoever asks (`GET /publish`, metrics).

use serde::{Deserialize, Serialize};
use std::sync::{Arc, Mutex, MutexGuard};

/// A relay's state.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RelayState {
    /// Not running in this process.
    Stopped,
    /// Another node holds the sink's lease.
    Standby,
    /// Connecting to the broker.
    Connecting,
    /// Delivering.
    Running,
    /// Retrying a failed delivery (backing off).
    Retrying,
    /// The broker is unreachable; backing off and reconnecting forever.
    Disconnected,
    /// The DLQ is full: waiting until an operator replays or discards.
    PausedDlqFull,
}

impl RelayState {
    /// Every state (the metric has one series per state).
    pub const ALL: [Self; 7] =
        [Self::Stopped, Self::Standby, Self::Connecting, Self::Running, Self::Retrying, Self::Disconnected, Self::PausedDlqFull];

    /// The state's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Stopped => "stopped",
            Self::Standby => "standby",
            Self::Connecting => "connecting",
            Self::Running => "running",
            Self::Retrying => "retrying",
            Self::Disconnected => "disconnected",
            Self::PausedDlqFull => "paused_dlq_full",
        }
    }
}

/// A relay's counters since this process started it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RelayCounters {
    /// State now.
    pub state: RelayState,
    /// Events the broker acknowledged.
    pub delivered: u64,
    /// Deliveries that failed (each retry counts).
    pub failures: u64,
    /// Messages the broker reported as repeats it dropped (JetStream).
    pub duplicates: u64,
    /// Events sent to the DLQ.
    pub dead_lettered: u64,
    /// Events the sink's filters skipped.
    pub skipped: u64,
    /// Last position handled (delivered, skipped or dead-lettered).
    pub position: u64,
    /// DLQ size as the relay last read it.
    pub dlq_size: u64,
    /// The last failure (no secrets: URLs are shown without credentials).
    pub last_error: Option<String>,
}

impl Default for RelayCounters {
    fn default() -> Self {
        Self {
            state: RelayState::Stopped,
            delivered: 0,
            failures: 0,
            duplicates: 0,
            dead_lettered: 0,
            skipped: 0,
            position: 0,
            dlq_size: 0,
            last_error: None,
        }
    }
}

/// Shared, cheap to clone.
#[derive(Clone, Debug, Default)]
pub struct SharedStatus(Arc<Mutex<RelayCounters>>);

impl SharedStatus {
    /// A copy of the counters now.
    pub fn snapshot(&self) -> RelayCounters {
        self.lock().clone()
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, RelayCounters> {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(crate) fn update(&self, f: impl FnOnce(&mut RelayCounters)) {
        f(&mut self.lock());
    }

    pub(crate) fn set_state(&self, state: RelayState) {
        self.update(|c| c.state = state);
    }
}
