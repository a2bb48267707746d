//! Actions cannot see the agent's secrets: not in their environment, not through inherited descriptors, not in the data folder.

use serde_json::json;

use crate::helpers::Agent;

const PROBE: &str = r#"
const fs = require('fs');
function main(p) {
  const fds = fs.readdirSync('/proc/self/fd').map(fd => { try { return fs.readlinkSync('/proc/self/fd/' + fd) } catch (e) { return '' } });
  let data = 'unreadable';
  for (const f of ['namespaces.json', 'wskprops', 'store.redb']) {
    try { fs.readFileSync(p.data + '/' + f); data = 'read ' + f; } catch (e) {}
  }
  return { env: process.env, fds, data };
}"#;

#[tokio::test]
async fn actions_cannot_reach_agent_secrets() {
    let a = Agent::spawn(None, &[("FOGWHISK_EDGE_SITE_ID", "secretsite"), ("AGENT_SECRET_TEST", "s3cr3t-value")]).await;
    a.node_action("probe", PROBE).await;
    let (s, r) = a.post("actions/probe?blocking=true&result=true", json!({"data": a.data})).await;
    assert_eq!(s, 200, "{r}");
    let env = r["env"].as_object().unwrap();
    for k in env.keys() {
        assert!(
            k.starts_with("__OW_") || ["PATH", "HOME", "LANG"].contains(&k.as_str()),
            "unexpected variable {k} in the action's environment"
        );
    }
    let dump = r.to_string();
    assert!(!dump.contains("s3cr3t-value") && !dump.contains("secretsite"));
    assert!(!dump.contains(&a.auth.1), "the namespace key reached the action");
    assert!(env.get("__OW_API_KEY").is_none());
    assert_eq!(env["__OW_NAMESPACE"], "guest");
    assert_eq!(r["data"], "unreadable");
    for fd in r["fds"].as_array().unwrap() {
        let fd = fd.as_str().unwrap();
        assert!(!fd.contains("store.redb") && !fd.contains(a.data.to_str().unwrap()), "inherited {fd}");
    }
}

#[tokio::test]
async fn api_key_only_with_provide_api_key() {
    let a = Agent::spawn(None, &[]).await;
    let code = "function main(){ return {key: process.env.__OW_API_KEY || null} }";
    let body = json!({"exec":{"kind":"nodejs:20","code":code},"annotations":[{"key":"provide-api-key","value":true}]});
    assert_eq!(a.put("actions/withkey", body).await.0, 200);
    let (_, r) = a.post("actions/withkey?blocking=true&result=true", json!({})).await;
    assert_eq!(r["key"], format!("{}:{}", a.auth.0, a.auth.1));
}
