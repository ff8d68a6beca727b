//! The shared conformance suite and model-based test, on the memory backend.

chronicle_testkit::conformance_suite!(|| async { chronicle_memory::MemoryStore::new() });
