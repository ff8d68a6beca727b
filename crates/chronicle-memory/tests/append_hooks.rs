//! The append pipeline's hook point and the schema check on the memory store.

use chronicle_memory::MemoryStore;

async fn store(pipeline: chronicle_core::AppendPipeline) -> Option<MemoryStore> {
    Some(MemoryStore::with_pipeline(pipeline))
}

chronicle_testkit::hooks_conformance!(store);
chronicle_testkit::schema_conformance!(store);
chronicle_testkit::privacy_conformance!(store);
