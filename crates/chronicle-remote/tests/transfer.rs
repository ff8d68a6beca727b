//! Export and import through a server (`GET /admin/export`,
//! `POST /admin/import`): the shared transfer cases with the remote client
//! on a file store, so backups, restores and migrations work with
//! `CHRONICLE_BACKEND=remote`.

mod common;

use chronicle_file::{FileOptions, FileStore};
use std::sync::Arc;

chronicle_testkit::transfer_conformance!(|| async {
    let file =
        FileStore::open_temporary(FileOptions { segment_size_bytes: 64 * 1024, ..FileOptions::default() }).expect("open a temporary store");
    Some(common::served(Arc::new(file)).await)
});
