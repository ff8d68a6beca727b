//! The seed-004 event versions: OrderCreated v1 `{total}`, v2 adds
//! `currency` (default "USD"), v3 adds `taxAmount` and `taxRate` (default
//! 0) — their JSON Schemas as files and a `[schemas]` section naming them.

use serde_json::{Value, json};
use std::path::Path;

/// The JSON Schema of a version requiring `required`.
pub fn schema(required: &[&str]) -> Value {
    json!({"type": "object", "required": required, "properties": {
        "total": {"type": "number"}, "currency": {"type": "string"}, "taxAmount": {"type": "number"}, "taxRate": {"type": "number", "minimum": 0}
    }})
}

/// Writes `schemas/v{1,2,3}.json` into `dir`; returns the `[schemas]`
/// section naming them (absolute paths) with the v1→v2→v3 upcasters.
pub fn write(dir: &Path) -> String {
    std::fs::create_dir_all(dir.join("schemas")).unwrap();
    let mut toml = String::from("[schemas]\nmode = \"enforce\"\n");
    for (v, required) in [(1, vec!["total"]), (2, vec!["total", "currency"]), (3, vec!["total", "currency", "taxAmount", "taxRate"])] {
        let file = dir.join(format!("schemas/v{v}.json"));
        std::fs::write(&file, schema(&required).to_string()).unwrap();
        toml += &format!("\n[[schemas.registry]]\nevent_type = \"OrderCreated\"\nversion = {v}\nfile = {:?}\n", file.display().to_string());
    }
    toml += r#"
[[schemas.upcasters]]
event_type = "OrderCreated"
from = 1
to = 2
steps = [{ op = "set", path = "/currency", value = "USD" }]

[[schemas.upcasters]]
event_type = "OrderCreated"
from = 2
to = 3
steps = [{ op = "set", path = "/taxAmount", value = 0 }, { op = "set", path = "/taxRate", value = 0 }]
"#;
    toml
}

/// Data of an event stored at `version`.
pub fn data(version: u32, total: u64) -> Value {
    match version {
        1 => json!({"total": total}),
        2 => json!({"total": total, "currency": "EUR"}),
        _ => json!({"total": total, "currency": "USD", "taxAmount": 1, "taxRate": 0.2}),
    }
}
