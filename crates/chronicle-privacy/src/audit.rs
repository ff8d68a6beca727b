//! Crypto audit: every key made, every decryption for a caller, every
//! forget and rotation, counted per (caller, action, subject) and handed
//! to the audit log in batches ([`Keyring::drain_audit`]) — one entry per
//! caller and subject, not one per event.
//!
//! [`Keyring::drain_audit`]: crate::Keyring::drain_audit

use serde::Serialize;
use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex, PoisonError},
};

/// A crypto operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// A data key was made for a subject.
    KeyCreated,
    /// Encrypted values were decrypted for a caller.
    Decrypted,
    /// A subject's keys were destroyed.
    Forget,
    /// A subject got a new data key.
    Rotate,
    /// Data keys were re-wrapped under a new KEK (the subject is its id).
    RotateKek,
}

impl Action {
    /// The name in the audit log.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::KeyCreated => "key_created",
            Self::Decrypted => "decrypted",
            Self::Forget => "forget",
            Self::Rotate => "rotate",
            Self::RotateKek => "rotate_kek",
        }
    }
}

/// One audit entry: `who` did `action` on `subject`, `count` times since
/// the previous entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CryptoRecord {
    /// The caller (a token id, `library` or `cli`).
    pub who: String,
    /// What.
    pub action: Action,
    /// The subject (the KEK id for a KEK rotation).
    pub subject: String,
    /// How many values or keys.
    pub count: u64,
}

/// Entries kept before the oldest are written to the log as a summary
/// (when nobody drains them: a library without an audit log).
const MAX_PENDING: usize = 10_000;

/// (who, what, subject).
type TallyKey = (Arc<str>, Action, Arc<str>);

/// Counts not yet drained.
#[derive(Debug, Default)]
pub(crate) struct Tally {
    pending: Mutex<foldhash::HashMap<TallyKey, u64>>,
}

impl Tally {
    pub(crate) fn add(&self, who: &str, action: Action, subject: &str, count: u64) {
        self.add_shared(&Arc::from(who), action, Arc::from(subject), count);
    }

    /// [`Tally::add`] without copying the names (the read path).
    pub(crate) fn add_shared(&self, who: &Arc<str>, action: Action, subject: Arc<str>, count: u64) {
        if count == 0 && action == Action::Decrypted {
            return;
        }
        let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
        *pending.entry((who.clone(), action, subject)).or_default() += count;
        if pending.len() > MAX_PENDING {
            let total: u64 = pending.values().sum();
            tracing::info!(
                entries = pending.len(),
                operations = total,
                "crypto audit: nobody collects the audit entries; counted and dropped"
            );
            pending.clear();
        }
    }

    pub(crate) fn drain(&self) -> Vec<CryptoRecord> {
        let pending = std::mem::take(&mut *self.pending.lock().unwrap_or_else(PoisonError::into_inner));
        let pending: BTreeMap<TallyKey, u64> = pending.into_iter().collect(); // in order: who, action, subject
        pending
            .into_iter()
            .map(|((who, action, subject), count)| CryptoRecord { who: who.to_string(), action, subject: subject.to_string(), count })
            .collect()
    }
}

impl crate::Keyring {
    /// The crypto operations counted since the last call, for the audit
    /// log (the server writes them every few seconds).
    pub fn drain_audit(&self) -> Vec<CryptoRecord> {
        self.tally.drain()
    }
}

/// Counters since start, for `/metrics`.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) keys_created: std::sync::atomic::AtomicU64,
    pub(crate) decrypted: std::sync::atomic::AtomicU64,
    pub(crate) masked: std::sync::atomic::AtomicU64,
    pub(crate) erased: std::sync::atomic::AtomicU64,
    pub(crate) forgets: std::sync::atomic::AtomicU64,
}

impl Counters {
    pub(crate) fn add(counter: &std::sync::atomic::AtomicU64, n: u64) {
        if n > 0 {
            counter.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
        }
    }
}

impl crate::Privacy {
    /// The privacy metrics in the Prometheus text format: counters since
    /// start, and the key store's counts.
    pub async fn render_prometheus(&self) -> String {
        use std::{fmt::Write, sync::atomic::Ordering::Relaxed};
        let c = &self.keyring().counters;
        let mut out = String::new();
        let mut counter = |name: &str, help: &str, v: u64| {
            let _ = write!(out, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}\n");
        };
        counter("chronicle_privacy_keys_created_total", "Data keys made (one per new subject or rotation).", c.keys_created.load(Relaxed));
        counter("chronicle_privacy_decrypted_total", "Encrypted values decrypted for cleared readers.", c.decrypted.load(Relaxed));
        counter("chronicle_privacy_masked_total", "Encrypted values shown as *** to readers without clearance.", c.masked.load(Relaxed));
        counter("chronicle_privacy_erased_total", "Encrypted values read whose key was destroyed.", c.erased.load(Relaxed));
        counter("chronicle_privacy_forgets_total", "Subjects forgotten by this process.", c.forgets.load(Relaxed));
        if let Ok(status) = self.status().await {
            for (name, help, v) in [
                ("chronicle_privacy_subjects", "Subjects with a live data key.", status.counts.subjects),
                ("chronicle_privacy_keys", "Live data keys.", status.counts.keys),
                ("chronicle_privacy_forgotten_subjects", "Subjects forgotten.", status.counts.forgotten),
            ] {
                let _ = write!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {v}\n");
            }
        }
        out
    }
}
