//! `GET /streams`: cursor pages, filters, bad limits, and the OpenAPI
//! document stating its parameters' constraints.

mod common;

use serde_json::{Value, json};

#[tokio::test]
async fn streams_list_by_id_in_cursor_pages() {
    let s = common::start().await;
    for id in ["b-2", "a-1", "b-10", "c", "b-1"] {
        let r = s.post_json(&format!("/streams/{id}"), &json!([{"event_type": "T", "data": {}}]).to_string()).await;
        assert_eq!(r.status(), 200);
    }
    let page = |q: &'static str| {
        let s = &s;
        async move {
            let r = s.http.get(s.at(&format!("/streams{q}"))).send().await.unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        }
    };
    let ids = |v: &Value| v["streams"].as_array().unwrap().iter().map(|s| s["stream_id"].as_str().unwrap().to_owned()).collect::<Vec<_>>();
    let (status, first) = page("?limit=2").await;
    assert_eq!((status, ids(&first), first["next"].clone()), (200, vec!["a-1".to_owned(), "b-1".to_owned()], json!("b-1")));
    let (_, second) = page("?limit=2&after=b-1").await;
    assert_eq!((ids(&second), second["next"].clone()), (vec!["b-10".to_owned(), "b-2".to_owned()], json!("b-2")));
    let (_, last) = page("?limit=2&after=b-2").await;
    assert_eq!((ids(&last), last["next"].clone()), (vec!["c".to_owned()], Value::Null));
    let (_, b) = page("?category=b&prefix=b-1").await;
    assert_eq!(ids(&b), ["b-1", "b-10"]);
    let keys: Vec<&str> = first["streams"][0].as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys.len(), 5, "{keys:?}");
    assert_eq!(first["streams"][0]["status"], "active");
    assert_eq!(first["streams"][0]["last_position"], 2);

    for bad in ["?limit=0", "?limit=1001"] {
        let (status, body) = page(bad).await;
        assert_eq!((status, body["field"].as_str()), (400, Some("limit")), "{bad}: {body}");
    }
    let (status, body) = page("?limit=many").await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid")), "{body}");

    let doc: Value = s.http.get(s.at("/openapi.json")).send().await.unwrap().json().await.unwrap();
    let params = doc["paths"]["/streams"]["get"]["parameters"].as_array().unwrap();
    let limit = params.iter().find(|p| p["name"] == "limit").unwrap();
    assert_eq!((limit["schema"]["minimum"].as_u64(), limit["schema"]["maximum"].as_u64()), (Some(1), Some(1000)), "{limit}");
    assert!(doc["paths"]["/streams"]["get"]["responses"]["400"].is_object());
}
