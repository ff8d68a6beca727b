//! [`Privacy`]: the policy, the keyring and the facts in `$privacy` — what
//! a store with sensitive fields is opened with. A forget, a subject's key
//! rotation and a KEK rotation are recorded as events of `$privacy`
//! (`SubjectForgotten`, `SubjectKeyRotated`, `KekRotated`), so the log
//! itself says who erased whom and when. On attach, the key store and
//! the facts are reconciled both ways: a restored backup of the log gets
//! back the forgets made since it was taken, and a restored copy of the
//! key store loses again the keys forgotten since.

use crate::{Clearance, KeyStatus, Keyring, Policy, PrivacySettings, PrivateStore, Result, Sealer, StaticKeys, keystore::KeyStore};
use chronicle_core::{EventStore, ExpectedVersion, FieldSealer, NewEvent, RawJson, ReadStream, StreamId};
use serde::{Deserialize, Serialize};
use std::{collections::HashMap, path::Path, sync::Arc};

/// The stream of privacy facts.
pub const PRIVACY_STREAM: &str = "$privacy";
/// The event type of a forget.
pub const SUBJECT_FORGOTTEN: &str = "SubjectForgotten";
/// The event type of a subject's key rotation.
pub const SUBJECT_KEY_ROTATED: &str = "SubjectKeyRotated";
/// The event type of a KEK rotation.
pub const KEK_ROTATED: &str = "KekRotated";

/// A `SubjectForgotten` fact (also what a forget answers).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Forgotten {
    /// The subject.
    pub subject: String,
    /// Every key of the subject up to this generation is destroyed.
    pub through: u32,
    /// Keys destroyed by this forget.
    pub keys_destroyed: u64,
    /// Who asked.
    pub by: String,
}

/// The privacy layer of one store.
#[derive(Debug)]
pub struct Privacy {
    policy: Arc<Policy>,
    keyring: Arc<Keyring>,
}

fn privacy_stream() -> StreamId {
    StreamId::new(PRIVACY_STREAM).unwrap_or_else(|_| unreachable!("a valid stream id"))
}

impl Privacy {
    /// The layer `[privacy]` asks for, with KEKs read from `kek_file`
    /// (relative to `base`) or `CHRONICLE_KEK`; `None` when no field is
    /// marked and no KEK is configured.
    pub fn from_settings(settings: &PrivacySettings, base: &Path) -> Result<Option<Self>> {
        let has_kek = settings.kek_file.is_some() || std::env::var(crate::KEK_ENV).is_ok_and(|v| !v.trim().is_empty());
        if !settings.enabled() && !has_kek {
            return Ok(None);
        }
        let kek_file = settings.kek_file.as_ref().map(|f| base.join(f));
        let previous: Vec<_> = settings.previous_kek_files.iter().map(|f| base.join(f)).collect();
        let keys = StaticKeys::load(kek_file.as_deref(), &previous)?;
        Ok(Some(Self::new(settings.policy()?, Keyring::new(Arc::new(keys)))))
    }

    /// The layer for `policy` over `keyring`.
    pub fn new(policy: Policy, keyring: Arc<Keyring>) -> Self {
        Self { policy: Arc::new(policy), keyring }
    }

    /// The keyring.
    pub fn keyring(&self) -> &Arc<Keyring> {
        &self.keyring
    }

    /// The pipeline stage that seals marked fields.
    pub fn sealer(&self) -> Arc<dyn FieldSealer> {
        Arc::new(Sealer::new(self.policy.clone(), self.keyring.clone()))
    }

    /// Gives the keyring its key store, after checking that the KEK opens
    /// the keys there ([`PrivacyError::WrongKek`](crate::PrivacyError::WrongKek)
    /// otherwise). Call before opening the store, so a wrong KEK stops
    /// everything before the log is touched.
    pub async fn attach(&self, keys: Arc<dyn KeyStore>) -> Result<()> {
        self.keyring.attach(keys).await
    }

    /// `store` read by `who` with `clearance`.
    pub fn reader(&self, store: Arc<dyn EventStore>, clearance: Clearance, who: &str) -> PrivateStore {
        PrivateStore::new(store, self.keyring.clone(), clearance, who)
    }

    async fn facts(store: &dyn EventStore) -> Result<Vec<Forgotten>> {
        let events = store.read_stream(&privacy_stream(), ReadStream::forward()).await?;
        Ok(events.iter().filter(|e| &*e.event_type == SUBJECT_FORGOTTEN).filter_map(|e| e.data.decode::<Forgotten>().ok()).collect())
    }

    async fn record(store: &dyn EventStore, event_type: &str, fact: &impl Serialize) -> Result<()> {
        let data = RawJson::from_serialize(fact).map_err(|e| chronicle_core::Error::invalid("fact", e.to_string()))?;
        store.append(&privacy_stream(), ExpectedVersion::Any, vec![NewEvent::raw(event_type, data.bytes().clone())]).await?;
        Ok(())
    }

    /// Reconciles the key store with the facts in `store`'s `$privacy`
    /// stream, both ways (see the module documentation): returns how many
    /// recorded forgets were re-applied to the key store and how many
    /// forgets of the key store were recorded anew. An empty store gets no
    /// facts (a restore into it must find it empty): reconcile again once
    /// it is restored.
    pub async fn reconcile(&self, store: &dyn EventStore) -> Result<(u64, u64)> {
        let keys = self.keyring.store()?;
        let marks: HashMap<String, u32> = keys.forgotten().await?.into_iter().collect();
        let facts = Self::facts(store).await?;
        let mut in_log: HashMap<&str, u32> = HashMap::new();
        for fact in &facts {
            let t = in_log.entry(fact.subject.as_str()).or_default();
            *t = (*t).max(fact.through);
        }
        let (mut applied, mut recorded) = (0, 0);
        for (subject, &through) in &in_log {
            if marks.get(*subject).is_none_or(|&m| m < through) {
                self.keyring.destroy(subject, Some(through), "reconcile").await?;
                applied += 1;
            }
        }
        if store.head().await? == 0 {
            return Ok((applied, 0));
        }
        for (subject, through) in marks {
            if in_log.get(subject.as_str()).is_none_or(|&t| t < through) {
                let fact = Forgotten { subject, through, keys_destroyed: 0, by: "reconcile".into() };
                Self::record(store, SUBJECT_FORGOTTEN, &fact).await?;
                recorded += 1;
            }
        }
        if applied + recorded > 0 {
            tracing::info!(applied, recorded, "privacy: key store and $privacy reconciled");
        }
        Ok((applied, recorded))
    }

    /// Destroys every data key of `subject` and records the fact in
    /// `store`'s `$privacy` stream: from now on every read of the
    /// subject's encrypted fields shows `{"$erased": true}`.
    pub async fn forget(&self, store: &dyn EventStore, subject: &str, who: &str) -> Result<Forgotten> {
        if subject.is_empty() {
            return Err(crate::PrivacyError::invalid("subject", "is empty"));
        }
        let destroyed = self.keyring.destroy(subject, None, who).await?;
        let fact = Forgotten {
            subject: subject.to_owned(),
            through: destroyed.through,
            keys_destroyed: destroyed.kids.len() as u64,
            by: who.to_owned(),
        };
        Self::record(store, SUBJECT_FORGOTTEN, &fact).await?;
        Ok(fact)
    }

    /// Starts a new data key for `subject`'s future events; returns its
    /// generation.
    pub async fn rotate(&self, store: &dyn EventStore, subject: &str, who: &str) -> Result<u32> {
        let generation = self.keyring.rotate(subject, who).await?;
        Self::record(store, SUBJECT_KEY_ROTATED, &serde_json::json!({"subject": subject, "generation": generation, "by": who})).await?;
        Ok(generation)
    }

    /// Re-wraps every data key under the current KEK (resumable).
    pub async fn rotate_kek(&self, store: &dyn EventStore, who: &str, progress: &mut (dyn FnMut(u64) + Send)) -> Result<u64> {
        let n = self.keyring.rotate_kek(500, who, progress).await?;
        let status = self.keyring.status().await?;
        Self::record(store, KEK_ROTATED, &serde_json::json!({"kek_id": status.kek_id, "keys": n, "by": who})).await?;
        Ok(n)
    }

    /// KEK ids and key counts.
    pub async fn status(&self) -> Result<KeyStatus> {
        self.keyring.status().await
    }

    /// Follows `store`'s `$privacy` stream from its current end, dropping
    /// cached keys that another node destroyed or rotated (PostgreSQL
    /// with several nodes). Runs until the subscription ends.
    pub async fn follow(self: Arc<Self>, store: Arc<dyn EventStore>) {
        let filter = chronicle_core::Filter { stream_id: Some(privacy_stream()), ..Default::default() };
        let Ok(mut sub) = store.subscribe(chronicle_core::SubscribeFrom::End, filter).await else {
            return;
        };
        while let Some(Ok(event)) = sub.next().await {
            let Ok(value) = event.data.to_value() else { continue };
            let Some(subject) = value.get("subject").and_then(|s| s.as_str()) else { continue };
            match &*event.event_type {
                SUBJECT_FORGOTTEN => self.keyring.evict(subject),
                SUBJECT_KEY_ROTATED => self.keyring.evict_current(subject),
                _ => {}
            }
        }
    }
}
