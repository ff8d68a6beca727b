//! The append pipeline's hook point on the memory store.

use chronicle_memory::MemoryStore;

chronicle_testkit::hooks_conformance!(|pipeline| async move { Some(MemoryStore::with_pipeline(pipeline)) });
