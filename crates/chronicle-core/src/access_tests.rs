//! Tests of `access.rs`.

use super::*;

fn who(role: Role, grants: Vec<Grant>) -> Principal {
    Principal { token_id: "t".into(), role, tenant: None, grants, pii: false }
}

fn s(id: &str) -> StreamId {
    StreamId::new(id).unwrap()
}

#[test]
fn globs() {
    for (p, t, m) in [
        ("order-*", "order-1", true),
        ("order-*", "order-", true),
        ("order-*", "orders-1", false),
        ("*-eu", "order-eu", true),
        ("*-eu", "order-us", false),
        ("a*b*c", "axxbyyc", true),
        ("a*b*c", "axxbyy", false),
        ("*", "anything", true),
        ("exact", "exact", true),
        ("exact", "exactly", false),
        ("$projections", "$projections", true),
    ] {
        assert_eq!(glob(p.as_bytes(), t.as_bytes()), m, "{p} ~ {t}");
    }
}

#[test]
fn roles_grants_and_system_streams() {
    let reader = who(Role::Reader, vec![]);
    assert!(reader.may(Action::Read, &s("order-1")) && !reader.may(Action::Append, &s("order-1")));
    assert!(!reader.may(Action::Read, &s("$projections")), "system streams need a grant");
    let admin = who(Role::Admin, vec![]);
    assert!(admin.may(Action::Delete, &s("$parked-x")) && admin.reads_everything());
    let wide = who(Role::Writer, vec![Grant::streams("*", [Action::Read, Action::Append])]);
    assert!(wide.may(Action::Append, &s("order-1")) && !wide.may(Action::Read, &s("$projections")), "* does not open $ streams");
    let sys = who(Role::Writer, vec![Grant::streams("$projections", [Action::Read, Action::Append])]);
    assert!(sys.may(Action::Read, &s("$projections")) && !sys.may(Action::Append, &s("$projections")), "writes stay admin-only");
    let cat = who(Role::Writer, vec![Grant::category("payment", [Action::Read])]);
    assert!(cat.may(Action::Read, &s("payment-9")) && !cat.may(Action::Read, &s("order-9")));
    assert!(!cat.may(Action::Append, &s("payment-9")));
}

#[test]
fn tenants_confine_readers_and_writers() {
    let acme = Principal { tenant: Some("acme".into()), ..who(Role::Writer, vec![]) };
    assert!(acme.may(Action::Append, &s("@acme/order-1")) && acme.may(Action::Read, &s("@acme/order-1")));
    assert!(!acme.may(Action::Read, &s("@globex/order-1")) && !acme.may(Action::Read, &s("order-1")));
    assert!(!acme.may(Action::Append, &s("@acme/$projections")), "a tenant's system streams stay admin-only");
    let narrow = Principal { grants: vec![Grant::streams("order-*", [Action::Read])], ..acme.clone() };
    assert!(narrow.may(Action::Read, &s("@acme/order-1")) && !narrow.may(Action::Read, &s("@acme/cart-1")));
    let plain = who(Role::Writer, vec![]);
    assert!(!plain.may(Action::Read, &s("@acme/order-1")), "no tenant: no tenant's streams");
    let admin = Principal { tenant: Some("acme".into()), ..who(Role::Admin, vec![]) };
    assert!(admin.confined_tenant().is_none() && admin.may(Action::Delete, &s("@globex/order-1")), "admins span tenants");
    let f = |prefix: &str| Filter { stream_prefix: Some(prefix.into()), ..Filter::default() };
    assert!(acme.reads_all_of(&f("@acme/")) && acme.reads_all_of(&f("@acme/order-")));
    assert!(!acme.reads_all_of(&f("@globex/")) && !acme.reads_all_of(&f("order-")) && !acme.reads_all_of(&Filter::default()));
    assert!(!plain.reads_all_of(&f("@acme/")) && plain.reads_all_of(&Filter::default()));
    assert!(narrow.reads_all_of(&f("@acme/order-")) && !narrow.reads_all_of(&f("@acme/")));
}

#[test]
fn pii_by_flag_or_by_grant() {
    let order = s("order-1");
    assert!(!who(Role::Reader, vec![]).may(Action::Pii, &order));
    assert!(Principal { pii: true, ..who(Role::Reader, vec![]) }.may(Action::Pii, &order));
    assert!(who(Role::Admin, vec![]).may(Action::Pii, &order));
    let granted = who(Role::Reader, vec![Grant::category("order", [Action::Read, Action::Pii]), Grant::category("cart", [Action::Read])]);
    assert!(granted.may(Action::Pii, &order) && !granted.may(Action::Pii, &s("cart-1")) && !granted.sees_all_pii());
    let flagged = Principal { pii: true, ..who(Role::Reader, vec![Grant::category("cart", [Action::Read])]) };
    assert!(flagged.may(Action::Pii, &s("cart-1")) && !flagged.may(Action::Pii, &order), "the flag clears what the grants let it read");
}

#[test]
fn group_filters_inside_grants() {
    let f = |category: Option<&str>, prefix: Option<&str>| Filter {
        category: category.map(str::to_owned),
        stream_prefix: prefix.map(str::to_owned),
        ..Filter::default()
    };
    let orders = who(Role::Reader, vec![Grant::category("order", [Action::Read])]);
    assert!(orders.reads_all_of(&f(Some("order"), None)) && orders.reads_all_of(&f(None, Some("order-eu-"))));
    assert!(!orders.reads_all_of(&f(None, None)) && !orders.reads_all_of(&f(Some("payment"), None)));
    let pattern = who(Role::Reader, vec![Grant::streams("ord*", [Action::Read])]);
    assert!(pattern.reads_all_of(&f(Some("order"), None)) && !pattern.reads_all_of(&f(None, Some("pay"))));
    let append_only = who(Role::Writer, vec![Grant::streams("*", [Action::Append])]);
    assert!(!append_only.reads_all_of(&f(Some("order"), None)));
    assert!(who(Role::Reader, vec![]).reads_all_of(&f(None, None)));
}

#[test]
fn grants_are_checked_against_the_role() {
    assert!(Grant::streams("order-*", [Action::Read]).check(Role::Reader).is_ok());
    assert!(Grant::streams("order-*", [Action::Append]).check(Role::Reader).unwrap_err().contains("writer"));
    assert!(Grant::streams("order-*", []).check(Role::Admin).is_err());
    assert!(Grant::category("a-b", [Action::Read]).check(Role::Admin).is_err());
    let both = Grant { streams: Some("x".into()), category: Some("y".into()), allow: vec![Action::Read] };
    assert!(both.check(Role::Admin).is_err());
}
