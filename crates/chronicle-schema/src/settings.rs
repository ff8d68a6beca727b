//! `[schemas]` of `chronicle.toml`: the check's mode, what happens to
//! unknown types, schema files and declarative upcasters.
//!
//! ```toml
//! [schemas]
//! mode = "enforce"            # off | warn | enforce (the default)
//! unknown = "allow"           # allow (the default) | reject
//!
//! [[schemas.registry]]
//! event_type = "OrderCreated"
//! version = 3
//! file = "schemas/order-created.v3.json"
//!
//! [[schemas.upcasters]]
//! event_type = "OrderCreated"
//! from = 1
//! to = 2
//! steps = [{ op = "set", path = "/currency", value = "USD" }]
//! ```

use crate::{Catalog, Mode, Result, SchemaError, Step, Unknown};
use serde::Deserialize;
use std::{
    path::{Path, PathBuf},
    sync::Arc,
};

/// One schema file.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SchemaFile {
    /// The event type.
    pub event_type: String,
    /// Its schema version (from 1).
    pub version: u32,
    /// The JSON Schema file (a relative path starts from the working directory, like `data_dir`).
    pub file: PathBuf,
}

/// One declared upcaster.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpcasterDecl {
    /// The event type.
    pub event_type: String,
    /// The version it lifts from.
    pub from: u32,
    /// The version it lifts to (above `from`).
    pub to: u32,
    /// What it does, in order.
    pub steps: Vec<Step>,
}

/// The typed `[schemas]` section.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SchemaSettings {
    /// The check's mode.
    pub mode: Mode,
    /// Unknown types.
    pub unknown: Unknown,
    /// Schema files.
    pub registry: Vec<SchemaFile>,
    /// Declared upcasters.
    pub upcasters: Vec<UpcasterDecl>,
}

impl SchemaSettings {
    /// Types the raw section (every mistake named by its key).
    pub fn from_table(raw: &toml::Table) -> Result<Self> {
        toml::Value::Table(raw.clone()).try_into().map_err(|e: toml::de::Error| SchemaError::invalid("schemas", e.message().to_owned()))
    }

    /// Whether the section asks for anything (an empty one costs nothing).
    pub fn is_active(&self) -> bool {
        self != &Self::default()
    }

    /// The catalog: every schema file read and compiled, every upcaster
    /// checked; relative files are taken from `base`. Each mistake names
    /// its entry (`schemas.registry[2].file: …`).
    pub fn catalog(&self, base: &Path) -> Result<Arc<Catalog>> {
        let catalog = Catalog::new(self.mode, self.unknown);
        for (i, entry) in self.registry.iter().enumerate() {
            let field = format!("schemas.registry[{i}]");
            let path = if entry.file.is_absolute() { entry.file.clone() } else { base.join(&entry.file) };
            let text = std::fs::read_to_string(&path)
                .map_err(|e| SchemaError::invalid(format!("{field}.file"), format!("cannot read {}: {e}", path.display())))?;
            let schema = serde_json::from_str(&text)
                .map_err(|e| SchemaError::invalid(format!("{field}.file"), format!("{} is not JSON: {e}", path.display())))?;
            catalog.register_schema(&entry.event_type, entry.version, schema).map_err(|e| in_entry(&field, e))?;
        }
        for (i, u) in self.upcasters.iter().enumerate() {
            catalog
                .register_steps(&u.event_type, u.from, u.to, u.steps.clone())
                .map_err(|e| in_entry(&format!("schemas.upcasters[{i}]"), e))?;
        }
        Ok(Arc::new(catalog))
    }
}

fn in_entry(entry: &str, e: SchemaError) -> SchemaError {
    match e {
        SchemaError::Invalid { field, reason } => SchemaError::invalid(format!("{entry}.{field}"), reason),
        other => SchemaError::invalid(entry, other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_section_loads_files_and_names_each_mistake() {
        let dir = std::env::temp_dir().join(format!("chronicle-schema-settings-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("a.json"), r#"{"type": "object", "required": ["total"]}"#).unwrap();
        let text = r#"
            mode = "warn"
            [[registry]]
            event_type = "OrderCreated"
            version = 1
            file = "a.json"
            [[upcasters]]
            event_type = "OrderCreated"
            from = 1
            to = 2
            steps = [{ op = "set", path = "/currency", value = "USD" }]
        "#;
        let settings = SchemaSettings::from_table(&toml::from_str(text).unwrap()).unwrap();
        assert_eq!(settings.mode, Mode::Warn);
        let catalog = settings.catalog(&dir).unwrap();
        assert_eq!(catalog.schemas().versions("OrderCreated"), vec![1]);
        assert!(catalog.upcasts());
        let missing =
            SchemaSettings { registry: vec![SchemaFile { file: "nope.json".into(), ..settings.registry[0].clone() }], ..settings.clone() };
        assert!(matches!(missing.catalog(&dir).unwrap_err(), SchemaError::Invalid { field, .. } if field == "schemas.registry[0].file"));
        let backwards = UpcasterDecl { from: 2, to: 1, ..settings.upcasters[0].clone() };
        let bad = SchemaSettings { upcasters: vec![backwards], ..settings };
        assert!(matches!(bad.catalog(&dir).unwrap_err(), SchemaError::Invalid { field, .. } if field == "schemas.upcasters[0].to"));
        assert!(SchemaSettings::from_table(&toml::from_str("mode = \"strict\"").unwrap()).is_err());
        assert!(SchemaSettings::from_table(&toml::from_str("typo = 1").unwrap()).is_err());
        std::fs::remove_dir_all(dir).unwrap();
    }
}
