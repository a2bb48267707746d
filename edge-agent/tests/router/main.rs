//! The agent's OpenWhisk semantics through its router, in process (`tower::ServiceExt::oneshot`, no socket):
//! auth, the `{error, code}` shape, create/update/overwrite conflicts and versions, delete answers, paging,
//! collections, forbidden namespaces. The binary tests (`tests/api`) cover the same API over HTTP.

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use axum::Router;
use base64::Engine;
use serde_json::{json, Value};
use tower::ServiceExt;

use fogwhisk_edge::config::Settings;
use fogwhisk_edge::startup::Application;

/// An agent built in process (no runtime process is started by these tests) and the guest key.
struct Api {
    router: Router,
    guest: String,
    _app: Application,
    _dir: tempfile::TempDir,
}

impl Api {
    async fn start() -> Api {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Settings {
            data_dir: dir.path().join("data"),
            listen: "127.0.0.1:0".parse().unwrap(),
            ..Settings::default()
        };
        s.pool.prewarm_nodejs = 0;
        s.pool.prewarm_python = 0;
        s.pool.runtime_dir = Some(dir.path().join("runtime"));
        s.pool.allow_shared_uid = true;
        s.mqtt.embedded_broker = None;
        let app = Application::build(s).await.expect("agent builds");
        let router = fogwhisk_edge::api::router(app.state());
        let props = std::fs::read_to_string(dir.path().join("data/wskprops")).unwrap();
        let guest = props.lines().find_map(|l| l.strip_prefix("AUTH=")).unwrap().trim().to_string();
        Api { router, guest, _app: app, _dir: dir }
    }

    async fn call(&self, method: Method, path: &str, auth: Option<&str>, body: Option<Value>) -> (StatusCode, Value) {
        let mut req = Request::builder().method(method).uri(format!("/api/v1/{path}"));
        if let Some(key) = auth {
            let b64 = base64::engine::general_purpose::STANDARD.encode(key);
            req = req.header(header::AUTHORIZATION, format!("Basic {b64}"));
        }
        let req = match body {
            Some(b) => req.header(header::CONTENT_TYPE, "application/json").body(Body::from(b.to_string())),
            None => req.body(Body::empty()),
        }
        .unwrap();
        let resp = self.router.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20).await.unwrap();
        let v = if bytes.is_empty() { Value::Null } else { serde_json::from_slice(&bytes).unwrap_or(Value::Null) };
        (status, v)
    }

    async fn guest(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        self.call(method, path, Some(&self.guest.clone()), body).await
    }
}

/// The error shape OpenWhisk's controller answers every failure with.
fn assert_error(v: &Value, want: &str) {
    let msg = v["error"].as_str().unwrap_or_else(|| panic!("no error field in {v}"));
    assert!(msg.contains(want), "error {msg:?} does not say {want:?}");
    assert!(v["code"].is_string() || v["code"].is_number(), "no code in {v}");
}

fn hello() -> Value {
    json!({"exec": {"kind": "nodejs:20", "code": "function main(p) { return p }"}})
}

#[tokio::test]
async fn missing_and_wrong_credentials_are_401_in_the_error_shape() {
    let api = Api::start().await;
    let (s, v) = api.call(Method::GET, "namespaces/_/actions", None, None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert!(v["error"].is_string(), "{v}");
    let wrong = format!("{}x", api.guest);
    let (s, v) = api.call(Method::GET, "namespaces/_/actions", Some(&wrong), None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert!(v["error"].is_string(), "{v}");
    let (s, v) = api.guest(Method::GET, "namespaces", None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v, json!(["guest"]));
}

#[tokio::test]
async fn create_conflicts_without_overwrite_and_updates_bump_the_version() {
    let api = Api::start().await;
    let (s, v) = api.guest(Method::PUT, "namespaces/_/actions/hello", Some(hello())).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        (v["name"].as_str(), v["namespace"].as_str(), v["version"].as_str()),
        (Some("hello"), Some("guest"), Some("0.0.1"))
    );
    let (s, v) = api.guest(Method::PUT, "namespaces/_/actions/hello", Some(hello())).await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert_error(&v, "resource already exists");
    let (s, v) = api
        .guest(
            Method::PUT,
            "namespaces/_/actions/hello?overwrite=true",
            Some(json!({"parameters": [{"key": "a", "value": 1}]})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["version"], "0.0.2");
    // an update without exec keeps the code
    assert_eq!(v["exec"]["kind"], "nodejs:20");
    assert_eq!(v["parameters"], json!([{"key": "a", "value": 1}]));
}

#[tokio::test]
async fn missing_entities_are_404_and_delete_answers_the_deleted_document() {
    let api = Api::start().await;
    let (s, v) = api.guest(Method::GET, "namespaces/_/actions/nope", None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_error(&v, "The requested resource does not exist.");
    api.guest(Method::PUT, "namespaces/_/triggers/t", Some(json!({}))).await;
    let (s, v) = api.guest(Method::DELETE, "namespaces/_/triggers/t", None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["name"], "t");
    let (s, _) = api.guest(Method::DELETE, "namespaces/_/triggers/t", None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_name_taken_in_another_collection_is_a_409() {
    let api = Api::start().await;
    let (s, _) = api.guest(Method::PUT, "namespaces/_/triggers/both", Some(json!({}))).await;
    assert_eq!(s, StatusCode::OK);
    let (s, v) = api.guest(Method::PUT, "namespaces/_/actions/both", Some(hello())).await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    assert!(v["error"].is_string());
}

#[tokio::test]
async fn lists_page_with_limit_and_skip() {
    let api = Api::start().await;
    for i in 0..5 {
        let (s, _) = api.guest(Method::PUT, &format!("namespaces/_/actions/a{i}"), Some(hello())).await;
        assert_eq!(s, StatusCode::OK);
    }
    let (s, v) = api.guest(Method::GET, "namespaces/_/actions", None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v.as_array().unwrap().len(), 5);
    let (_, page) = api.guest(Method::GET, "namespaces/_/actions?limit=2&skip=1", None).await;
    let page = page.as_array().unwrap();
    assert_eq!(page.len(), 2);
    // the list shows summaries: no code
    assert!(page.iter().all(|a| a["exec"].get("code").is_none()), "{page:?}");
}

#[tokio::test]
async fn another_namespace_is_forbidden() {
    let api = Api::start().await;
    let (s, v) = api.guest(Method::GET, "namespaces/whisk.system/actions/secret", None).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_error(&v, "not authorized");
    let (s, _) = api.guest(Method::PUT, "namespaces/whisk.system/actions/x", Some(hello())).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn malformed_bodies_and_invalid_values_are_400() {
    let api = Api::start().await;
    let req = Request::builder()
        .method(Method::PUT)
        .uri("/api/v1/namespaces/_/actions/bad")
        .header(
            header::AUTHORIZATION,
            format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(&api.guest)),
        )
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from("{not json"))
        .unwrap();
    let resp = api.router.clone().oneshot(req).await.unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let (s, v) = api
        .guest(Method::PUT, "namespaces/_/actions/bad", Some(json!({"exec": {"kind": "cobol:1", "code": "x"}})))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert!(v["error"].is_string());
    let (s, _) = api
        .guest(
            Method::PUT,
            "namespaces/_/actions/bad",
            Some(json!({"exec": hello()["exec"], "limits": {"timeout": 1}})),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn firing_a_trigger_without_active_rules_is_204_and_rules_need_their_trigger() {
    let api = Api::start().await;
    api.guest(Method::PUT, "namespaces/_/triggers/quiet", Some(json!({}))).await;
    let (s, _) = api.guest(Method::POST, "namespaces/_/triggers/quiet", Some(json!({"x": 1}))).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = api.guest(Method::POST, "namespaces/_/triggers/absent", Some(json!({}))).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    api.guest(Method::PUT, "namespaces/_/actions/act", Some(hello())).await;
    let (s, v) =
        api.guest(Method::PUT, "namespaces/_/rules/r", Some(json!({"trigger": "/_/absent", "action": "/_/act"}))).await;
    assert!(s.is_client_error(), "{s} {v}");
    assert!(v["error"].is_string());
}
