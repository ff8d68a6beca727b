//! `[retention]` of `chronicle.toml`, read and checked once: every error
//! names its key (`rules[2].max_age`).

use crate::{Result, RetentionError};
use chronicle_core::StreamId;
use std::time::Duration;

/// Age and count limits of a stream (`None`: unbounded).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Limits {
    /// Events recorded longer ago than this are removed.
    pub max_age: Option<Duration>,
    /// Only the newest `max_count` events are kept.
    pub max_count: Option<u64>,
}

impl Limits {
    /// Whether nothing is ever removed.
    pub fn is_unbounded(&self) -> bool {
        self.max_age.is_none() && self.max_count.is_none()
    }

    /// The stricter of both, limit by limit.
    pub fn stricter(self, other: Self) -> Self {
        fn min<T: Ord>(a: Option<T>, b: Option<T>) -> Option<T> {
            match (a, b) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            }
        }
        Self { max_age: min(self.max_age, other.max_age), max_count: min(self.max_count, other.max_count) }
    }
}

/// A stream-id pattern: `*` matches any run of characters (`tmp-*`,
/// `*-draft`, `order-*-archive`); anything else matches itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pattern(String);

impl Pattern {
    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `text` matches.
    pub fn matches(&self, text: &str) -> bool {
        let mut parts = self.0.split('*');
        let first = parts.next().unwrap_or_default();
        let Some(mut rest) = text.strip_prefix(first) else { return false };
        let parts: Vec<&str> = parts.collect();
        let Some((last, middle)) = parts.split_last() else { return rest.is_empty() };
        for part in middle {
            match rest.find(part) {
                Some(at) => rest = rest.get(at + part.len()..).unwrap_or_default(),
                None => return false,
            }
        }
        rest.len() >= last.len() && rest.ends_with(last)
    }
}

/// Which streams a rule binds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Selector {
    /// Streams of this category (the part before the first `-`).
    Category(String),
    /// Streams whose id matches.
    Streams(Pattern),
}

/// One `[[retention.rules]]` entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    /// Its name in reports and metrics: `name`, else `category=…` / `streams=…`.
    pub name: String,
    /// The streams it binds.
    pub selector: Selector,
    /// Its limits (at least one).
    pub limits: Limits,
}

impl Rule {
    /// Whether the rule binds `stream`.
    pub fn binds(&self, stream: &StreamId) -> bool {
        match &self.selector {
            Selector::Category(c) => stream.category() == c,
            Selector::Streams(p) => p.matches(stream.as_str()),
        }
    }
}

/// The whole `[retention]` table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetentionSettings {
    /// Limits of streams no rule binds (`default = "infinite"`: none).
    pub default: Limits,
    /// How often `chronicle serve` enforces (default 1 h).
    pub interval: Duration,
    /// The rules, in order.
    pub rules: Vec<Rule>,
    /// Events carrying any of these tags are never removed by an age or
    /// count rule (a kept event stops its stream's cut at itself).
    pub keep_tags: Vec<String>,
}

impl Default for RetentionSettings {
    fn default() -> Self {
        Self { default: Limits::default(), interval: Duration::from_secs(3600), rules: Vec::new(), keep_tags: Vec::new() }
    }
}

pub use chronicle_core::parse_duration;

const DURATION_HINT: &str = "expected a positive whole number and a unit: s, m, h, d or w (e.g. \"30d\")";

fn duration(field: &str, value: &toml::Value) -> Result<Duration> {
    value.as_str().and_then(parse_duration).ok_or_else(|| RetentionError::config(field, DURATION_HINT))
}

fn count(field: &str, value: &toml::Value) -> Result<u64> {
    value
        .as_integer()
        .and_then(|n| u64::try_from(n).ok())
        .filter(|n| *n > 0)
        .ok_or_else(|| RetentionError::config(field, "expected a count ≥ 1"))
}

fn text(field: &str, value: &toml::Value) -> Result<String> {
    value.as_str().filter(|s| !s.is_empty()).map(str::to_owned).ok_or_else(|| RetentionError::config(field, "expected a non-empty string"))
}

fn table<'a>(field: &str, value: &'a toml::Value, allowed: &[&str]) -> Result<&'a toml::Table> {
    let table = value.as_table().ok_or_else(|| RetentionError::config(field, "expected a table"))?;
    match table.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(unknown) => {
            Err(RetentionError::config(format!("{field}.{unknown}"), format!("unknown key (expected one of {})", allowed.join(", "))))
        }
        None => Ok(table),
    }
}

fn entries<'a>(field: &str, value: Option<&'a toml::Value>) -> Result<&'a [toml::Value]> {
    match value {
        None => Ok(&[]),
        Some(v) => {
            v.as_array().map(Vec::as_slice).ok_or_else(|| RetentionError::config(field, "expected an array of tables ([[retention.…]])"))
        }
    }
}

impl RetentionSettings {
    /// Reads `[retention]` (an empty table: nothing is ever removed).
    ///
    /// ```
    /// let table: toml::Table = toml::from_str(r#"
    ///     default = "90d"
    ///     [[rules]]
    ///     category = "telemetry"
    ///     max_count = 1000
    ///     [[keep]]
    ///     tags = ["legal-hold"]
    /// "#).unwrap();
    /// let settings = chronicle_retention::RetentionSettings::from_table(&table)?;
    /// let stream = chronicle_core::StreamId::new("telemetry-7")?;
    /// let (rule, limits) = settings.limits_for(&stream).expect("bound");
    /// assert_eq!((rule.as_str(), limits.max_count), ("category=telemetry", Some(1000)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_table(raw: &toml::Table) -> Result<Self> {
        let root = toml::Value::Table(raw.clone());
        let raw = table("retention", &root, &["default", "interval", "rules", "keep"])?;
        let mut settings = Self::default();
        if let Some(v) = raw.get("default") {
            settings.default = match v {
                toml::Value::String(s) if s == "infinite" => Limits::default(),
                toml::Value::String(_) => Limits { max_age: Some(duration("default", v)?), max_count: None },
                toml::Value::Integer(_) => Limits { max_age: None, max_count: Some(count("default", v)?) },
                _ => return Err(RetentionError::config("default", "expected \"infinite\", an age such as \"90d\", or a count")),
            };
        }
        if let Some(v) = raw.get("interval") {
            settings.interval = duration("interval", v)?;
        }
        for (i, entry) in entries("rules", raw.get("rules"))?.iter().enumerate() {
            settings.rules.push(rule(&format!("rules[{i}]"), entry)?);
        }
        for (i, entry) in entries("keep", raw.get("keep"))?.iter().enumerate() {
            let field = format!("keep[{i}]");
            let keep = table(&field, entry, &["tags"])?;
            let tags = keep
                .get("tags")
                .and_then(toml::Value::as_array)
                .ok_or_else(|| RetentionError::config(format!("{field}.tags"), "expected a list of tags"))?;
            for (j, tag) in tags.iter().enumerate() {
                settings.keep_tags.push(text(&format!("{field}.tags[{j}]"), tag)?);
            }
        }
        Ok(settings)
    }

    /// Whether any rule or the default can remove anything.
    pub fn is_active(&self) -> bool {
        !self.default.is_unbounded() || !self.rules.is_empty()
    }

    /// The limits binding `stream` and what set them: every rule that
    /// binds it (the stricter wins, named after the first), else the
    /// default; `None` when nothing does. System (`$`) streams are never
    /// bound.
    pub fn limits_for(&self, stream: &StreamId) -> Option<(String, Limits)> {
        if stream.as_str().starts_with('$') {
            return None;
        }
        let mut bound = self.rules.iter().filter(|r| r.binds(stream));
        let found = match bound.next() {
            Some(first) => Some((first.name.clone(), bound.fold(first.limits, |l, r| l.stricter(r.limits)))),
            None => (!self.default.is_unbounded()).then(|| ("default".to_owned(), self.default)),
        };
        found.filter(|(_, limits)| !limits.is_unbounded())
    }

    /// Whether an event with `tags` is kept whatever the limits say.
    pub fn keeps(&self, tags: &[String]) -> bool {
        tags.iter().any(|t| self.keep_tags.contains(t))
    }
}

fn rule(field: &str, entry: &toml::Value) -> Result<Rule> {
    let raw = table(field, entry, &["name", "category", "streams", "max_age", "max_count"])?;
    let selector = match (raw.get("category"), raw.get("streams")) {
        (Some(c), None) => Selector::Category(text(&format!("{field}.category"), c)?),
        (None, Some(p)) => Selector::Streams(Pattern(text(&format!("{field}.streams"), p)?)),
        _ => return Err(RetentionError::config(field, "needs exactly one of category or streams")),
    };
    let limits = Limits {
        max_age: raw.get("max_age").map(|v| duration(&format!("{field}.max_age"), v)).transpose()?,
        max_count: raw.get("max_count").map(|v| count(&format!("{field}.max_count"), v)).transpose()?,
    };
    if limits.is_unbounded() {
        return Err(RetentionError::config(field, "needs max_age and/or max_count"));
    }
    let name = match (raw.get("name"), &selector) {
        (Some(n), _) => text(&format!("{field}.name"), n)?,
        (None, Selector::Category(c)) => format!("category={c}"),
        (None, Selector::Streams(p)) => format!("streams={}", p.as_str()),
    };
    Ok(Rule { name, selector, limits })
}

#[cfg(test)]
#[path = "settings_tests.rs"]
mod tests;
