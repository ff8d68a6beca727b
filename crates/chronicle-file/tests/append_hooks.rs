//! The append pipeline's hook point and the schema check on the file store.

use chronicle_file::{FileOptions, FileStore};

async fn store(pipeline: chronicle_core::AppendPipeline) -> Option<FileStore> {
    Some(FileStore::open_temporary(FileOptions { pipeline, ..FileOptions::default() }).expect("open a temporary store"))
}

chronicle_testkit::hooks_conformance!(store);
chronicle_testkit::schema_conformance!(store);
chronicle_testkit::privacy_conformance!(store);
