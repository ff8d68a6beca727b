//! The conformance suite and the model-based test through a tenant's view
//! of the memory store (`TenantStore`): renaming streams, masking event
//! ids and scoping filters, conditions, listings and checkpoints keeps
//! every guarantee of the store. (A tenant's view reports no metrics —
//! they span tenants —, so the suite runs with the store's passed through.)

use chronicle_core::TenantStore;
use chronicle_memory::MemoryStore;
use std::sync::Arc;

fn tenant() -> TenantStore {
    TenantStore::new(Arc::new(MemoryStore::new()), "acme").with_store_metrics()
}

chronicle_testkit::conformance_suite!(|| async { tenant() });
