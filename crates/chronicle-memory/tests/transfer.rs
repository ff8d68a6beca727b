//! Export and import (backup, restore, migration) on the memory backend.

chronicle_testkit::transfer_conformance!(|| async { Some(chronicle_memory::MemoryStore::new()) });
