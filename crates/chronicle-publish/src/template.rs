//! Subject / routing-key templates: literal text with `{category}`,
//! `{event_type}` and `{stream_id}` placeholders.

use chronicle_core::RecordedEvent;

#[derive(Clone, Debug, PartialEq, Eq)]
enum Part {
    Text(String),
    Category,
    EventType,
    StreamId,
}

/// A parsed template.
///
/// ```
/// use chronicle_publish::Template;
/// let t = Template::parse("chronicle.{category}.{event_type}").unwrap();
/// assert_eq!(t.render_parts("order", "Order Placed", "order-1"), "chronicle.order.Order_Placed");
/// assert!(Template::parse("chronicle.{tenant}").is_err());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Template {
    source: String,
    parts: Vec<Part>,
}

impl Template {
    /// Parses `source`; an error names the unknown placeholder or the
    /// unbalanced brace.
    pub fn parse(source: &str) -> Result<Self, String> {
        if source.is_empty() {
            return Err("must not be empty".into());
        }
        let mut parts = Vec::new();
        let mut rest = source;
        while let Some(open) = rest.find(['{', '}']) {
            let (text, tail) = rest.split_at(open);
            if !text.is_empty() {
                parts.push(Part::Text(text.to_owned()));
            }
            if tail.starts_with('}') {
                return Err(format!("unbalanced '}}' in {source:?}"));
            }
            let close = tail.find('}').ok_or_else(|| format!("unclosed '{{' in {source:?}"))?;
            let name = tail.get(1..close).unwrap_or_default();
            parts.push(match name {
                "category" => Part::Category,
                "event_type" => Part::EventType,
                "stream_id" => Part::StreamId,
                other => return Err(format!("unknown placeholder {{{other}}}; expected {{category}}, {{event_type}} or {{stream_id}}")),
            });
            rest = tail.get(close + 1..).unwrap_or_default();
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_owned()));
        }
        if parts.iter().any(|p| matches!(p, Part::Text(t) if t.chars().any(|c| c.is_whitespace() || c == '*' || c == '>'))) {
            return Err(format!("{source:?} has whitespace, '*' or '>' outside placeholders"));
        }
        Ok(Self { source: source.to_owned(), parts })
    }

    /// The template as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// The subject for `event`.
    pub fn render(&self, event: &RecordedEvent) -> String {
        self.render_parts(event.stream_id.category(), &event.event_type, event.stream_id.as_str())
    }

    /// The subject for these values. Placeholder values have whitespace,
    /// `.`, `*` and `>` replaced by `_`, so each fills exactly one token of
    /// a NATS subject or RabbitMQ topic routing key.
    pub fn render_parts(&self, category: &str, event_type: &str, stream_id: &str) -> String {
        let mut out = String::with_capacity(self.source.len() + 32);
        for part in &self.parts {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Category => push_token(&mut out, category),
                Part::EventType => push_token(&mut out, event_type),
                Part::StreamId => push_token(&mut out, stream_id),
            }
        }
        out
    }
}

fn push_token(out: &mut String, value: &str) {
    if value.is_empty() {
        out.push('_');
    }
    out.extend(value.chars().map(|c| if c.is_whitespace() || matches!(c, '.' | '*' | '>') { '_' } else { c }));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_fill_one_token_each() {
        let t = Template::parse("x.{category}.{event_type}.{stream_id}").unwrap();
        assert_eq!(t.render_parts("a", "b.c", "d >*"), "x.a.b_c.d___");
        assert_eq!(t.render_parts("", "t", "s"), "x._.t.s");
    }

    #[test]
    fn bad_templates_name_the_problem() {
        assert!(Template::parse("").unwrap_err().contains("empty"));
        assert!(Template::parse("a.{category").unwrap_err().contains("unclosed"));
        assert!(Template::parse("a.}").unwrap_err().contains("unbalanced"));
        assert!(Template::parse("a.{x}").unwrap_err().contains("{x}"));
        assert!(Template::parse("a b").unwrap_err().contains("whitespace"));
        assert_eq!(Template::parse("plain").unwrap().render_parts("c", "t", "s"), "plain");
    }
}
