//! The read side: every envelope in an event's data and metadata is
//! decrypted for a caller with clearance, masked (`"***"`) for anyone
//! else, and shown as `{"$erased": true}` to everyone once its key is
//! destroyed. Events without envelopes pass untouched, unparsed.

use crate::{
    Keyring,
    audit::{Action, Counters},
    envelope::{self, MASK, erased},
    keyring::Slot,
    splice,
};
use chronicle_core::{Error, RawJson, RecordedEvent, Result};
use serde_json::Value;
use std::sync::Arc;

/// What a reader may see.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Clearance {
    /// Encrypted fields decrypted.
    Clear,
    /// Encrypted fields replaced by `"***"`.
    Masked,
}

/// Decryptions per subject in one batch.
type Counts = foldhash::HashMap<Arc<str>, u64>;

/// How a document's envelopes are found.
enum Doc {
    /// None in it.
    Plain,
    /// Found in the bytes (the fast path).
    Compact(Vec<splice::Found>),
    /// Not all compact: parsed.
    Parsed(Value),
}

impl Doc {
    fn of(bytes: &[u8]) -> Result<Self, serde_json::Error> {
        match splice::find(bytes) {
            Some(found) if found.is_empty() => Ok(Self::Plain),
            Some(found) => Ok(Self::Compact(found)),
            None => serde_json::from_slice(bytes).map(Self::Parsed),
        }
    }

    fn kids<'a>(&'a self, bytes: &'a [u8], out: &mut Vec<&'a str>) {
        match self {
            Self::Plain => {}
            Self::Compact(found) => out.extend(found.iter().map(|f| splice::text(bytes, &f.kid))),
            Self::Parsed(value) => envelope::kids(value, out),
        }
    }
}

/// Reveals events to one caller.
#[derive(Clone, Debug)]
pub struct Revealer {
    keyring: Arc<Keyring>,
    clearance: Clearance,
    who: Arc<str>,
    /// A masked caller whose `pii` grants clear some streams.
    granted: Option<Arc<chronicle_core::Principal>>,
}

fn corrupt(event: &RecordedEvent, e: impl std::fmt::Display) -> Error {
    Error::Corrupted { location: format!("event {} (position {})", event.event_id, event.global_position), reason: e.to_string() }
}

impl Revealer {
    /// Reveals with `keyring`'s keys to `who` with `clearance`.
    pub fn new(keyring: Arc<Keyring>, clearance: Clearance, who: &str) -> Self {
        Self { keyring, clearance, who: Arc::from(who), granted: None }
    }

    /// Also clears the streams where `principal` holds the `pii` action
    /// (a grant `allow = ["read", "pii"]`), for a masked reader.
    pub fn with_grants(mut self, principal: &chronicle_core::Principal) -> Self {
        let pii = principal.grants.iter().any(|g| g.allow.contains(&chronicle_core::Action::Pii));
        self.granted = pii.then(|| Arc::new(principal.clone()));
        self
    }

    /// What this reader sees of `stream`'s encrypted fields.
    fn clearance_of(&self, stream: &chronicle_core::StreamId) -> Clearance {
        match &self.granted {
            Some(p) if self.clearance == Clearance::Masked && p.may(chronicle_core::Action::Pii, stream) => Clearance::Clear,
            _ => self.clearance,
        }
    }

    /// The clearance.
    pub fn clearance(&self) -> Clearance {
        self.clearance
    }

    /// Who reads (for the audit log).
    pub fn who(&self) -> &str {
        &self.who
    }

    pub(crate) fn keyring(&self) -> &Arc<Keyring> {
        &self.keyring
    }

    /// `value` with its top-level envelope revealed (a snapshot layer).
    pub(crate) async fn value(&self, stream: &chronicle_core::StreamId, value: Value) -> Result<Value> {
        let Some(found) = envelope::parse(&value) else { return Ok(value) };
        let kid = found.as_ref().map(|e| e.kid).unwrap_or_default();
        let slot = self.keyring.resolve(&[kid]).await?.pop().unwrap_or(Slot::Gone);
        let mut counts = Counts::default();
        let revealed = self.reveal_slot(self.clearance_of(stream), slot, found, &mut counts).map_err(Error::from)?;
        self.tally(counts);
        Ok(revealed)
    }

    /// Counts the decryptions of one batch (metrics, audit).
    fn tally(&self, counts: Counts) {
        for (subject, n) in counts {
            Counters::add(&self.keyring.counters.decrypted, n);
            self.keyring.tally.add_shared(&self.who, Action::Decrypted, subject, n);
        }
    }

    /// One event, revealed.
    pub async fn event(&self, event: RecordedEvent) -> Result<RecordedEvent> {
        let mut one = self.events(vec![event]).await?;
        one.pop().ok_or_else(|| Error::Unavailable { reason: "revealing lost an event".into() })
    }

    /// Events, revealed (keys looked up once for the whole batch).
    pub async fn events(&self, mut events: Vec<RecordedEvent>) -> Result<Vec<RecordedEvent>> {
        let mut work = Vec::new();
        for (i, e) in events.iter().enumerate() {
            // The sealer lists what it encrypted in the metadata: events
            // without that list hold no envelope of ours (and are not scanned).
            if envelope::ENCRYPTED_MARK.find(e.metadata.as_bytes()).is_none() {
                continue;
            }
            let (data, meta) = (
                Doc::of(e.data.as_bytes()).map_err(|err| corrupt(e, err))?,
                Doc::of(e.metadata.as_bytes()).map_err(|err| corrupt(e, err))?,
            );
            if !matches!((&data, &meta), (Doc::Plain, Doc::Plain)) {
                work.push((i, data, meta));
            }
        }
        if work.is_empty() {
            return Ok(events);
        }
        let slots = {
            let mut kids: Vec<&str> = Vec::new();
            for (i, data, meta) in &work {
                let Some(e) = events.get(*i) else { continue };
                data.kids(e.data.as_bytes(), &mut kids);
                meta.kids(e.metadata.as_bytes(), &mut kids);
            }
            self.keyring.resolve(&kids).await?
        };
        let mut slots = slots.into_iter();
        let mut counts = Counts::default();
        for (i, data, meta) in work {
            let Some(e) = events.get_mut(i) else { continue };
            let clearance = self.clearance_of(&e.stream_id);
            let mut apply = |bytes: &[u8], doc| self.apply(clearance, bytes, doc, &mut slots, &mut counts);
            if let Some(bytes) = apply(e.data.as_bytes(), data).map_err(|err| corrupt(e, err))? {
                e.data = RawJson::from_trusted(bytes.into());
            }
            if let Some(bytes) = apply(e.metadata.as_bytes(), meta).map_err(|err| corrupt(e, err))? {
                e.metadata = RawJson::from_trusted(bytes.into());
            }
        }
        self.tally(counts);
        Ok(events)
    }

    /// A document's bytes with its envelopes revealed (`None`: unchanged);
    /// `slots` holds what each envelope's key is, in document order.
    fn apply(
        &self,
        clearance: Clearance,
        bytes: &[u8],
        doc: Doc,
        slots: &mut impl Iterator<Item = Slot>,
        counts: &mut Counts,
    ) -> crate::Result<Option<Vec<u8>>> {
        match doc {
            Doc::Plain => Ok(None),
            Doc::Compact(found) => Ok(Some(splice::replace(bytes, &found, |f, out| {
                self.reveal_into(clearance, slots.next().unwrap_or(Slot::Gone), splice::raw(bytes, &f.ct), out, counts)
            })?)),
            Doc::Parsed(mut value) => {
                let mut failure = None;
                let mut open = |found: crate::Result<envelope::Envelope<'_>>| {
                    let slot = slots.next().unwrap_or(Slot::Gone);
                    match self.reveal_slot(clearance, slot, found, counts) {
                        Ok(v) => v,
                        Err(err) => {
                            failure.get_or_insert(err);
                            Value::Null
                        }
                    }
                };
                envelope::replace_all(&mut value, &mut open);
                match failure {
                    Some(err) => Err(err),
                    None => Ok(Some(serde_json::to_vec(&value).map_err(|e| crate::PrivacyError::invalid("event", e.to_string()))?)),
                }
            }
        }
    }

    /// Appends what this reader sees of an envelope (its key's `slot`, its `ct`) to `out`.
    fn reveal_into(&self, clearance: Clearance, slot: Slot, ct: &[u8], out: &mut Vec<u8>, counts: &mut Counts) -> crate::Result<()> {
        let c = &self.keyring.counters;
        match (slot, clearance) {
            (Slot::Gone, _) => {
                Counters::add(&c.erased, 1);
                out.extend_from_slice(br#"{"$erased":true}"#);
            }
            (Slot::Live(..), Clearance::Masked) => {
                Counters::add(&c.masked, 1);
                out.extend_from_slice(br#""***""#);
            }
            (Slot::Live(key, subject), Clearance::Clear) => {
                key.open_text_into(ct, out)?;
                *counts.entry(subject).or_default() += 1;
            }
        }
        Ok(())
    }

    fn reveal_slot(
        &self,
        clearance: Clearance,
        slot: Slot,
        found: crate::Result<envelope::Envelope<'_>>,
        counts: &mut Counts,
    ) -> crate::Result<Value> {
        let env = found?;
        let c = &self.keyring.counters;
        match (slot, clearance) {
            (Slot::Gone, _) => {
                Counters::add(&c.erased, 1);
                Ok(erased())
            }
            (Slot::Live(..), Clearance::Masked) => {
                Counters::add(&c.masked, 1);
                Ok(Value::from(MASK))
            }
            (Slot::Live(key, subject), Clearance::Clear) => {
                let value = key.open(&env)?;
                *counts.entry(subject).or_default() += 1;
                Ok(value)
            }
        }
    }
}
