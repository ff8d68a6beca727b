//! The shared conformance suite and model-based test, on the file engine
//! (each test in its own temporary directory, with small segments so that
//! sealing and rolling over are exercised).

use chronicle_file::{FileOptions, FileStore};

chronicle_testkit::conformance_suite!(|| async {
    FileStore::open_temporary(FileOptions { segment_size_bytes: 64 * 1024, ..FileOptions::default() }).expect("open a temporary store")
});
