//! The append pipeline's hook point through the remote backend: the hook
//! runs in the served store and sees the principal of the client's token.

mod common;

use chronicle_file::{FileOptions, FileStore};
use chronicle_server::auth::{Role, TokenEntry};
use std::sync::Arc;

async fn store(pipeline: chronicle_core::AppendPipeline) -> Option<chronicle_remote::RemoteStore> {
    let file = FileStore::open_temporary(FileOptions { pipeline, ..FileOptions::default() }).expect("open a temporary store");
    let (secret, entry) = TokenEntry::generate(chronicle_testkit::hooks::TOKEN_ID, Role::Writer).expect("a token");
    Some(common::served_with_tokens(Arc::new(file), &[entry], &secret).await)
}

chronicle_testkit::hooks_conformance!(store);
// Admin: the schema cases also append to a system stream (a writer may not).
chronicle_testkit::schema_conformance!(admin_store);

/// An admin token (the privacy cases also export the log; the schema
/// cases write a system stream).
async fn admin_store(pipeline: chronicle_core::AppendPipeline) -> Option<chronicle_remote::RemoteStore> {
    let file = FileStore::open_temporary(FileOptions { pipeline, ..FileOptions::default() }).expect("open a temporary store");
    let (secret, entry) = TokenEntry::generate("conformance-admin", Role::Admin).expect("a token");
    Some(common::served_with_tokens(Arc::new(file), &[entry], &secret).await)
}

chronicle_testkit::privacy_conformance!(admin_store);
