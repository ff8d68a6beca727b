//! The conformance suite and model-based test through the remote client,
//! against a server on the file engine.

mod common;

use chronicle_file::{FileOptions, FileStore};
use std::sync::Arc;

chronicle_testkit::conformance_suite!(|| async {
    let file =
        FileStore::open_temporary(FileOptions { segment_size_bytes: 64 * 1024, ..FileOptions::default() }).expect("open a temporary store");
    common::served(Arc::new(file)).await
});
