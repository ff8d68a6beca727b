//! The OpenAPI document as a contract: the constraints the handlers
//! enforce, stated once and applied to the generated document — name
//! rules of path and query parameters, enums and minimums of the query,
//! the shapes of request bodies, and the statuses every kind of route can
//! answer. `schemathesis` checks the server against the result in CI.

use serde_json::{Map, Value, json};

/// Stream ids, consumer names, metadata ids: 1..=255 bytes of UTF-8, no
/// control characters (`char::is_control`: U+0000–U+001F, U+007F–U+009F).
const NAME: &str = "^[^\\u0000-\\u001F\\u007F-\\u009F]+$";

/// Event types: a name without whitespace (`char::is_whitespace`).
const EVENT_TYPE: &str = "^[^\\u0000-\\u0020\\u007F-\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000]+$";

/// `expected_version` in a query: a number or one of the three words.
const EXPECTED: &str = "^(any|no-stream|exists|[0-9]{1,19})$";

fn name(description: &str) -> Value {
    json!({"type": "string", "minLength": 1, "maxLength": 255, "pattern": NAME,
        "description": format!("{description} (1 to 255 bytes of UTF-8, no control characters)")})
}

fn nullable(schema: Value) -> Value {
    json!({"anyOf": [schema, {"type": "null"}]})
}

fn error_ref() -> Value {
    json!({"description": "Error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorSchema"}}}})
}

/// The document with every constraint and status stated.
pub(crate) fn refine(mut doc: Value) -> Value {
    if let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) {
        for (path, item) in paths.iter_mut() {
            let Some(item) = item.as_object_mut() else { continue };
            for (method, op) in item.iter_mut() {
                refine_operation(path, method, op);
            }
        }
    }
    if let Some(schemas) = doc.pointer_mut("/components/schemas").and_then(Value::as_object_mut) {
        refine_bodies(schemas);
    }
    doc
}

/// The schema of a query or path parameter, by name.
fn parameter(path: &str, name_: &str, description: &str) -> Option<Value> {
    let streaming = path == "/subscribe" || path == "/ws";
    Some(match name_ {
        "stream" | "name" | "stream_id" | "subject" => name(description),
        "group" => json!({"type": "string", "minLength": 1, "maxLength": 64, "pattern": "^[A-Za-z0-9_.-]+$", "description": description}),
        "sink" => json!({"type": "string", "minLength": 1, "maxLength": 64, "pattern": "^[a-z0-9-]+$", "description": description}),
        "from" => json!({"type": "integer", "minimum": if streaming { 1 } else { 0 }, "maximum": u64::MAX}),
        "after" | "through" if path == "/admin/export" => {
            json!({"type": "integer", "minimum": 0, "maximum": u64::MAX, "description": description})
        }
        "limit" => match path {
            "/streams" => json!({"type": "integer", "minimum": 1, "maximum": 1000}),
            "/audit" => json!({"type": "integer", "minimum": 1, "maximum": 10000}),
            _ => json!({"type": "integer", "minimum": 1, "maximum": u64::MAX}),
        },
        "direction" => json!({"type": "string", "enum": ["forward", "backward"]}),
        "format" => json!({"type": "string", "enum": ["json", "ndjson"]}),
        "mode" => json!({"type": "string", "enum": ["soft", "tombstone"]}),
        "since" | "until" => json!({"type": "string", "format": "date-time"}),
        "expected_version" => json!({"type": "string", "pattern": EXPECTED}),
        "denied" | "dry_run" | "raw" => json!({"type": "boolean"}),
        "event_type" if path.starts_with("/schemas/") => json!({"type": "string", "minLength": 1, "maxLength": 255, "pattern": EVENT_TYPE,
            "description": description}),
        "version" if path.starts_with("/schemas/") => {
            json!({"type": "integer", "minimum": 1, "maximum": u32::MAX, "description": description})
        }
        "event_id" => json!({"type": "string", "format": "uuid"}),
        "correlation_id" => json!({"type": "string"}),
        _ => return None,
    })
}

fn refine_operation(path: &str, method: &str, op: &mut Value) {
    let Some(op) = op.as_object_mut() else { return };
    let mut validated = false;
    if let Some(params) = op.get_mut("parameters").and_then(Value::as_array_mut) {
        for p in params.iter_mut() {
            let (Some(n), description) = (p.get("name").and_then(Value::as_str), p.get("description").and_then(Value::as_str)) else {
                continue;
            };
            let schema = parameter(path, n, description.unwrap_or_default());
            let schema = schema.unwrap_or_else(|| json!({"type": "string"}));
            validated |= p.get("in").and_then(Value::as_str) == Some("path") || schema.as_object().is_some_and(|s| s.len() > 1);
            if let Some(p) = p.as_object_mut() {
                p.insert("schema".into(), schema);
            }
        }
    }
    let has_body = op.contains_key("requestBody");
    if path == "/streams/{stream}" && method == "post" {
        // An append needs at least one event.
        if let Some(s) =
            op.get_mut("requestBody").and_then(|b| b.pointer_mut("/content/application~1json/schema")).and_then(Value::as_object_mut)
        {
            s.insert("minItems".into(), json!(1));
        }
    }
    let responses = op.entry("responses").or_insert_with(|| json!({}));
    let Some(responses) = responses.as_object_mut() else { return };
    if validated || has_body || method != "get" || !op_is_plain(path) {
        responses.entry("400").or_insert_with(error_ref);
    }
    if path == "/events"
        && method == "get"
        && let Some(ok) = responses.get_mut("200").and_then(|r| r.get_mut("content")).and_then(Value::as_object_mut)
    {
        ok.insert("application/x-ndjson".into(), json!({"schema": {"$ref": "#/components/schemas/EventSchema"}}));
    }
    if has_body {
        responses.entry("415").or_insert_with(error_ref);
        responses.entry("413").or_insert_with(error_ref);
    }
    if path == "/append" || (path.starts_with("/streams/{stream}") && method != "get") {
        responses.entry("410").or_insert_with(error_ref); // the stream is tombstoned
    }

    if !path.starts_with("/health/") && path != "/openapi.json" {
        for status in ["401", "429"] {
            responses.entry(status).or_insert_with(error_ref);
        }
        responses.entry("403").or_insert_with(|| {
            let mut forbidden = error_ref();
            if let Some(op) = forbidden.as_object_mut() {
                op.insert(
                    "description".into(),
                    json!(
                        "Forbidden: the token's role does not allow the route, or its grants do not allow the action on the stream \
                         (`action` and `stream_id` in the body). System streams (ids starting with `$`) are written only by admin \
                         tokens and read only through a grant that names them. A reader or writer token with a `tenant` reaches only \
                         its tenant's streams, and is refused routes that span tenants (`/metrics`, `/publish…`, `/subscriptions` \
                         except `…/connect`); a tenant-less non-admin token reaches no tenant's streams (ids starting with `@`)."
                    ),
                );
            }
            forbidden
        });
    }
}

/// Routes that take nothing a client could get wrong.
fn op_is_plain(path: &str) -> bool {
    matches!(path, "/metrics" | "/health/live" | "/health/ready" | "/openapi.json" | "/admin/scavenge" | "/publish" | "/subscriptions")
}

/// The upcast steps of a schema registration (`chronicle_schema::Step`).
fn upcast_schema() -> Value {
    let pointer = json!({"type": "string", "pattern": "^/", "description": "A JSON Pointer to a member (RFC 6901)"});
    let step = |op: &str, fields: &[(&str, Value)]| {
        let mut properties = Map::from_iter([("op".to_owned(), json!({"const": op}))]);
        properties.extend(fields.iter().map(|(k, v)| ((*k).to_owned(), v.clone())));
        let required: Vec<&str> = std::iter::once("op").chain(fields.iter().map(|(k, _)| *k)).collect();
        json!({"type": "object", "required": required, "additionalProperties": false, "properties": properties})
    };
    let text = json!({"type": "string"});
    json!({"type": "object", "required": ["from", "steps"], "additionalProperties": false,
    "description": "How events of version `from` (below the registered version) are lifted to it, step by step.",
    "properties": {
        "from": {"type": "integer", "minimum": 1, "maximum": u32::MAX},
        "steps": {"type": "array", "items": {"oneOf": [
            step("set", &[("path", pointer.clone()), ("value", json!({}))]),
            step("rename", &[("path", pointer.clone()), ("to", text.clone())]),
            step("move", &[("from", pointer.clone()), ("to", pointer.clone())]),
            step("copy", &[("from", pointer.clone()), ("to", pointer.clone())]),
            step("drop", &[("path", pointer.clone())]),
            step("wrap", &[("path", pointer), ("key", text)]),
        ]}}
    }})
}

fn set(schemas: &mut Map<String, Value>, component: &str, property: &str, schema: Value) {
    if let Some(props) = schemas.get_mut(component).and_then(|c| c.get_mut("properties")).and_then(Value::as_object_mut) {
        props.insert(property.to_owned(), schema);
    }
}

fn refine_bodies(schemas: &mut Map<String, Value>) {
    schemas.insert(
        "EventMetadata".into(),
        json!({"type": "object", "description": "Event metadata: any JSON object; these well-known fields are checked (each id-like value is 1 to 255 bytes, no control characters). At most 10 KiB by default.",
            "properties": {
                "correlation_id": nullable(name("Groups every event caused by one request")),
                "causation_id": nullable(name("The event or command that caused this one")),
                "tenant": nullable(name("The tenant")),
                "actor": nullable(json!({"type": "object", "required": ["type", "id"],
                    "properties": {"type": name("Kind of actor"), "id": name("The actor's id")}})),
                "tags": nullable(json!({"type": "array", "items": name("A tag")}))
            }}),
    );
    let json_text = |what: &str, format: &str| {
        nullable(json!({"type": "string", "format": format, "contentMediaType": "application/json",
            "description": format!("The {what} as JSON text (format `{format}`), validated by the store (instead of `{what}`)")}))
    };
    set(
        schemas,
        "NewEventBody",
        "event_type",
        json!({"type": "string", "minLength": 1, "maxLength": 255, "pattern": EVENT_TYPE,
        "description": "Event type, e.g. `OrderPlaced` (1 to 255 bytes, no whitespace or control characters)"}),
    );
    set(schemas, "NewEventBody", "data", json!({"description": "Event data: any JSON value (at most 100 KiB by default)."}));
    set(schemas, "NewEventBody", "data_raw", json_text("data", "json"));
    set(schemas, "NewEventBody", "metadata", nullable(json!({"$ref": "#/components/schemas/EventMetadata"})));
    set(schemas, "NewEventBody", "metadata_raw", json_text("metadata", "json-object"));
    set(
        schemas,
        "NewEventBody",
        "event_id",
        nullable(json!({"type": "string", "format": "uuid",
        "not": {"const": "00000000-0000-0000-0000-000000000000"}, "description": "Client event id for idempotent retries (not the nil UUID); a UUIDv7 otherwise."})),
    );
    set(schemas, "NewEventBody", "schema_version", nullable(json!({"type": "integer", "minimum": 1, "maximum": u32::MAX})));
    if let Some(body) = schemas.get_mut("NewEventBody").and_then(Value::as_object_mut) {
        body.insert(
            "anyOf".into(),
            json!([{"required": ["data"]}, {"required": ["data_raw"], "properties": {"data_raw": {"type": "string"}}}]),
        );
    }
    set(schemas, "SchemaBody", "upcast", nullable(upcast_schema()));
    set(schemas, "StreamAppendBody", "stream_id", name("Stream id"));
    set(
        schemas,
        "StreamAppendBody",
        "expected_version",
        nullable(json!({"anyOf": [
        {"type": "integer", "minimum": 0, "maximum": i64::MAX}, {"type": "string", "pattern": EXPECTED}]})),
    );
    set(
        schemas,
        "StreamAppendBody",
        "events",
        json!({"type": "array", "minItems": 1, "description": "The events (at least one).",
        "items": {"$ref": "#/components/schemas/NewEventBody"}}),
    );
    set(
        schemas,
        "AppendBody",
        "streams",
        json!({"type": "array", "minItems": 1, "uniqueItems": true,
        "description": "The parts, each stream at most once; an event id at most once in the whole append.",
        "items": {"$ref": "#/components/schemas/StreamAppendBody"}}),
    );
    set(
        schemas,
        "AppendBody",
        "condition",
        nullable(json!({"type": "object", "additionalProperties": false, "required": ["query"],
        "properties": {
            "query": {"type": "object", "additionalProperties": false, "properties": {"items": {"type": "array", "items": {
                "type": "object", "additionalProperties": false,
                "properties": {"types": {"type": "array", "items": {"type": "string"}}, "tags": {"type": "array", "items": {"type": "string"}},
                    "stream_prefix": nullable(json!({"type": "string", "description": "Only events of streams whose id starts with this"}))}}}}},
            "after": nullable(json!({"type": "integer", "minimum": 0, "maximum": i64::MAX}))
        }})),
    );
    set(
        schemas,
        "MetadataSchema",
        "truncate_before",
        nullable(json!({"type": "integer", "minimum": 0, "maximum": i64::MAX, "description": "Versions below this are invisible."})),
    );
    if let Some(body) = schemas.get_mut("SelectionBody").and_then(Value::as_object_mut) {
        body.insert("additionalProperties".into(), json!(false));
        body.insert("properties".into(), json!({
            "event_ids": nullable(json!({"type": "array", "minItems": 1, "maxItems": chronicle_publish::MAX_SELECTED,
                "items": {"type": "string", "format": "uuid"}, "description": "The entries, by event id (each must be in the queue)."})),
            "all": nullable(json!({"const": true, "description": "Every entry in the queue now."}))
        }));
        body.insert(
            "oneOf".into(),
            json!([
                {"required": ["event_ids"], "properties": {"event_ids": {"type": "array"}}},
                {"required": ["all"], "properties": {"all": {"const": true}}}
            ]),
        );
    }
    set(
        schemas,
        "GroupSpec",
        "from",
        json!({"description": "`\"start\"`, `\"end\"` (default) or a position (inclusive).",
            "anyOf": [{"type": "string", "enum": ["start", "end"]}, {"type": "integer", "minimum": 1, "maximum": i64::MAX}]}),
    );
    set(schemas, "GroupSpec", "max_retries", json!({"type": "integer", "minimum": 0, "maximum": 100}));
    set(schemas, "GroupSpec", "ack_timeout_ms", json!({"type": "integer", "minimum": 100, "maximum": 3_600_000}));
    set(schemas, "GroupSpec", "max_in_flight", json!({"type": "integer", "minimum": 1, "maximum": 10_000}));
    set(schemas, "FilterSpec", "stream_id", nullable(name("Exactly this stream")));
    set(schemas, "FilterSpec", "since", nullable(json!({"type": "string", "format": "date-time"})));
    set(schemas, "FilterSpec", "until", nullable(json!({"type": "string", "format": "date-time"})));
    set(schemas, "EventSchema", "data", json!({"description": "Data: any JSON value, as appended."}));
    set(schemas, "EventSchema", "metadata", json!({"type": "object", "description": "Metadata (a JSON object), as appended."}));
    set(schemas, "SnapshotBody", "state", json!({"description": "The state: any JSON value."}));
    set(schemas, "SnapshotBody", "schema_version", nullable(json!({"type": "integer", "minimum": 0, "maximum": u32::MAX})));
    set(
        schemas,
        "MetadataSchema",
        "max_age",
        nullable(
            json!({"type": "integer", "minimum": 1, "maximum": i64::MAX, "description": "Events older than this many seconds are invisible."}),
        ),
    );
    set(
        schemas,
        "MetadataSchema",
        "max_count",
        nullable(
            json!({"type": "integer", "minimum": 1, "maximum": i64::MAX, "description": "Only the newest this many events are visible."}),
        ),
    );
}
