use super::*;

fn parse(text: &str) -> Result<PublishSettings> {
    PublishSettings::from_table(&toml::from_str(text).unwrap())
}

fn sink(extra: &str) -> String {
    format!("[[sinks]]\nname = \"s1\"\nkind = \"webhook\"\nurl = \"http://127.0.0.1:9/x\"\nsecret = \"k\"\n{extra}")
}

#[test]
fn a_good_sink_gets_the_defaults() {
    let s = parse(&sink("")).unwrap();
    let s = &s.sinks[0];
    assert_eq!((s.kind, s.toml.max_retries, s.toml.dlq_max, s.toml.max_in_flight), (SinkKind::Webhook, 3, 1000, 256));
    assert_eq!(s.subject.as_str(), "chronicle.{category}.{event_type}");
}

#[test]
fn every_bad_field_is_named_with_its_sink() {
    let cases = [
        (sink("max_retries = \"x\""), "publish sink s1: max_retries:"),
        (sink("colour = 1"), "publish sink s1: colour:"),
        (sink("dlq_max = 0"), "publish sink s1: dlq_max: must be at least 1"),
        (sink("subject = \"a.{nope}\""), "publish sink s1: subject: unknown placeholder {nope}"),
        (sink("create_stream = { name = \"S\", subjects = [\"a\"] }"), "publish sink s1: create_stream:"),
        ("[[sinks]]\nname = \"Bad Name\"\nkind = \"nats\"\nurl = \"nats://h\"".into(), "publish sink #1: name:"),
        ("[[sinks]]\nname = \"n\"\nkind = \"nats\"\nurl = \"http://h\"".into(), "publish sink n: url: a nats sink needs a nats://"),
        ("[[sinks]]\nname = \"n\"\nkind = \"nats\"\nurl = \"not a url\"".into(), "publish sink n: url:"),
        ("[[sinks]]\nname = \"w\"\nkind = \"webhook\"\nurl = \"http://h\"".into(), "publish sink w: secret:"),
        (format!("{}\n{}", sink(""), sink("")), "publish sink s1: name: is used by another sink"),
    ];
    for (text, expected) in cases {
        let err = parse(&text).unwrap_err().to_string();
        assert!(err.starts_with(expected), "{text}\n=> {err}");
        assert!(!err.contains('\n'), "one line: {err}");
    }
}

#[test]
fn settings_round_trip_through_toml() {
    let s = parse(&sink("categories = [\"order\"]")).unwrap();
    let again = PublishSettings::from_table(&s.to_table()).unwrap();
    assert_eq!(again.sinks[0].toml, s.sinks[0].toml);
}
