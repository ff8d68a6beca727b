//! Copying a store's data keys to another store's key store, so a copy of
//! the events (`chronicle migrate`, `chronicle upcast --apply`) reads
//! like the original: every live key, re-wrapped under the target's KEK
//! when the target does not hold the source's, and every forgotten mark
//! (a subject forgotten in the source stays forgotten in the copy).

use crate::{KEK_CHECK_SUBJECT, Keyring, Result};
use serde::Serialize;

/// What [`Keyring::copy_keys_to`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct KeysCopied {
    /// Live keys in the source (the check key not counted).
    pub keys: u64,
    /// Keys added to the target (the others were there already).
    pub added: u64,
    /// Keys re-wrapped because the target's KEKs do not include the one
    /// that wrapped them in the source.
    pub rewrapped: u64,
    /// Forgotten marks carried over.
    pub forgotten: u64,
}

impl Keyring {
    /// Copies this keyring's stored keys and forgotten marks into
    /// `target`'s key store. Idempotent: a rerun adds only what is new
    /// (what `migrate --follow` does once a second).
    pub async fn copy_keys_to(&self, target: &Keyring) -> Result<KeysCopied> {
        let (source, into) = (self.store()?, target.store()?);
        let mut records = source.records().await?;
        records.retain(|r| r.subject != KEK_CHECK_SUBJECT);
        let forgotten = source.forgotten().await?;
        let mut report = KeysCopied { keys: records.len() as u64, forgotten: forgotten.len() as u64, ..KeysCopied::default() };
        let kek = target.provider().current();
        for r in &mut records {
            if target.provider().find(&r.kek_id).is_none() {
                self.rewrap_under(r, &kek)?;
                report.rewrapped += 1;
            }
        }
        let subjects: Vec<String> = forgotten.iter().map(|(s, _)| s.clone()).collect();
        report.added = into.import(records, forgotten).await?;
        target.forget_missing();
        subjects.iter().for_each(|s| target.evict(s));
        Ok(report)
    }
}
