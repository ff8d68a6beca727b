//! Where data keys live, wrapped: outside the event log, so a backup of
//! the log never holds them and destroying one erases what it sealed.
//! [`KeyStore`] is the seam; [`MemoryKeys`] keeps them in memory (tests,
//! the memory backend), `FileKeys` in `{data_dir}/keys`, PostgreSQL in a
//! table of the store's schema. [`KeyTable`] is the in-memory form the
//! memory and file stores share.

use crate::Result;
use chronicle_core::{Timestamp, async_trait};
use serde::{Deserialize, Serialize};
use std::{
    collections::{BTreeMap, HashMap},
    fmt,
    sync::Mutex,
};

/// One data key, wrapped under a KEK.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyRecord {
    /// The key's id (what envelopes name).
    pub kid: String,
    /// The subject the key belongs to.
    pub subject: String,
    /// 1 for a subject's first key, +1 for each rotation (or new key after
    /// a forget).
    pub generation: u32,
    /// The id of the KEK that wrapped it.
    pub kek_id: String,
    /// The wrapped key (nonce ‖ ciphertext ‖ tag).
    #[serde(with = "b64")]
    pub wrapped: Vec<u8>,
    /// When it was made.
    pub created_at: Timestamp,
}

impl fmt::Debug for KeyRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyRecord")
            .field("kid", &self.kid)
            .field("generation", &self.generation)
            .field("kek_id", &self.kek_id)
            .finish_non_exhaustive()
    }
}

mod b64 {
    use base64::{Engine, engine::general_purpose::STANDARD};
    use serde::{Deserialize, Deserializer, Serializer, de::Error};
    pub(super) fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(bytes))
    }
    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        STANDARD.decode(String::deserialize(d)?).map_err(D::Error::custom)
    }
}

/// What a forget destroyed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Destroyed {
    /// The ids of the destroyed keys.
    pub kids: Vec<String>,
    /// Every key of the subject up to this generation is gone.
    pub through: u32,
}

/// Counts for `chronicle keys status`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyCounts {
    /// Subjects with at least one live key.
    pub subjects: u64,
    /// Live keys.
    pub keys: u64,
    /// Subjects forgotten (at least once).
    pub forgotten: u64,
    /// Live keys per KEK id.
    pub by_kek: BTreeMap<String, u64>,
}

/// Storage of wrapped data keys. Every method is all-or-nothing and
/// durable when it returns.
#[async_trait]
pub trait KeyStore: Send + Sync + fmt::Debug {
    /// Where the keys are, for messages.
    fn describe(&self) -> String;
    /// Whether this handle only reads (another process owns the store).
    fn read_only(&self) -> bool {
        false
    }
    /// The newest live key of each subject asked for that has one.
    async fn current(&self, subjects: &[String]) -> Result<Vec<KeyRecord>>;
    /// The live keys with these ids (destroyed or unknown ones are left out).
    async fn by_kid(&self, kids: &[String]) -> Result<Vec<KeyRecord>>;
    /// Stores new keys, each as its subject's next generation (the store
    /// numbers them: a destroyed generation is never reused). Unless
    /// `rotate`, a subject that has a live key already (another node was
    /// first) keeps it: the result holds the keys as stored, one per input.
    async fn create(&self, records: Vec<KeyRecord>, rotate: bool) -> Result<Vec<KeyRecord>>;
    /// Destroys every key of `subject` up to generation `through` (all of
    /// them when `None`) and remembers that it did.
    async fn forget(&self, subject: &str, through: Option<u32>) -> Result<Destroyed>;
    /// Up to `limit` live keys not wrapped by `kek_id` (for rotation).
    async fn not_wrapped_by(&self, kek_id: &str, limit: usize) -> Result<Vec<KeyRecord>>;
    /// Replaces the wrapping (and KEK id) of stored keys, by id.
    async fn rewrap(&self, records: Vec<KeyRecord>) -> Result<()>;
    /// Counts.
    async fn counts(&self) -> Result<KeyCounts>;
    /// One live key wrapped by each KEK in use (to check a KEK at start).
    async fn samples(&self) -> Result<Vec<KeyRecord>>;
    /// Every forgotten subject, with the generation it was forgotten through.
    async fn forgotten(&self) -> Result<Vec<(String, u32)>>;
    /// Every live key (to copy a store's keys to another).
    async fn records(&self) -> Result<Vec<KeyRecord>>;
    /// Adds keys as another store numbered them, then its forgotten marks
    /// (destroying what they cover); returns how many keys were added. A
    /// key whose id is here already, or whose subject's generation is
    /// taken by another key here, is left out.
    async fn import(&self, records: Vec<KeyRecord>, forgotten: Vec<(String, u32)>) -> Result<u64>;
}

/// Keys in memory: the live records, the generation counters and the
/// forgotten subjects.
#[derive(Debug, Default, Clone)]
pub struct KeyTable {
    by_kid: HashMap<String, KeyRecord>,
    current: HashMap<String, String>,
    generations: HashMap<String, u32>,
    forgotten: HashMap<String, u32>,
}

impl KeyTable {
    /// Stores `record` as its subject's next generation, unless the
    /// subject has a live key and this is not a rotation (then that key
    /// stays); returns the key as stored.
    pub(crate) fn insert(&mut self, mut record: KeyRecord, rotate: bool) -> KeyRecord {
        if !rotate && let Some(stored) = self.current.get(&record.subject).and_then(|k| self.by_kid.get(k)) {
            return stored.clone();
        }
        let generation = self.generations.entry(record.subject.clone()).or_default();
        *generation += 1;
        record.generation = *generation;
        self.current.insert(record.subject.clone(), record.kid.clone());
        self.by_kid.insert(record.kid.clone(), record.clone());
        record
    }

    /// Adds a record read back from storage, as it was numbered.
    pub(crate) fn restore(&mut self, record: KeyRecord) {
        let generation = self.generations.entry(record.subject.clone()).or_default();
        if record.generation <= *generation && self.forgotten.get(&record.subject).is_some_and(|&t| t >= record.generation) {
            return; // destroyed later in the log
        }
        *generation = (*generation).max(record.generation);
        let newer = self.current.get(&record.subject).and_then(|k| self.by_kid.get(k)).is_none_or(|c| c.generation < record.generation);
        if newer {
            self.current.insert(record.subject.clone(), record.kid.clone());
        }
        self.by_kid.insert(record.kid.clone(), record);
    }

    pub(crate) fn forget(&mut self, subject: &str, through: Option<u32>) -> Destroyed {
        let through = through.unwrap_or_else(|| self.generations.get(subject).copied().unwrap_or(0));
        let mut kids: Vec<String> =
            self.by_kid.values().filter(|r| r.subject == subject && r.generation <= through).map(|r| r.kid.clone()).collect();
        kids.sort();
        for kid in &kids {
            self.by_kid.remove(kid);
        }
        if self.current.get(subject).is_some_and(|k| !self.by_kid.contains_key(k)) {
            self.current.remove(subject);
        }
        let mark = self.forgotten.entry(subject.to_owned()).or_default();
        *mark = (*mark).max(through);
        let generation = self.generations.entry(subject.to_owned()).or_default();
        *generation = (*generation).max(through);
        Destroyed { kids, through }
    }

    pub(crate) fn current(&self, subjects: &[String]) -> Vec<KeyRecord> {
        subjects.iter().filter_map(|s| self.current.get(s)).filter_map(|k| self.by_kid.get(k)).cloned().collect()
    }

    pub(crate) fn by_kid(&self, kids: &[String]) -> Vec<KeyRecord> {
        kids.iter().filter_map(|k| self.by_kid.get(k)).cloned().collect()
    }

    pub(crate) fn not_wrapped_by(&self, kek_id: &str, limit: usize) -> Vec<KeyRecord> {
        self.by_kid.values().filter(|r| r.kek_id != kek_id).take(limit).cloned().collect()
    }

    pub(crate) fn rewrap(&mut self, records: Vec<KeyRecord>) {
        for r in records {
            if let Some(stored) = self.by_kid.get_mut(&r.kid) {
                stored.wrapped = r.wrapped;
                stored.kek_id = r.kek_id;
            }
        }
    }

    pub(crate) fn counts(&self) -> KeyCounts {
        let mut by_kek = BTreeMap::new();
        for r in self.by_kid.values() {
            *by_kek.entry(r.kek_id.clone()).or_default() += 1;
        }
        KeyCounts { subjects: self.current.len() as u64, keys: self.by_kid.len() as u64, forgotten: self.forgotten.len() as u64, by_kek }
    }

    pub(crate) fn samples(&self) -> Vec<KeyRecord> {
        let mut seen = BTreeMap::new();
        for r in self.by_kid.values() {
            seen.entry(r.kek_id.clone()).or_insert_with(|| r.clone());
        }
        seen.into_values().collect()
    }

    pub(crate) fn forgotten(&self) -> Vec<(String, u32)> {
        self.forgotten.iter().map(|(s, t)| (s.clone(), *t)).collect()
    }

    /// Every live record.
    pub(crate) fn records(&self) -> Vec<KeyRecord> {
        self.by_kid.values().cloned().collect()
    }

    /// See [`KeyStore::import`].
    pub(crate) fn import(&mut self, records: Vec<KeyRecord>, forgotten: Vec<(String, u32)>) -> u64 {
        let mut added = 0;
        // Generations taken, gathered once (not a scan of every key per record).
        let mut numbered: std::collections::HashSet<(String, u32)> =
            self.by_kid.values().map(|k| (k.subject.clone(), k.generation)).collect();
        for r in records {
            let taken = self.by_kid.contains_key(&r.kid)
                || numbered.contains(&(r.subject.clone(), r.generation))
                || self.forgotten.get(&r.subject).is_some_and(|&t| t >= r.generation);
            if !taken {
                numbered.insert((r.subject.clone(), r.generation));
                self.restore(r);
                added += 1;
            }
        }
        for (subject, through) in forgotten {
            self.forget(&subject, Some(through));
        }
        added
    }

    /// Every live record, and the forgotten marks (what a file rewrite keeps).
    pub(crate) fn contents(&self) -> (Vec<&KeyRecord>, Vec<(&String, &u32)>) {
        let mut records: Vec<&KeyRecord> = self.by_kid.values().collect();
        records.sort_by(|a, b| (&a.subject, a.generation).cmp(&(&b.subject, b.generation)));
        let mut forgotten: Vec<_> = self.forgotten.iter().collect();
        forgotten.sort();
        (records, forgotten)
    }
}

/// Keys in memory only: gone with the process (tests, the memory backend).
#[derive(Debug, Default)]
pub struct MemoryKeys {
    table: Mutex<KeyTable>,
}

impl MemoryKeys {
    fn table(&self) -> std::sync::MutexGuard<'_, KeyTable> {
        self.table.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[async_trait]
impl KeyStore for MemoryKeys {
    fn describe(&self) -> String {
        "in memory".into()
    }
    async fn current(&self, subjects: &[String]) -> Result<Vec<KeyRecord>> {
        Ok(self.table().current(subjects))
    }
    async fn by_kid(&self, kids: &[String]) -> Result<Vec<KeyRecord>> {
        Ok(self.table().by_kid(kids))
    }
    async fn create(&self, records: Vec<KeyRecord>, rotate: bool) -> Result<Vec<KeyRecord>> {
        let mut table = self.table();
        Ok(records.into_iter().map(|r| table.insert(r, rotate)).collect())
    }
    async fn forget(&self, subject: &str, through: Option<u32>) -> Result<Destroyed> {
        Ok(self.table().forget(subject, through))
    }
    async fn not_wrapped_by(&self, kek_id: &str, limit: usize) -> Result<Vec<KeyRecord>> {
        Ok(self.table().not_wrapped_by(kek_id, limit))
    }
    async fn rewrap(&self, records: Vec<KeyRecord>) -> Result<()> {
        self.table().rewrap(records);
        Ok(())
    }
    async fn counts(&self) -> Result<KeyCounts> {
        Ok(self.table().counts())
    }
    async fn samples(&self) -> Result<Vec<KeyRecord>> {
        Ok(self.table().samples())
    }
    async fn forgotten(&self) -> Result<Vec<(String, u32)>> {
        Ok(self.table().forgotten())
    }
    async fn records(&self) -> Result<Vec<KeyRecord>> {
        Ok(self.table().records())
    }
    async fn import(&self, records: Vec<KeyRecord>, forgotten: Vec<(String, u32)>) -> Result<u64> {
        Ok(self.table().import(records, forgotten))
    }
}
