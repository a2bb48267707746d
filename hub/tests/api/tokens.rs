//! Scoped credentials against the real hub binary (`testkit::hub`, anonymous reads off): every token does
//! exactly its job and nothing else; tokens created, rotated and revoked while the hub runs take effect
//! at once; unknown site and wrong token get the same 401; tokens are stored hashed.

use fogwhisk_testkit::hub::{add_site, add_token, Hub};
use reqwest::{Client, Method};
use serde_json::{json, Value};

use crate::helpers::record;

const TZ: &str = "Europe/Rome";

fn chart(version: &str) -> Vec<u8> {
    let yaml = format!("apiVersion: v2\nname: edge\nversion: {version}\n");
    let mut b = tar::Builder::new(flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default()));
    let mut h = tar::Header::new_gnu();
    h.set_size(yaml.len() as u64);
    h.set_mode(0o644);
    b.append_data(&mut h, "edge/Chart.yaml", yaml.as_bytes()).unwrap();
    b.into_inner().unwrap().finish().unwrap()
}

struct Caller<'a> {
    hub: &'a Hub,
    http: Client,
}

impl Caller<'_> {
    async fn call(&self, token: Option<&str>, method: Method, path: &str, body: Option<Vec<u8>>) -> (u16, Value) {
        let mut r = self.http.request(method, format!("{}{path}", self.hub.url));
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        if let Some(b) = body {
            r = r.header("content-type", "application/json").body(b);
        }
        let resp = r.send().await.unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    async fn push(&self, token: Option<&str>, site: &str, mean: f64) -> (u16, Value) {
        let body = json!({"records": [record(1, "temperature", "2026-11-20", TZ, mean)]});
        self.call(token, Method::POST, &format!("/api/v1/sites/{site}/aggregates"), Some(body.to_string().into_bytes()))
            .await
    }
}

#[tokio::test]
async fn each_token_does_exactly_its_job() {
    let data = tempfile::tempdir().unwrap();
    let torino = add_site(data.path(), "torino", TZ);
    let milano = add_site(data.path(), "milano", TZ);
    let (publisher_id, publisher) = add_token(data.path(), "publisher");
    let (_, reader) = add_token(data.path(), "reader");
    let hub = Hub::start_with_env(data.path(), "127.0.0.1:0", &[("FOGWHISK_HUB_ANONYMOUS_READS", "false")]);
    let admin = hub.admin_token();
    let c = Caller { hub: &hub, http: Client::new() };
    let token = |who: &str| -> Option<&str> {
        match who {
            "admin" => Some(&admin),
            "publisher" => Some(&publisher),
            "reader" => Some(&reader),
            "torino" => Some(&torino),
            "milano" => Some(&milano),
            "bogus" => Some("0123456789abcdef0123456789abcdef"),
            _ => None,
        }
    };
    let everyone = ["admin", "publisher", "reader", "torino", "none", "bogus"];
    let expect = |allowed: &[&str], who: &str| -> u16 {
        if allowed.contains(&who) {
            200
        } else if matches!(who, "none" | "bogus") {
            401
        } else {
            403
        }
    };

    // Reads and admin routes, each credential against each.
    let routes: [(&str, &[&str]); 7] = [
        ("/api/v1/sites", &["admin"]),
        ("/api/v1/tokens", &["admin"]),
        ("/api/v1/audit", &["admin"]),
        ("/api/v1/aggregates", &["reader"]),
        ("/", &["reader"]),
        ("/index.yaml", &["reader", "publisher", "torino"]),
        ("/api/charts", &["reader", "publisher", "torino"]),
    ];
    for (path, allowed) in routes {
        for who in everyone {
            let (status, body) = c.call(token(who), Method::GET, path, None).await;
            assert_eq!(status, expect(allowed, who), "GET {path} as {who}: {body}");
        }
    }
    let (status, _) = c.call(None, Method::GET, "/health", None).await;
    assert_eq!(status, 200);

    // Pushing: only a site's own token, for its own site.
    for who in ["admin", "publisher", "reader", "milano", "none", "bogus"] {
        let (status, body) = c.push(token(who), "torino", 99.0).await;
        assert_eq!(status, if matches!(who, "none" | "bogus") { 401 } else { 403 }, "push torino as {who}: {body}");
        assert!(!body.to_string().contains("milano"), "a 403 does not name the token's site: {body}");
    }
    assert_eq!(c.push(token("torino"), "torino", 21.0).await.0, 200);
    // An unknown site: a wrong token gets the very same 401 as for a known one; a valid site token a 403.
    let known = c.push(token("bogus"), "torino", 1.0).await;
    let unknown = c.push(token("bogus"), "napoli", 1.0).await;
    assert_eq!((known.0, &known.1), (unknown.0, &unknown.1));
    assert_eq!(c.push(token("torino"), "napoli", 1.0).await.0, 403);
    let stored = c.call(token("reader"), Method::GET, "/api/v1/aggregates?site=torino", None).await.1;
    assert_eq!(stored["records"].as_array().unwrap().len(), 1);
    assert_eq!(stored["records"][0]["record"]["mean"], 21.0, "nobody else's push landed: {stored}");

    // Charts: only the publisher uploads and deletes.
    for who in everyone {
        let (status, body) = c.call(token(who), Method::POST, "/api/charts", Some(chart("0.1.0"))).await;
        let want = if who == "publisher" { 201 } else { expect(&[], who) };
        assert_eq!(status, want, "upload as {who}: {body}");
    }
    for who in ["admin", "reader", "torino"] {
        assert_eq!(c.call(token(who), Method::DELETE, "/api/charts/edge/0.1.0", None).await.0, 403, "{who}");
    }
    // Site administration: only the admin.
    let site = json!({"id": "napoli", "tz": TZ}).to_string().into_bytes();
    for who in ["publisher", "reader", "torino"] {
        assert_eq!(c.call(token(who), Method::POST, "/api/v1/sites", Some(site.clone())).await.0, 403, "{who}");
        let new = json!({"role": "admin"}).to_string().into_bytes();
        assert_eq!(c.call(token(who), Method::POST, "/api/v1/tokens", Some(new)).await.0, 403, "{who}");
    }
    assert_eq!(c.call(token("admin"), Method::POST, "/api/v1/sites", Some(site)).await.0, 201);

    // The audit names the credential, never the token.
    let audit = c.call(token("admin"), Method::GET, "/api/v1/audit", None).await.1;
    let upload = audit.as_array().unwrap().iter().find(|e| e["action"] == "chart.upload").expect("upload audited");
    assert_eq!((upload["credential"].as_str(), upload["outcome"].as_str()), (Some(publisher_id.as_str()), Some("ok")));
    assert!(audit.as_array().unwrap().iter().any(|e| e["action"] == "site.add" && e["credential"] == "admin"));
    let text = audit.to_string();
    assert!(![&publisher, &admin, &torino].iter().any(|t| text.contains(t.as_str())), "{text}");
}

#[tokio::test]
async fn tokens_are_created_rotated_and_revoked_while_the_hub_runs() {
    let data = tempfile::tempdir().unwrap();
    let torino = add_site(data.path(), "torino", TZ);
    let hub = Hub::start_with_env(data.path(), "127.0.0.1:0", &[("FOGWHISK_HUB_ANONYMOUS_READS", "false")]);
    let admin = hub.admin_token();
    let c = Caller { hub: &hub, http: Client::new() };
    let c = &c;
    let index = |t: String| async move { c.call(Some(&t), Method::GET, "/index.yaml", None).await.0 };

    let new = json!({"role": "reader", "label": "grafana"}).to_string().into_bytes();
    let (status, issued) = c.call(Some(&admin), Method::POST, "/api/v1/tokens", Some(new)).await;
    assert_eq!(status, 201, "{issued}");
    let (id, reader) = (issued["id"].as_str().unwrap().to_string(), issued["token"].as_str().unwrap().to_string());
    assert!(id.starts_with("reader-"), "{id}");
    assert_eq!(index(reader.clone()).await, 200);
    let bad = json!({"role": "site"}).to_string().into_bytes();
    assert_eq!(c.call(Some(&admin), Method::POST, "/api/v1/tokens", Some(bad)).await.0, 400);

    // Rotation: the old token is refused from the same moment the new one works.
    let (status, rotated) = c.call(Some(&admin), Method::POST, &format!("/api/v1/tokens/{id}/rotate"), None).await;
    assert_eq!(status, 200, "{rotated}");
    let reader2 = rotated["token"].as_str().unwrap().to_string();
    assert_eq!(index(reader.clone()).await, 401);
    assert_eq!(index(reader2.clone()).await, 200);
    // Revocation: at once.
    assert_eq!(c.call(Some(&admin), Method::DELETE, &format!("/api/v1/tokens/{id}"), None).await.0, 204);
    assert_eq!(index(reader2).await, 401);
    assert_eq!(c.call(Some(&admin), Method::DELETE, &format!("/api/v1/tokens/{id}"), None).await.0, 404);

    // A site token: rotate, then revoke (the site stays registered).
    assert_eq!(c.push(Some(&torino), "torino", 20.0).await.0, 200);
    let (status, rotated) = c.call(Some(&admin), Method::POST, "/api/v1/tokens/site:torino/rotate", None).await;
    assert_eq!(status, 200, "{rotated}");
    let torino2 = rotated["token"].as_str().unwrap().to_string();
    assert_eq!(c.push(Some(&torino), "torino", 20.0).await.0, 401);
    assert_eq!(c.push(Some(&torino2), "torino", 20.0).await.0, 200);
    assert_eq!(c.call(Some(&admin), Method::DELETE, "/api/v1/tokens/site:torino", None).await.0, 204);
    assert_eq!(c.push(Some(&torino2), "torino", 20.0).await.0, 401);
    let (_, list) = c.call(Some(&admin), Method::GET, "/api/v1/tokens", None).await;
    let site = list.as_array().unwrap().iter().find(|t| t["id"] == "site:torino").expect("listed");
    assert_eq!(site["active"], false);
    assert!(!list.to_string().contains("hash"), "{list}");
    // The bootstrap admin is configuration: it cannot be revoked through the API.
    let (status, body) = c.call(Some(&admin), Method::DELETE, "/api/v1/tokens/admin", None).await;
    assert_eq!((status, body["code"].as_str()), (400, Some("bootstrap_token")));

    // Tokens are stored hashed: the store file holds none of them.
    drop(hub);
    let db = std::fs::read(data.path().join("hub.redb")).unwrap();
    for t in [&reader, &torino, &torino2] {
        assert!(!db.windows(t.len()).any(|w| w == t.as_bytes()), "a token in the store");
    }
    // The CLI works on the same store once the hub is stopped.
    let (id, t) = add_token(data.path(), "publisher");
    assert!(id.starts_with("publisher-") && t.len() == 64);
}

#[tokio::test]
async fn every_route_of_the_access_table_exists_and_is_guarded() {
    use fogwhisk_hub::access::{Access, ROUTES};
    let app = crate::helpers::spawn_app_with(|s| s.anonymous_reads = false).await;
    for (method, path, access) in ROUTES {
        // Every path parameter (`{site}`, `{*name}`, ...) filled with a plain value.
        let concrete: String =
            path.split('/').map(|seg| if seg.starts_with('{') { "x" } else { seg }).collect::<Vec<_>>().join("/");
        let r = app.client.request(method.clone(), format!("{}{concrete}", app.base)).send().await.unwrap();
        // 401 comes from the guard, which runs only on a matched route (the fallback answers 404).
        let want_open = *access == Access::Public;
        assert_eq!(r.status() == 401, !want_open, "{method} {path}: {}", r.status());
        assert_ne!(r.status(), 500, "{method} {path}");
    }
    // A method the table does not list on a known path: 405 in the error shape, no handler runs.
    let r = app.client.put(format!("{}/api/charts", app.base)).send().await.unwrap();
    assert_eq!(r.status(), 405);
    assert_eq!(r.json::<Value>().await.unwrap()["code"], "method_not_allowed");
    app.stop().await;
}
