//! The conformance suite and the model-based test through a tenant's view
//! of the file store (`TenantStore`): tenant-prefixed stream ids, masked
//! event ids and scoped filters keep every guarantee of the engine.

use chronicle_core::TenantStore;
use chronicle_file::{FileOptions, FileStore};
use std::sync::Arc;

chronicle_testkit::conformance_suite!(|| async {
    let file =
        FileStore::open_temporary(FileOptions { segment_size_bytes: 64 * 1024, ..FileOptions::default() }).expect("open a temporary store");
    TenantStore::new(Arc::new(file), "acme").with_store_metrics()
});
