//! # chronicle-privacy
//!
//! Field-level envelope encryption for Chronicle: fields marked per event
//! type ([`FieldRule`], `[privacy]` in `chronicle.toml`) are sealed with
//! the data key of the event's **subject** (the person the data belongs
//! to) before the backend sees them ([`Sealer`], stage 4 of the append
//! pipeline); data keys are wrapped by a key-encryption key
//! ([`KeyProvider`]) and kept outside the event log ([`KeyStore`]).
//! Reads reveal by clearance ([`PrivateStore`], [`Revealer`]): decrypted,
//! masked as `"***"`, or — once [`Privacy::forget`] destroyed the
//! subject's keys — `{"$erased": true}` for everyone, in every copy of
//! the log, backups included.
//!
//! ```
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! use chronicle_core::{EventStore, ExpectedVersion, NewEvent, ReadStream, StreamId};
//! use chronicle_privacy::{Clearance, FieldRule, Kek, Keyring, MemoryKeys, Policy, Privacy, StaticKeys};
//! use std::sync::Arc;
//!
//! let policy = Policy::new(vec![FieldRule::new("CustomerRegistered", "/id").encrypt(["/email"])]).unwrap();
//! let (_, kek) = Kek::generate().unwrap();
//! let privacy = Privacy::new(policy, Keyring::new(Arc::new(StaticKeys::new(kek, vec![]))));
//! let pipeline = chronicle_core::AppendPipeline::default().with_sealer(privacy.sealer());
//! let raw: Arc<dyn EventStore> = Arc::new(chronicle_memory::MemoryStore::with_pipeline(pipeline));
//! privacy.attach(Arc::new(MemoryKeys::default())).await.unwrap();
//!
//! let s = StreamId::new("customer-7").unwrap();
//! raw.append(&s, ExpectedVersion::Any, vec![NewEvent::raw("CustomerRegistered", &br#"{"id":"c7","email":"ann@example.com"}"#[..])]).await.unwrap();
//! let stored = raw.read_stream(&s, ReadStream::forward()).await.unwrap();
//! assert!(!String::from_utf8_lossy(stored[0].data.as_bytes()).contains("ann@"));
//!
//! let clear = privacy.reader(raw.clone(), Clearance::Clear, "app");
//! let read = clear.read_stream(&s, ReadStream::forward()).await.unwrap();
//! assert_eq!(read[0].data.to_value().unwrap()["email"], "ann@example.com");
//! let masked = privacy.reader(raw.clone(), Clearance::Masked, "guest");
//! assert_eq!(masked.read_stream(&s, ReadStream::forward()).await.unwrap()[0].data.to_value().unwrap()["email"], "***");
//!
//! privacy.forget(&*raw, "c7", "admin").await.unwrap();
//! let read = clear.read_stream(&s, ReadStream::forward()).await.unwrap();
//! assert_eq!(read[0].data.to_value().unwrap()["email"], serde_json::json!({"$erased": true}));
//! # });
//! ```
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::indexing_slicing))]

pub mod audit;
pub mod envelope;
mod error;
mod file_keys;
mod kek;
mod key_copy;
mod keyring;
mod keystore;
#[cfg(feature = "postgres")]
mod pg_keys;
mod policy;
mod privacy;
mod private_store;
mod reveal;
mod seal;
mod seal_raw;
mod splice;

pub use audit::{Action, CryptoRecord};
pub use envelope::DataKey;
pub use error::{PrivacyError, Result};
pub use file_keys::FileKeys;
pub use kek::{KEK_ENV, Kek, KeyProvider, StaticKeys};
pub use key_copy::KeysCopied;
pub use keyring::{KEK_CHECK_SUBJECT, KeyStatus, Keyring};
pub use keystore::{Destroyed, KeyCounts, KeyRecord, KeyStore, KeyTable, MemoryKeys};
#[cfg(feature = "postgres")]
pub use pg_keys::PgKeys;
pub use policy::{ENCRYPTED_MEMBER, FieldRule, INDEXED_METADATA, Policy, PrivacySettings};
pub use privacy::{Forgotten, KEK_ROTATED, PRIVACY_STREAM, Privacy, SUBJECT_FORGOTTEN, SUBJECT_KEY_ROTATED};
pub use private_store::PrivateStore;
pub use reveal::{Clearance, Revealer};
pub use seal::{Sealer, caller};
