//! API gateway routes with requests shaped exactly as `wsk api` (openwhisk-cli + client-go) sends them, refusals
//! as the route management actions give them, and routes that survive a restart of the agent binary.

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::Agent;

/// Answers both response types: `.json` shows the whole result, `.http` renders its `body`.
const HELLO: &str =
    "function main(p){const r = {greeting: 'hi ' + (p.name || 'you'), path: p.__ow_path}; return {...r, body: r}}";

async fn mgmt(a: &Agent, method: Method, op: &str, query: &str, body: Option<Value>) -> (u16, Value) {
    let url = format!("{}/api/v1/web/whisk.system/apimgmt/{op}.http?{query}", a.api);
    let mut req = a.http.request(method, url).basic_auth(&a.auth.0, Some(&a.auth.1));
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req.send().await.unwrap();
    let s = r.status().as_u16();
    (s, r.json().await.unwrap_or(Value::Null))
}

/// `wsk api create /shop /items/{id} get hello --response-type http` (what client-go's ApiService.Insert sends).
fn wsk_create(a: &Agent, base: &str, rel: &str, verb: &str, action: &str) -> Value {
    let params: Vec<Value> = rel
        .split('/')
        .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .map(|n| json!({"name": n, "in": "path", "description": format!("Default description for '{n}'"), "required": true, "type": "string"}))
        .collect();
    let mut doc = json!({
        "namespace": "guest", "gatewayBasePath": base, "gatewayPath": rel, "gatewayMethod": verb.to_uppercase(),
        "id": format!("API:guest:{base}"),
        "action": {"name": action, "namespace": "guest", "backendMethod": verb.to_uppercase(),
            "backendUrl": format!("{}/api/v1/web/guest/default/{action}.http", a.api),
            "authkey": format!("{}:{}", a.auth.0, a.auth.1)},
    });
    if !params.is_empty() {
        doc["pathParameters"] = json!(params);
    }
    json!({"apidoc": doc})
}

fn guid(a: &Agent) -> String {
    format!("accesstoken=DUMMY+TOKEN&spaceguid={}", a.auth.0)
}

#[tokio::test]
async fn wsk_api_create_list_call_delete() {
    let a = Agent::spawn(None, &[]).await;
    let (s, b) = a
        .put("actions/hello", json!({"exec": {"kind": "nodejs:20", "code": HELLO}, "annotations": [{"key": "web-export", "value": true}]}))
        .await;
    assert_eq!(s, 200, "{b}");
    let q = format!("responsetype=http&{}", guid(&a));
    let (s, api) =
        mgmt(&a, Method::POST, "createApi", &q, Some(wsk_create(&a, "/shop", "/items/{id}", "get", "hello"))).await;
    assert_eq!(s, 200, "{api}");
    let url = api["gwApiUrl"].as_str().unwrap().to_string();
    assert_eq!(url, format!("{}/api/{}/shop", a.api, a.auth.0));
    let op = &api["apidoc"]["paths"]["/items/{id}"]["get"];
    assert_eq!(op["operationId"], "getItemsId");
    assert_eq!(op["x-openwhisk"]["url"], format!("{}/api/v1/web/guest/default/hello.http", a.api));
    let cases = &api["apidoc"]["x-ibm-configuration"]["assembly"]["execute"][0]["operation-switch"]["case"];
    assert_eq!(
        cases[0]["execute"][0]["invoke"]["target-url"],
        format!("{}/api/v1/web/guest/default/hello.http$(request.path)", a.api)
    );

    // The route answers at the gateway URL, with the gateway path as __ow_path; other verbs do not.
    let r = a.http.get(format!("{url}/items/7?name=wsk")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let out: Value = r.json().await.unwrap();
    assert_eq!(out, json!({"greeting": "hi wsk", "path": "/shop/items/7"}));
    assert_eq!(a.http.delete(format!("{url}/items/7")).send().await.unwrap().status().as_u16(), 404);

    // `wsk api list` (client-go always sends limit and skip) and `wsk api get /shop`.
    let (s, l) = mgmt(&a, Method::GET, "getApi", &format!("limit=0&skip=0&{}", guid(&a)), None).await;
    assert_eq!(s, 200, "{l}");
    assert_eq!(l["apis"].as_array().unwrap().len(), 1);
    assert_eq!(l["apis"][0]["value"]["gwApiUrl"], json!(url));
    let (_, g) = mgmt(&a, Method::GET, "getApi", &format!("basepath=%2Fshop&{}", guid(&a)), None).await;
    assert_eq!(g["apis"][0]["value"]["apidoc"]["basePath"], "/shop");
    let (_, none) = mgmt(&a, Method::GET, "getApi", "basepath=%2Fnothing", None).await;
    assert_eq!(none, json!({"apis": []}));

    // `wsk api delete /shop /items/{id} get`, then the API is gone with its last operation.
    let (s, d) = mgmt(
        &a,
        Method::DELETE,
        "deleteApi",
        &format!("basepath=%2Fshop&relpath=%2Fitems%2F%7Bid%7D&operation=get&{}", guid(&a)),
        None,
    )
    .await;
    assert_eq!((s, d), (200, json!({})));
    assert_eq!(a.http.get(format!("{url}/items/7")).send().await.unwrap().status().as_u16(), 404);
    let (_, l) = mgmt(&a, Method::GET, "getApi", "", None).await;
    assert_eq!(l, json!({"apis": []}));
}

#[tokio::test]
async fn refusals_are_the_route_management_actions_ones() {
    let a = Agent::spawn(None, &[]).await;
    let full = wsk_create(&a, "/b", "/p", "get", "hello");
    let without = |path: &[&str]| {
        let mut v = full.clone();
        let (last, parents) = path.split_last().unwrap();
        let mut cur = &mut v["apidoc"];
        for p in parents {
            cur = &mut cur[*p];
        }
        cur.as_object_mut().unwrap().remove(*last);
        v
    };
    let cases = [
        (json!({}), "apidoc is required."),
        (json!({"apidoc": "{nope"}), "apidoc field cannot be parsed. Ensure it is valid JSON."),
        (without(&["namespace"]), "apidoc is missing the namespace field"),
        (without(&["gatewayPath"]), "apidoc is missing the gatewayPath field"),
        (without(&["action"]), "apidoc is missing the action field."),
        (without(&["action", "backendUrl"]), "action is missing the backendUrl field."),
        (without(&["action", "authkey"]), "action is missing the authkey field."),
        (
            json!({"apidoc": {"namespace": "_", "swagger": "{\"basePath\":\"/s\",\"paths\":{}}"}}),
            "swagger is missing the info field.",
        ),
        (json!({"apidoc": {"namespace": "_", "gatewayBasePath": "/s", "swagger": "{}"}}), "mutually exclusive"),
        (wsk_create(&a, "/b/{x}", "/p", "get", "hello"), "The base path (/b/{x}) cannot have parameters."),
    ];
    for (body, says) in cases {
        let (s, b) = mgmt(&a, Method::POST, "createApi", "", Some(body.clone())).await;
        assert_eq!(s, 502, "{body} → {b}");
        assert!(b["error"].as_str().unwrap().contains(says), "{body}: want '{says}', got {b}");
    }
    let (s, b) = mgmt(&a, Method::DELETE, "deleteApi", "", None).await;
    assert_eq!((s, b["error"].as_str().unwrap()), (502, "basepath is required."));
    let (s, b) = mgmt(&a, Method::DELETE, "deleteApi", "basepath=%2Fb&operation=get", None).await;
    assert_eq!((s, b["error"].as_str().unwrap()), (502, "When specifying an operation, the path is required."));
    let (s, b) = mgmt(&a, Method::DELETE, "deleteApi", "basepath=%2Fb", None).await;
    assert_eq!((s, b["error"].as_str().unwrap()), (502, "API deletion failure: API '/b' does not exist."));
    assert_eq!(mgmt(&a, Method::POST, "createApi", "", Some(full.clone())).await.0, 200);
    let (s, b) = mgmt(&a, Method::DELETE, "deleteApi", "basepath=%2Fb&relpath=%2Fq", None).await;
    assert_eq!((s, b["error"].as_str().unwrap()), (502, "API deletion failure: path '/q' does not exist in the API"));
    let r = a
        .http
        .post(format!("{}/api/v1/web/whisk.system/apimgmt/createApi.http", a.api))
        .json(&full)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401, "the management API needs the caller's key");
}

#[tokio::test]
async fn routes_survive_a_restart_of_the_agent_binary() {
    let mut a = Agent::spawn(None, &[]).await;
    a.put(
        "actions/hello",
        json!({"exec": {"kind": "nodejs:20", "code": HELLO}, "annotations": [{"key": "web-export", "value": true}]}),
    )
    .await;
    let (s, api) =
        mgmt(&a, Method::POST, "createApi", "responsetype=json", Some(wsk_create(&a, "/keep", "/me", "post", "hello")))
            .await;
    assert_eq!(s, 200, "{api}");
    let dir = a.take_dir();
    let data = a.data.clone();
    drop(a);
    let b = Agent::spawn(Some(data), &[]).await;
    let (_, l) = mgmt(&b, Method::GET, "getApi", "basepath=%2Fkeep", None).await;
    assert_eq!(l["apis"][0]["value"]["apidoc"], api["apidoc"], "the stored API is unchanged");
    let url = l["apis"][0]["value"]["gwApiUrl"].as_str().unwrap().to_string();
    assert!(url.starts_with(&b.api), "{url} is at the restarted agent");
    let r = b.http.post(format!("{url}/me")).json(&json!({"name": "again"})).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["greeting"], "hi again");
    drop(dir);
}
