//! [`Keyring`]: the data keys in use — made on first use per subject,
//! unwrapped once and cached, destroyed by a forget, re-wrapped by a KEK
//! rotation — over a [`KeyStore`] and a [`KeyProvider`].

use crate::{
    DataKey, PrivacyError, Result,
    audit::{Action, Tally},
    kek::{Kek, KeyProvider, random_key},
    keystore::{Destroyed, KeyCounts, KeyRecord, KeyStore},
};
use chronicle_core::Timestamp;
use serde::Serialize;
use std::{
    collections::HashMap,
    sync::{Arc, OnceLock, PoisonError, RwLock},
};

/// What the cache knows of a key id.
#[derive(Clone, Debug)]
pub(crate) enum Slot {
    /// A live key and its subject.
    Live(Arc<DataKey>, Arc<str>),
    /// Destroyed (or never stored here): its values read as erased.
    Gone,
}

impl Slot {
    /// The subject of a live key.
    pub(crate) fn subject(&self) -> Option<&str> {
        match self {
            Self::Live(_, subject) => Some(subject),
            Self::Gone => None,
        }
    }
}

/// `chronicle keys status`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct KeyStatus {
    /// The current KEK's id.
    pub kek_id: String,
    /// The ids of the older KEKs configured.
    pub previous_kek_ids: Vec<String>,
    /// Where the data keys are.
    pub key_store: String,
    /// Counts.
    #[serde(flatten)]
    pub counts: KeyCounts,
}

/// The data keys of one store.
#[derive(Debug)]
pub struct Keyring {
    provider: Arc<dyn KeyProvider>,
    store: OnceLock<Arc<dyn KeyStore>>,
    current: RwLock<HashMap<String, Arc<DataKey>>>,
    by_kid: RwLock<foldhash::HashMap<String, Slot>>,
    /// Subjects waiting for a key (and who asked), made by the next leader.
    pending: std::sync::Mutex<Vec<(String, String)>>,
    /// Held by the caller storing new keys.
    creating: tokio::sync::Mutex<()>,
    /// Crypto operations not yet written to the audit log.
    pub(crate) tally: Tally,
    /// Counters for `/metrics`.
    pub(crate) counters: crate::audit::Counters,
}

/// The subject of the check key: a data key that seals nothing, made
/// when a key store is first attached, re-wrapped with the others, never
/// forgotten. Its only use is to tell, at start, whether the KEK given is
/// the one the store's keys are wrapped with.
pub const KEK_CHECK_SUBJECT: &str = "$chronicle:kek-check";

/// Refuses the check key's subject (it is not a person).
pub(crate) fn reserved(subject: &str) -> Result<()> {
    match subject == KEK_CHECK_SUBJECT {
        true => Err(PrivacyError::invalid("subject", format!("{KEK_CHECK_SUBJECT} is reserved (the store's KEK check key)"))),
        false => Ok(()),
    }
}

fn kid() -> Result<String> {
    let bytes = random_key()?;
    Ok(format!("k-{}", bytes.iter().take(16).map(|b| format!("{b:02x}")).collect::<String>()))
}

impl Keyring {
    /// A keyring over `provider`'s KEKs; [`Keyring::attach`] gives it its
    /// key store (the store may live in the backend opened after it).
    pub fn new(provider: Arc<dyn KeyProvider>) -> Arc<Self> {
        Arc::new(Self {
            provider,
            store: OnceLock::new(),
            current: RwLock::default(),
            by_kid: RwLock::default(),
            pending: std::sync::Mutex::default(),
            creating: tokio::sync::Mutex::default(),
            tally: Tally::default(),
            counters: crate::audit::Counters::default(),
        })
    }

    /// Gives the keyring its key store, after checking that the KEKs open
    /// the keys stored there ([`PrivacyError::WrongKek`] otherwise, before
    /// anything is read or written). A writable store without a check key
    /// gets one ([`KEK_CHECK_SUBJECT`]): it is never forgotten, so a wrong
    /// KEK is caught even when every subject's keys are gone.
    pub async fn attach(&self, store: Arc<dyn KeyStore>) -> Result<()> {
        for sample in store.samples().await? {
            self.unwrap(&sample)?;
        }
        if !store.read_only() && store.current(&[KEK_CHECK_SUBJECT.to_owned()]).await?.is_empty() {
            store.create(vec![self.new_record(KEK_CHECK_SUBJECT)?], false).await?;
        }
        self.store.set(store).map_err(|_| PrivacyError::key_store("keyring", "attached twice"))
    }

    /// Where its KEKs come from.
    pub(crate) fn provider(&self) -> &Arc<dyn KeyProvider> {
        &self.provider
    }

    /// Whether [`Keyring::attach`] gave it a key store.
    pub fn is_attached(&self) -> bool {
        self.store.get().is_some()
    }

    pub(crate) fn store(&self) -> Result<&Arc<dyn KeyStore>> {
        self.store.get().ok_or_else(|| PrivacyError::key_store("keyring", "no key store attached yet"))
    }

    /// The KEK that wrapped `record` ([`PrivacyError::WrongKek`] when the
    /// provider does not hold it).
    fn kek_of(&self, record: &KeyRecord) -> Result<Arc<Kek>> {
        self.provider
            .find(&record.kek_id)
            .ok_or_else(|| PrivacyError::WrongKek { given: self.provider.current().id().to_owned(), stored: record.kek_id.clone() })
    }

    fn unwrap(&self, record: &KeyRecord) -> Result<Arc<DataKey>> {
        Ok(Arc::new(self.kek_of(record)?.unwrap(&record.kid, &record.wrapped, &record.kek_id)?))
    }

    /// `record` re-wrapped under `kek` (from the KEK of this keyring's
    /// provider that wrapped it).
    pub(crate) fn rewrap_under(&self, record: &mut KeyRecord, kek: &Kek) -> Result<()> {
        let bytes = self.kek_of(record)?.unwrap_bytes(&record.kid, &record.wrapped, &record.kek_id)?;
        record.wrapped = kek.wrap(&record.kid, &bytes)?;
        record.kek_id = kek.id().to_owned();
        Ok(())
    }

    fn remember(&self, record: &KeyRecord, key: &Arc<DataKey>, current: bool) {
        if current {
            self.current.write().unwrap_or_else(PoisonError::into_inner).insert(record.subject.clone(), key.clone());
        }
        let slot = Slot::Live(key.clone(), Arc::from(record.subject.as_str()));
        self.by_kid.write().unwrap_or_else(PoisonError::into_inner).insert(record.kid.clone(), slot);
    }

    fn new_record(&self, subject: &str) -> Result<KeyRecord> {
        let (kid, kek) = (kid()?, self.provider.current());
        let wrapped = kek.wrap(&kid, &random_key()?)?;
        Ok(KeyRecord {
            kid,
            subject: subject.to_owned(),
            generation: 0,
            kek_id: kek.id().to_owned(),
            wrapped,
            created_at: Timestamp::now(),
        })
    }

    /// The cached current keys of `subjects`, and the subjects without one.
    fn cached(&self, subjects: &[String]) -> (HashMap<String, Arc<DataKey>>, Vec<String>) {
        let current = self.current.read().unwrap_or_else(PoisonError::into_inner);
        let (mut found, mut missing) = (HashMap::with_capacity(subjects.len()), Vec::new());
        for s in subjects {
            match current.get(s) {
                Some(k) => drop(found.insert(s.clone(), k.clone())),
                None if !missing.contains(s) => missing.push(s.clone()),
                None => {}
            }
        }
        (found, missing)
    }

    /// The current key of each subject, made (and stored durably) for
    /// those that have none; `who` is audited for the keys made. Keys
    /// wanted at the same time are made together: one caller at a time
    /// stores every key queued meanwhile (one write, one sync).
    pub async fn keys_for(&self, subjects: &[String], who: &str) -> Result<HashMap<String, Arc<DataKey>>> {
        let (mut found, missing) = self.cached(subjects);
        if missing.is_empty() {
            return Ok(found);
        }
        for record in self.store()?.current(&missing).await? {
            let key = self.unwrap(&record)?;
            self.remember(&record, &key, true);
        }
        let (known, mut missing) = self.cached(&missing);
        found.extend(known);
        for _ in 0..3 {
            if missing.is_empty() {
                return Ok(found);
            }
            self.pending.lock().unwrap_or_else(PoisonError::into_inner).extend(missing.iter().map(|s| (s.clone(), who.to_owned())));
            let leader = self.creating.lock().await;
            let queued = std::mem::take(&mut *self.pending.lock().unwrap_or_else(PoisonError::into_inner));
            let outcome = self.create(queued).await;
            drop(leader);
            outcome?;
            let (known, still) = self.cached(&missing);
            found.extend(known);
            missing = still; // queued by a leader whose store failed: queue again
        }
        Err(PrivacyError::key_store("keyring", "could not make data keys"))
    }

    /// Makes and stores keys for the queued subjects that still have none.
    async fn create(&self, mut queued: Vec<(String, String)>) -> Result<()> {
        queued.sort();
        queued.dedup_by(|a, b| a.0 == b.0);
        let subjects: Vec<String> = queued.iter().map(|(s, _)| s.clone()).collect();
        let (_, todo) = self.cached(&subjects);
        if todo.is_empty() {
            return Ok(());
        }
        let new: Vec<KeyRecord> = todo.iter().map(|s| self.new_record(s)).collect::<Result<_>>()?;
        let made: HashMap<String, String> = new.iter().map(|r| (r.kid.clone(), r.subject.clone())).collect();
        for record in self.store()?.create(new, false).await? {
            if made.contains_key(&record.kid) {
                let who = queued.iter().find(|(s, _)| *s == record.subject).map_or("?", |(_, w)| w.as_str());
                self.tally.add(who, Action::KeyCreated, &record.subject, 1);
                crate::audit::Counters::add(&self.counters.keys_created, 1);
            }
            let key = self.unwrap(&record)?;
            self.remember(&record, &key, true);
        }
        Ok(())
    }

    /// Makes sure the cache knows every id in `kids` (live or gone).
    async fn load(&self, kids: &[&str]) -> Result<()> {
        let unknown: Vec<String> = {
            let cache = self.by_kid.read().unwrap_or_else(PoisonError::into_inner);
            let mut unknown: Vec<String> = kids.iter().filter(|k| !cache.contains_key(**k)).map(|k| (*k).to_owned()).collect();
            unknown.sort();
            unknown.dedup();
            unknown
        };
        if unknown.is_empty() {
            return Ok(());
        }
        let records = self.store()?.by_kid(&unknown).await?;
        for record in &records {
            let key = self.unwrap(record)?;
            self.remember(record, &key, false);
        }
        let mut cache = self.by_kid.write().unwrap_or_else(PoisonError::into_inner);
        for kid in unknown {
            cache.entry(kid).or_insert(Slot::Gone);
        }
        Ok(())
    }

    /// What each of `kids` is (live or gone), in order: one look-up each,
    /// the key store asked once for those not cached.
    pub(crate) async fn resolve(&self, kids: &[&str]) -> Result<Vec<Slot>> {
        let lookup = |cache: &foldhash::HashMap<String, Slot>| kids.iter().map(|k| cache.get(*k).cloned()).collect::<Vec<_>>();
        let found = lookup(&self.by_kid.read().unwrap_or_else(PoisonError::into_inner));
        if found.iter().all(Option::is_some) {
            return Ok(found.into_iter().flatten().collect());
        }
        let missing: Vec<&str> = kids.iter().zip(&found).filter(|(_, f)| f.is_none()).map(|(k, _)| *k).collect();
        self.load(&missing).await?;
        let found = lookup(&self.by_kid.read().unwrap_or_else(PoisonError::into_inner));
        Ok(found.into_iter().map(|f| f.unwrap_or(Slot::Gone)).collect())
    }

    /// Destroys every key of `subject` (up to generation `through`, all
    /// when `None`) in the key store and in this cache.
    pub async fn destroy(&self, subject: &str, through: Option<u32>, who: &str) -> Result<Destroyed> {
        reserved(subject)?;
        let destroyed = self.store()?.forget(subject, through).await?;
        self.evict(subject);
        self.tally.add(who, Action::Forget, subject, destroyed.kids.len() as u64);
        crate::audit::Counters::add(&self.counters.forgets, 1);
        Ok(destroyed)
    }

    /// Drops every cached key of `subject`: the next use asks the key
    /// store again (what another node's forget means here).
    pub fn evict(&self, subject: &str) {
        self.current.write().unwrap_or_else(PoisonError::into_inner).remove(subject);
        self.by_kid.write().unwrap_or_else(PoisonError::into_inner).retain(|_, slot| !matches!(slot, Slot::Live(_, s) if &**s == subject));
    }

    /// Starts a new data key for `subject`'s future events (older events
    /// keep theirs); returns its generation.
    pub async fn rotate(&self, subject: &str, who: &str) -> Result<u32> {
        reserved(subject)?;
        let stored = self.store()?.create(vec![self.new_record(subject)?], true).await?;
        let record = stored.into_iter().next().ok_or_else(|| PrivacyError::key_store("keyring", "no key stored"))?;
        let key = self.unwrap(&record)?;
        self.remember(&record, &key, true);
        self.tally.add(who, Action::Rotate, subject, 1);
        Ok(record.generation)
    }

    /// Forgets which key ids were found missing (keys were imported since).
    pub(crate) fn forget_missing(&self) {
        self.by_kid.write().unwrap_or_else(PoisonError::into_inner).retain(|_, slot| matches!(slot, Slot::Live(..)));
    }

    /// Forgets the cached current key of `subject` (another node rotated it).
    pub fn evict_current(&self, subject: &str) {
        self.current.write().unwrap_or_else(PoisonError::into_inner).remove(subject);
    }

    /// Re-wraps every data key not under the current KEK, `batch` at a
    /// time (resumable: a rerun continues with what is left); calls
    /// `progress` with the running count. Events are not touched.
    pub async fn rotate_kek(&self, batch: usize, who: &str, progress: &mut (dyn FnMut(u64) + Send)) -> Result<u64> {
        let (store, kek) = (self.store()?, self.provider.current());
        let mut done = 0u64;
        loop {
            let records = store.not_wrapped_by(kek.id(), batch.max(1)).await?;
            if records.is_empty() {
                break;
            }
            let mut rewrapped = Vec::with_capacity(records.len());
            for mut r in records {
                self.rewrap_under(&mut r, &kek)?;
                rewrapped.push(r);
            }
            done += rewrapped.iter().filter(|r| r.subject != KEK_CHECK_SUBJECT).count() as u64;
            store.rewrap(rewrapped).await?;
            progress(done);
        }
        self.tally.add(who, Action::RotateKek, kek.id(), done);
        Ok(done)
    }

    /// The KEK ids and key counts (the check key not counted).
    pub async fn status(&self) -> Result<KeyStatus> {
        let store = self.store()?;
        let mut counts = store.counts().await?;
        for check in store.current(&[KEK_CHECK_SUBJECT.to_owned()]).await? {
            counts.subjects = counts.subjects.saturating_sub(1);
            counts.keys = counts.keys.saturating_sub(1);
            if let Some(n) = counts.by_kek.get_mut(&check.kek_id) {
                *n = n.saturating_sub(1);
            }
            counts.by_kek.retain(|_, n| *n > 0);
        }
        Ok(KeyStatus {
            kek_id: self.provider.current().id().to_owned(),
            previous_kek_ids: self.provider.previous().iter().map(|k| k.id().to_owned()).collect(),
            key_store: store.describe(),
            counts,
        })
    }
}
