//! Declarative upcast steps: small, named edits of an event's JSON data,
//! each addressed by JSON Pointers (RFC 6901), written in configuration or
//! sent to the API instead of code.
//!
//! ```
//! use chronicle_schema::Step;
//! use serde_json::json;
//! let steps: Vec<Step> = serde_json::from_value(json!([
//!     {"op": "set", "path": "/currency", "value": "USD"},
//!     {"op": "rename", "path": "/total", "to": "amount"},
//! ])).unwrap();
//! let mut data = json!({"total": 5});
//! for step in &steps { step.apply(&mut data).unwrap(); }
//! assert_eq!(data, json!({"amount": 5, "currency": "USD"}));
//! ```

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// One edit of an event's data. Steps that read a value that is not
/// there do nothing (an old event may lack an optional field); a step that
/// would have to write through something that is not an object fails.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum Step {
    /// Sets `path` to `value` when absent (a default), creating missing
    /// parent objects.
    Set {
        /// Where.
        path: String,
        /// The default value.
        value: Value,
    },
    /// Renames the member at `path` to `to`, in the same object.
    Rename {
        /// The member.
        path: String,
        /// Its new name.
        to: String,
    },
    /// Moves the value at `from` to `to` (replacing what is there).
    Move {
        /// Where it is.
        from: String,
        /// Where it goes.
        to: String,
    },
    /// Copies the value at `from` to `to` (replacing what is there).
    Copy {
        /// Where it is.
        from: String,
        /// Where the copy goes.
        to: String,
    },
    /// Removes the value at `path`.
    Drop {
        /// Where.
        path: String,
    },
    /// Replaces the value at `path` by an object holding it under `key`.
    Wrap {
        /// Where.
        path: String,
        /// The member that holds the old value.
        key: String,
    },
}

/// The reference tokens of a pointer (`~1` → `/`, `~0` → `~`).
fn tokens(pointer: &str) -> Result<Vec<String>, String> {
    let Some(rest) = pointer.strip_prefix('/') else {
        return Err(format!("{pointer:?} is not a JSON Pointer to a member (it must start with /)"));
    };
    Ok(rest.split('/').map(|t| t.replace("~1", "/").replace("~0", "~")).collect())
}

/// The container holding the last token, creating objects on the way when
/// `create`; `None` when a parent is missing (and not created).
fn parent<'v>(root: &'v mut Value, path: &[String], create: bool) -> Result<Option<&'v mut Value>, String> {
    let mut at = root;
    for token in path {
        at = match at {
            Value::Object(map) => {
                if create {
                    map.entry(token.clone()).or_insert_with(|| Value::Object(Map::new()))
                } else {
                    match map.get_mut(token) {
                        Some(v) => v,
                        None => return Ok(None),
                    }
                }
            }
            Value::Array(items) => match token.parse::<usize>().ok().and_then(|i| items.get_mut(i)) {
                Some(v) => v,
                None => return Ok(None),
            },
            _ if create => return Err(format!("cannot write below {token:?}: not an object")),
            _ => return Ok(None),
        };
    }
    Ok(Some(at))
}

/// A parsed pointer: its reference tokens (at least one).
type Tokens = Vec<String>;

fn take(root: &mut Value, t: &[String]) -> Result<Option<Value>, String> {
    let Some((last, path)) = t.split_last() else { return Ok(None) };
    Ok(match parent(root, path, false)? {
        Some(Value::Object(map)) => map.remove(last),
        _ => None,
    })
}

fn get<'v>(mut at: &'v Value, t: &[String]) -> Option<&'v Value> {
    for token in t {
        at = match at {
            Value::Object(map) => map.get(token)?,
            Value::Array(items) => items.get(token.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(at)
}

fn put(root: &mut Value, t: &[String], value: Value, replace: bool) -> Result<(), String> {
    let Some((last, path)) = t.split_last() else { return Err("cannot write the root".into()) };
    match parent(root, path, true)? {
        Some(Value::Object(map)) => {
            if replace || !map.contains_key(last) {
                map.insert(last.clone(), value);
            }
            Ok(())
        }
        _ => Err(format!("cannot write /{}: its parent is not an object", t.join("/"))),
    }
}

/// A step with its pointers parsed once (what an upcaster chain runs).
#[derive(Clone, Debug)]
pub(crate) enum Compiled {
    Set(Tokens, Value),
    /// From, to (the same parent, another name).
    Rename(Tokens, Tokens),
    Move(Tokens, Tokens),
    Copy(Tokens, Tokens),
    Drop(Tokens),
    Wrap(Tokens, String),
}

impl Compiled {
    /// Applies the step to `data`; an error says why it could not.
    pub(crate) fn apply(&self, data: &mut Value) -> Result<(), String> {
        match self {
            Self::Set(path, value) => put(data, path, value.clone(), false),
            Self::Rename(from, to) | Self::Move(from, to) => match take(data, from)? {
                Some(value) => put(data, to, value, true),
                None => Ok(()),
            },
            Self::Copy(from, to) => match get(data, from).cloned() {
                Some(value) => put(data, to, value, true),
                None => Ok(()),
            },
            Self::Drop(path) => take(data, path).map(drop),
            Self::Wrap(path, key) => match take(data, path)? {
                Some(value) => put(data, path, Value::Object(Map::from_iter([(key.clone(), value)])), true),
                None => Ok(()),
            },
        }
    }
}

impl Step {
    /// The step with its pointers parsed; an error names a bad pointer.
    pub(crate) fn compile(&self) -> Result<Compiled, String> {
        Ok(match self {
            Self::Set { path, value } => Compiled::Set(tokens(path)?, value.clone()),
            Self::Rename { path, to } => {
                let from = tokens(path)?;
                let mut target = from.clone();
                if let Some(last) = target.last_mut() {
                    last.clone_from(to);
                }
                Compiled::Rename(from, target)
            }
            Self::Move { from, to } => Compiled::Move(tokens(from)?, tokens(to)?),
            Self::Copy { from, to } => Compiled::Copy(tokens(from)?, tokens(to)?),
            Self::Drop { path } => Compiled::Drop(tokens(path)?),
            Self::Wrap { path, key } => Compiled::Wrap(tokens(path)?, key.clone()),
        })
    }

    /// Applies the step to `data`; an error says why it could not.
    pub fn apply(&self, data: &mut Value) -> Result<(), String> {
        self.compile()?.apply(data)
    }

    /// Checks the step's pointers (they must address a member, not the root).
    pub fn check(&self) -> Result<(), String> {
        self.compile().map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn apply(steps: Value, mut data: Value) -> Result<Value, String> {
        let steps: Vec<Step> = serde_json::from_value(steps).unwrap();
        for s in &steps {
            s.apply(&mut data)?;
        }
        Ok(data)
    }

    #[test]
    fn each_step_edits_as_named() {
        let data = json!({"total": 5, "customer": {"name": "Ann"}, "tags": ["a"]});
        let out = apply(
            json!([
                {"op": "set", "path": "/tax/rate", "value": 0},
                {"op": "set", "path": "/total", "value": 99},
                {"op": "rename", "path": "/customer/name", "to": "full_name"},
                {"op": "move", "from": "/tags", "to": "/meta/tags"},
                {"op": "copy", "from": "/total", "to": "/amount"},
                {"op": "wrap", "path": "/amount", "key": "value"},
                {"op": "drop", "path": "/missing/x"},
            ]),
            data,
        )
        .unwrap();
        assert_eq!(
            out,
            json!({"total": 5, "tax": {"rate": 0}, "customer": {"full_name": "Ann"}, "meta": {"tags": ["a"]}, "amount": {"value": 5}})
        );
    }

    #[test]
    fn writing_through_a_non_object_fails_and_bad_pointers_are_refused() {
        assert!(apply(json!([{"op": "set", "path": "/total/x", "value": 1}]), json!({"total": 5})).is_err());
        assert!(Step::Drop { path: "total".into() }.check().is_err());
        assert!(Step::Set { path: "".into(), value: json!(1) }.check().is_err());
        assert!(serde_json::from_value::<Step>(json!({"op": "explode", "path": "/a"})).is_err());
    }

    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            "[a-z]{0,4}".prop_map(Value::from)
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..3).prop_map(Value::from),
                prop::collection::btree_map("[a-c]{1,2}", inner, 0..4).prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    fn pointer() -> impl Strategy<Value = String> {
        prop::collection::vec(prop_oneof!["[a-c]{1,2}", "[0-2]", Just("~1".to_owned())], 0..3)
            .prop_map(|t| t.iter().map(|t| format!("/{t}")).collect())
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            (pointer(), json_value()).prop_map(|(path, value)| Step::Set { path, value }),
            (pointer(), "[a-c]{1,2}").prop_map(|(path, to)| Step::Rename { path, to }),
            (pointer(), pointer()).prop_map(|(from, to)| Step::Move { from, to }),
            (pointer(), pointer()).prop_map(|(from, to)| Step::Copy { from, to }),
            pointer().prop_map(|path| Step::Drop { path }),
            (pointer(), "[a-c]{1,2}").prop_map(|(path, key)| Step::Wrap { path, key }),
        ]
    }

    proptest! {
        #[test]
        fn steps_never_panic(data in json_value(), steps in prop::collection::vec(step(), 0..6)) {
            let mut data = data;
            for s in &steps {
                let _ = s.apply(&mut data);
            }
        }

        #[test]
        fn set_then_drop_of_an_absent_member_round_trips(data in prop::collection::btree_map("[a-c]{1,2}", json_value(), 0..4), key in "[d-f]{1,2}", value in json_value()) {
            let original = Value::Object(data.into_iter().collect());
            let path = format!("/{key}");
            let mut edited = original.clone();
            Step::Set { path: path.clone(), value }.apply(&mut edited).unwrap();
            Step::Drop { path }.apply(&mut edited).unwrap();
            prop_assert_eq!(edited, original);
        }
    }
}
