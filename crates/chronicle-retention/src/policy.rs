//! The policy in force, as operators read it (`chronicle stats`, JSON):
//! durations written back the way `chronicle.toml` spells them.

use crate::{Limits, RetentionSettings, Selector};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// One rule as written.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyRule {
    /// Its name in reports and metrics.
    pub name: String,
    /// The category it binds, if it binds one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// The stream pattern it binds, if it binds one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub streams: Option<String>,
    /// Age limit (`30d`), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_age: Option<String>,
    /// Count limit, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_count: Option<u64>,
}

/// The whole policy as written.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policy {
    /// `infinite`, an age (`90d`) or a count (`1000`).
    pub default: String,
    /// How often `chronicle serve` enforces (`1h`).
    pub interval: String,
    /// The rules, in order.
    pub rules: Vec<PolicyRule>,
    /// Tags that keep an event.
    pub keep_tags: Vec<String>,
}

/// `d` written with the largest unit that divides it (`30d`, `90m`, `45s`).
///
/// ```
/// use std::time::Duration;
/// assert_eq!(chronicle_retention::format_duration(Duration::from_secs(30 * 86_400)), "30d");
/// assert_eq!(chronicle_retention::format_duration(Duration::from_secs(5400)), "90m");
/// ```
pub fn format_duration(d: Duration) -> String {
    let secs = d.as_secs();
    let units = [(7 * 86_400, "w"), (86_400, "d"), (3_600, "h"), (60, "m")];
    match units.iter().find(|(n, _)| secs > 0 && secs.is_multiple_of(*n)) {
        Some((n, unit)) => format!("{}{unit}", secs / n),
        None => format!("{secs}s"),
    }
}

fn limits_text(limits: &Limits) -> String {
    match (limits.max_age, limits.max_count) {
        (None, None) => "infinite".to_owned(),
        (Some(age), None) => format_duration(age),
        (None, Some(count)) => count.to_string(),
        (Some(age), Some(count)) => format!("{} or {count} events", format_duration(age)),
    }
}

impl RetentionSettings {
    /// The policy as written, for display.
    pub fn policy(&self) -> Policy {
        let rules = self
            .rules
            .iter()
            .map(|r| {
                let (category, streams) = match &r.selector {
                    Selector::Category(c) => (Some(c.clone()), None),
                    Selector::Streams(p) => (None, Some(p.as_str().to_owned())),
                };
                PolicyRule {
                    name: r.name.clone(),
                    category,
                    streams,
                    max_age: r.limits.max_age.map(format_duration),
                    max_count: r.limits.max_count,
                }
            })
            .collect();
        Policy { default: limits_text(&self.default), interval: format_duration(self.interval), rules, keep_tags: self.keep_tags.clone() }
    }

    /// The policy in one line: `default 90d; category=telemetry: 30d; keep tags legal-hold; every 1h`.
    pub fn summary(&self) -> String {
        if !self.is_active() {
            return "none (nothing is ever removed)".to_owned();
        }
        let mut parts = vec![format!("default {}", limits_text(&self.default))];
        parts.extend(self.rules.iter().map(|r| format!("{}: {}", r.name, limits_text(&r.limits))));
        if !self.keep_tags.is_empty() {
            parts.push(format!("keep tags {}", self.keep_tags.join(", ")));
        }
        parts.push(format!("every {}", format_duration(self.interval)));
        parts.join("; ")
    }
}
