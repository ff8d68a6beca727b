//! The append pipeline's hook point on the file store.

use chronicle_file::{FileOptions, FileStore};

chronicle_testkit::hooks_conformance!(|pipeline| async move {
    Some(FileStore::open_temporary(FileOptions { pipeline, ..FileOptions::default() }).expect("open a temporary store"))
});
