"""Teach schemathesis the custom string formats the OpenAPI document uses.

`json`: JSON text (the `data_raw` field); `json-object`: the text of a JSON
object without the well-known metadata keys (the `metadata_raw` field).
"""
import json

import schemathesis
from hypothesis import strategies as st

WELL_KNOWN = {"correlation_id", "causation_id", "actor", "tenant", "tags"}
scalars = st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=20)
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner, max_size=3), max_leaves=8)
keys = st.text(max_size=10).filter(lambda k: k not in WELL_KNOWN)

schemathesis.openapi.format("json", values.map(json.dumps))
schemathesis.openapi.format("json-object", st.dictionaries(keys, values, max_size=4).map(json.dumps))


def _unique(values):
    values = [v for v in values if v is not None]
    return len(values) == len(set(values))


@schemathesis.hook
def filter_body(context, body):
    """Rules the document states in prose but JSON Schema cannot express:
    each stream at most once per atomic append, and each event id at most
    once per append (the server answers 400 naming the field otherwise)."""
    events = []
    if isinstance(body, dict) and isinstance(body.get("streams"), list):
        parts = [p for p in body["streams"] if isinstance(p, dict)]
        if not _unique([p.get("stream_id") for p in parts if isinstance(p.get("stream_id"), str)]):
            return False
        events = [e for p in parts if isinstance(p.get("events"), list) for e in p["events"]]
    elif isinstance(body, list):
        events = body
    return _unique([e.get("event_id") for e in events if isinstance(e, dict) and isinstance(e.get("event_id"), str)])


# POST /admin/import takes NDJSON items (as GET /admin/export writes them).
# Items that always fit any store: checkpoints (and nothing at all).
checkpoint = st.builds(
    lambda name, position: json.dumps({"kind": "checkpoint", "consumer": name, "position": position}) + "\n",
    st.from_regex(r"[a-z][a-z0-9-]{0,20}", fullmatch=True),
    st.integers(0, 2**53),
)
schemathesis.openapi.media_type("application/x-ndjson", st.lists(checkpoint, max_size=3).map(lambda lines: "".join(lines).encode()))


# PUT /schemas/{event_type}/{version}: whether a JSON object is a valid JSON
# Schema, and that `upcast.from` lies below the version in the path, are
# rules JSON Schema cannot state (the server answers 400 otherwise, which
# its own tests check). Generated registrations get a schema that is one
# and an upcast that starts below the version.
@schemathesis.hook
def map_case(context, case):
    if case.operation.path != "/schemas/{event_type}/{version}" or not isinstance(case.body, dict):
        return case
    body = dict(case.body)
    if "schema" in body:
        body["schema"] = {"type": "object"}
    try:
        version = int((case.path_parameters or {}).get("version"))
    except (TypeError, ValueError):
        version = None
    upcast = body.get("upcast")
    if isinstance(upcast, dict) and version is not None:
        if version <= 1:
            body.pop("upcast")
        elif isinstance(upcast.get("from"), (int, float)) and upcast["from"] >= version:
            body["upcast"] = {**upcast, "from": version - 1}
    case.body = body
    return case
