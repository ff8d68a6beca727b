use super::*;

fn parse(text: &str) -> Result<RetentionSettings> {
    RetentionSettings::from_table(&toml::from_str(text).unwrap())
}

fn sid(s: &str) -> StreamId {
    StreamId::new(s).unwrap()
}

fn field_of(e: RetentionError) -> String {
    match e {
        RetentionError::Config { field, .. } => field,
        other => panic!("{other}"),
    }
}

#[test]
fn an_empty_table_removes_nothing() {
    let s = parse("").unwrap();
    assert!(!s.is_active());
    assert_eq!(s.interval, Duration::from_secs(3600));
    assert_eq!(s.limits_for(&sid("order-1")), None);
}

#[test]
fn rules_bind_by_category_or_pattern_the_stricter_wins_and_the_default_covers_the_rest() {
    let s = parse(
        r#"
        default = "90d"
        interval = "15m"
        [[rules]]
        category = "telemetry"
        max_age = "30d"
        [[rules]]
        name = "scratch"
        streams = "tmp-*"
        max_count = 10
        [[rules]]
        streams = "telemetry-*-debug"
        max_age = "1d"
        max_count = 100
        [[keep]]
        tags = ["legal-hold", "audit"]
    "#,
    )
    .unwrap();
    assert_eq!(s.interval, Duration::from_secs(900));
    let day = Duration::from_secs(86_400);
    assert_eq!(s.limits_for(&sid("telemetry-1")), Some(("category=telemetry".into(), Limits { max_age: Some(30 * day), max_count: None })));
    assert_eq!(
        s.limits_for(&sid("telemetry-7-debug")),
        Some(("category=telemetry".into(), Limits { max_age: Some(day), max_count: Some(100) })),
        "two rules: the stricter of each limit"
    );
    assert_eq!(s.limits_for(&sid("tmp-x")), Some(("scratch".into(), Limits { max_age: None, max_count: Some(10) })));
    assert_eq!(s.limits_for(&sid("order-1")), Some(("default".into(), Limits { max_age: Some(90 * day), max_count: None })));
    assert_eq!(s.limits_for(&sid("$projections")), None, "system streams are never bound");
    assert!(s.keeps(&["x".into(), "audit".into()]) && !s.keeps(&["x".into()]));
}

#[test]
fn a_count_default() {
    let s = parse("default = 500").unwrap();
    assert_eq!(s.limits_for(&sid("a-1")).map(|(_, l)| l.max_count), Some(Some(500)));
}

#[test]
fn every_error_names_its_key() {
    let cases = [
        ("default = \"forever\"", "default"),
        ("default = 0", "default"),
        ("default = true", "default"),
        ("interval = \"5 minutes\"", "interval"),
        ("color = 1", "retention.color"),
        ("[[rules]]\ncategory = \"a\"", "rules[0]"),
        ("[[rules]]\ncategory = \"a\"\nstreams = \"b*\"\nmax_count = 1", "rules[0]"),
        ("[[rules]]\ncategory = \"a\"\nmax_age = \"30\"", "rules[0].max_age"),
        ("[[rules]]\ncategory = \"a\"\nmax_count = -3", "rules[0].max_count"),
        ("[[rules]]\ncategory = \"a\"\nmax_count = 3\n[[rules]]\nstreams = \"\"\nmax_count = 1", "rules[1].streams"),
        ("[[rules]]\ncategory = \"a\"\nmax_count = 3\nevery = 1", "rules[0].every"),
        ("[[keep]]\ntags = \"hold\"", "keep[0].tags"),
        ("[[keep]]\ntags = [\"hold\", 3]", "keep[0].tags[1]"),
        ("rules = 3", "rules"),
    ];
    for (text, field) in cases {
        assert_eq!(field_of(parse(text).unwrap_err()), field, "{text}");
    }
}

#[test]
fn patterns() {
    let p = |s: &str| Pattern(s.to_owned());
    assert!(p("tmp-*").matches("tmp-1") && p("tmp-*").matches("tmp-") && !p("tmp-*").matches("xtmp-1"));
    assert!(p("*-draft").matches("order-1-draft") && !p("*-draft").matches("order-1-drafts"));
    assert!(p("a*b*c").matches("abc") && p("a*b*c").matches("a-x-b-y-c") && !p("a*b*c").matches("acb"));
    assert!(p("exact").matches("exact") && !p("exact").matches("exactly"));
    assert!(p("*").matches("anything") && p("a**").matches("a"));
    assert!(!p("ab*ba").matches("aba"), "the prefix and suffix may not overlap");
}
