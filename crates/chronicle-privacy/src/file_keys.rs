//! [`FileKeys`]: the file backend's key store, `{data_dir}/keys/keys.log`
//! — one JSON line per new key or forget, fdatasync'd before a key is
//! used. A forget or a KEK rotation rewrites the whole file (temporary
//! file, fsync, rename, directory fsync), so a destroyed key leaves our
//! files at once (what the file system keeps of freed blocks is out of
//! reach: use disk encryption for that). A torn last line (a crash while
//! writing) is a key never handed out: it is dropped on open.

use crate::{
    PrivacyError, Result,
    keystore::{Destroyed, KeyCounts, KeyRecord, KeyStore, KeyTable},
};
use chronicle_core::async_trait;
use serde::{Deserialize, Serialize};
use std::{
    fs::{File, OpenOptions},
    io::{BufRead, BufReader, Write},
    path::{Path, PathBuf},
    sync::{Arc, Mutex, MutexGuard, PoisonError},
};

const LOG: &str = "keys.log";

/// One line of the key log.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Line {
    Key(KeyRecord),
    Forget { subject: String, through: u32 },
}

/// Keys in `{dir}/keys.log`. A writable one belongs to the process that
/// holds the store's lock; a read-only one re-reads the file when it
/// changed and a key is missing.
#[derive(Debug, Clone)]
pub struct FileKeys {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    dir: PathBuf,
    writable: bool,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    table: KeyTable,
    /// Bytes of the log read (a read-only store re-reads past them).
    len: u64,
}

impl FileKeys {
    /// Opens (creating when `writable`) the key store in `dir`.
    pub fn open(dir: &Path, writable: bool) -> Result<Self> {
        if writable {
            std::fs::create_dir_all(dir).map_err(|e| PrivacyError::key_store(dir.display().to_string(), e))?;
        }
        let (table, len) = load(&dir.join(LOG), writable)?;
        Ok(Self { inner: Arc::new(Inner { dir: dir.to_owned(), writable, state: Mutex::new(State { table, len }) }) })
    }

    fn path(&self) -> PathBuf {
        self.inner.dir.join(LOG)
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.inner.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn err(&self, e: impl std::fmt::Display) -> PrivacyError {
        PrivacyError::key_store(self.path().display().to_string(), e)
    }

    fn writable(&self) -> Result<()> {
        match self.inner.writable {
            true => Ok(()),
            false => Err(self.err("opened read-only (another process writes this store)")),
        }
    }

    /// Re-reads the log if it grew or was rewritten (read-only stores).
    fn refresh(&self) -> Result<()> {
        if self.inner.writable {
            return Ok(());
        }
        let len = std::fs::metadata(self.path()).map(|m| m.len()).unwrap_or(0);
        let mut state = self.state();
        if len != state.len {
            let (table, len) = load(&self.path(), false)?;
            *state = State { table, len };
        }
        Ok(())
    }

    /// `look` in the table; a read-only store that finds fewer than
    /// `wanted` reads the log again first (another process may have added them).
    fn find(&self, wanted: usize, look: impl Fn(&KeyTable) -> Vec<KeyRecord>) -> Result<Vec<KeyRecord>> {
        let found = look(&self.state().table);
        if found.len() < wanted && !self.inner.writable {
            self.refresh()?;
            return Ok(look(&self.state().table));
        }
        Ok(found)
    }

    /// Runs `f` on the table, then appends the lines it returns and
    /// syncs. Should the write fail, the file is cut back and the table
    /// read again from it (what is on disk is the truth).
    async fn append<T: Send + 'static>(&self, f: impl FnOnce(&mut KeyTable) -> (T, Vec<Line>) + Send + 'static) -> Result<T> {
        self.writable()?;
        let this = self.clone();
        run_blocking(move || {
            let mut state = this.state();
            let (out, lines) = f(&mut state.table);
            let mut text = Vec::new();
            for line in &lines {
                serde_json::to_writer(&mut text, line).map_err(|e| this.err(e))?;
                text.push(b'\n');
            }
            let written = OpenOptions::new()
                .create(true)
                .append(true)
                .open(this.path())
                .and_then(|mut file| file.write_all(&text).and_then(|()| file.sync_data()).map(|()| file));
            match written {
                Ok(_) => {
                    state.len += text.len() as u64;
                    Ok(out)
                }
                Err(e) => {
                    if let Ok(file) = OpenOptions::new().write(true).open(this.path()) {
                        let _ = file.set_len(state.len).and_then(|()| file.sync_data());
                    }
                    state.table = load(&this.path(), false).map(|(table, _)| table).unwrap_or_default();
                    Err(this.err(e))
                }
            }
        })
        .await
    }

    /// Runs `f` on the table, then writes the whole table anew.
    async fn rewrite<T: Send + 'static>(&self, f: impl FnOnce(&mut KeyTable) -> T + Send + 'static) -> Result<T> {
        self.writable()?;
        let this = self.clone();
        run_blocking(move || {
            let mut state = this.state();
            let mut table = state.table.clone();
            let out = f(&mut table);
            let len = write_whole(&this.inner.dir, &table).map_err(|e| this.err(e))?;
            *state = State { table, len };
            Ok(out)
        })
        .await
    }
}

async fn run_blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f).await.map_err(|e| PrivacyError::key_store("keys", e))?
}

fn load(path: &Path, writable: bool) -> Result<(KeyTable, u64)> {
    let err = |e: &dyn std::fmt::Display| PrivacyError::key_store(path.display().to_string(), e);
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((KeyTable::default(), 0)),
        Err(e) => return Err(err(&e)),
    };
    let (mut table, mut good, mut reader) = (KeyTable::default(), 0u64, BufReader::new(file));
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = reader.read_until(b'\n', &mut line).map_err(|e| err(&e))?;
        if n == 0 {
            break;
        }
        let complete = line.last() == Some(&b'\n');
        match serde_json::from_slice::<Line>(&line) {
            Ok(Line::Key(record)) if complete => table.restore(record),
            Ok(Line::Forget { subject, through }) if complete => {
                table.forget(&subject, Some(through));
            }
            _ if reader.fill_buf().map(|b| b.is_empty()).unwrap_or(false) => break, // a torn last line
            _ => return Err(err(&format!("line at byte {good} is not a key record"))),
        }
        good += n as u64;
    }
    if writable {
        let file = OpenOptions::new().write(true).open(path).map_err(|e| err(&e))?;
        if file.metadata().map_err(|e| err(&e))?.len() > good {
            file.set_len(good).and_then(|()| file.sync_data()).map_err(|e| err(&e))?;
        }
    }
    Ok((table, good))
}

/// Writes `table` as the whole log (temporary file, sync, rename, sync the
/// directory); returns its length.
fn write_whole(dir: &Path, table: &KeyTable) -> std::io::Result<u64> {
    let (records, forgotten) = table.contents();
    let mut text = Vec::new();
    for (subject, through) in forgotten {
        serde_json::to_writer(&mut text, &Line::Forget { subject: subject.clone(), through: *through })?;
        text.push(b'\n');
    }
    for r in records {
        serde_json::to_writer(&mut text, &Line::Key(r.clone()))?;
        text.push(b'\n');
    }
    let tmp = dir.join("keys.log.tmp");
    let mut file = File::create(&tmp)?;
    file.write_all(&text)?;
    file.sync_all()?;
    std::fs::rename(&tmp, dir.join(LOG))?;
    File::open(dir)?.sync_all()?;
    Ok(text.len() as u64)
}

#[async_trait]
impl KeyStore for FileKeys {
    fn describe(&self) -> String {
        self.path().display().to_string()
    }
    fn read_only(&self) -> bool {
        !self.inner.writable
    }
    async fn current(&self, subjects: &[String]) -> Result<Vec<KeyRecord>> {
        self.find(subjects.len(), |table| table.current(subjects))
    }
    async fn by_kid(&self, kids: &[String]) -> Result<Vec<KeyRecord>> {
        self.find(kids.len(), |table| table.by_kid(kids))
    }
    async fn create(&self, records: Vec<KeyRecord>, rotate: bool) -> Result<Vec<KeyRecord>> {
        self.append(move |table| {
            let mut lines = Vec::new();
            let stored = records
                .into_iter()
                .map(|r| {
                    let kid = r.kid.clone();
                    let stored = table.insert(r, rotate);
                    if stored.kid == kid {
                        lines.push(Line::Key(stored.clone()));
                    }
                    stored
                })
                .collect();
            (stored, lines)
        })
        .await
    }
    async fn forget(&self, subject: &str, through: Option<u32>) -> Result<Destroyed> {
        let subject = subject.to_owned();
        self.rewrite(move |table| table.forget(&subject, through)).await
    }
    async fn not_wrapped_by(&self, kek_id: &str, limit: usize) -> Result<Vec<KeyRecord>> {
        self.refresh()?;
        Ok(self.state().table.not_wrapped_by(kek_id, limit))
    }
    async fn rewrap(&self, records: Vec<KeyRecord>) -> Result<()> {
        self.rewrite(move |table| table.rewrap(records)).await
    }
    async fn counts(&self) -> Result<KeyCounts> {
        self.refresh()?;
        Ok(self.state().table.counts())
    }
    async fn samples(&self) -> Result<Vec<KeyRecord>> {
        Ok(self.state().table.samples())
    }
    async fn forgotten(&self) -> Result<Vec<(String, u32)>> {
        self.refresh()?;
        Ok(self.state().table.forgotten())
    }
    async fn records(&self) -> Result<Vec<KeyRecord>> {
        self.refresh()?;
        Ok(self.state().table.records())
    }
    async fn import(&self, records: Vec<KeyRecord>, forgotten: Vec<(String, u32)>) -> Result<u64> {
        self.rewrite(move |table| table.import(records, forgotten)).await
    }
}
