//! Node.js 20 runtime through the pool: results, error mapping, logs, zip actions.

mod common;

use common::*;
use fogwhisk_runtime::RunStatus;
use serde_json::json;

#[tokio::test]
async fn plain_code_returns_object() {
    let t = pool().await;
    let spec = node("hello@0.0.1", "function main(args) { return { greeting: 'Hello ' + args.name }; }");
    let out = t.pool.run(&spec, ctx(json!({"name": "edge"}))).await;
    assert_eq!(out.status, RunStatus::Success, "{:?}", out);
    assert_eq!(out.result, json!({"greeting": "Hello edge"}));
    assert!(out.init_time_ms.is_some());
    assert!(out.end_ms >= out.start_ms);
    assert_eq!(out.result_size, r#"{"greeting":"Hello edge"}"#.len());
    t.pool.shutdown().await;
}

#[tokio::test]
async fn exports_main_and_promise_result() {
    let t = pool().await;
    let code = "exports.main = (p) => new Promise((resolve) => setTimeout(() => resolve({ n: p.n * 2 }), 20));";
    let out = t.pool.run(&node("promise@1", code), ctx(json!({"n": 21}))).await;
    assert_eq!(out.status, RunStatus::Success, "{:?}", out);
    assert_eq!(out.result, json!({"n": 42}));
    // undefined result becomes {}
    let out = t.pool.run(&node("undef@1", "function main() {}"), empty_ctx()).await;
    assert_eq!((out.status, out.result), (RunStatus::Success, json!({})));
    t.pool.shutdown().await;
}

#[tokio::test]
async fn rejected_promise_is_application_error() {
    let t = pool().await;
    let spec = node("reject@1", "function main() { return Promise.reject(new Error('sensor offline')); }");
    let out = t.pool.run(&spec, empty_ctx()).await;
    assert_eq!(out.status, RunStatus::ApplicationError, "{:?}", out);
    assert_eq!(out.result, json!({"error": "sensor offline"}));
    // an application error keeps the process: next run is warm
    let again = t.pool.run(&spec, empty_ctx()).await;
    assert!(again.init_time_ms.is_none());
    let spec = node("reject2@1", "function main() { return Promise.reject({ code: 7 }); }");
    let out = t.pool.run(&spec, empty_ctx()).await;
    assert_eq!((out.status, out.result), (RunStatus::ApplicationError, json!({"error": {"code": 7}})));
    t.pool.shutdown().await;
}

#[tokio::test]
async fn thrown_exception_and_bad_results_are_developer_errors() {
    let t = pool().await;
    let out = t.pool.run(&node("throw@1", "function main() { throw new Error('boom'); }"), empty_ctx()).await;
    assert_eq!(out.status, RunStatus::DeveloperError);
    assert_eq!(out.result, json!({"error": "An error has occurred: Error: boom"}));
    assert!(out.logs.iter().any(|l| l.contains("stderr: Error: boom")), "{:?}", out.logs);
    let out = t.pool.run(&node("num@1", "function main() { return 42; }"), empty_ctx()).await;
    assert_eq!(out.status, RunStatus::DeveloperError);
    assert_eq!(out.result, json!({"error": "The action did not return a dictionary."}));
    let out = t.pool.run(&node("syntax@1", "function main( { return {}; }"), empty_ctx()).await;
    assert_eq!(out.status, RunStatus::DeveloperError);
    let err = out.result["error"].as_str().unwrap();
    assert!(err.starts_with("Initialization has failed due to: SyntaxError"), "{err}");
    let out = t.pool.run(&node("nomain@1", "function other() { return {}; }"), empty_ctx()).await;
    assert_eq!(out.status, RunStatus::DeveloperError);
    assert!(out.result["error"].as_str().unwrap().contains("Action entrypoint 'main' is not a function."));
    assert_eq!(t.pool.stats().live, 0, "failed processes are not kept");
    t.pool.shutdown().await;
}

/// Exactly the lines of activation `n`: each stream in write order. The order across the two streams is
/// the arrival order at the agent, which the operating system does not guarantee to match the write order.
fn assert_activation_logs(logs: &[String], n: u32) {
    let texts = log_texts(logs);
    let stdout: Vec<_> = texts.iter().filter(|t| t.starts_with("stdout: ")).cloned().collect();
    let stderr: Vec<_> = texts.iter().filter(|t| t.starts_with("stderr: ")).cloned().collect();
    assert_eq!(stdout, [format!("stdout: out-{n}-a"), format!("stdout: out-{n}-c")], "{logs:?}");
    assert_eq!(stderr, [format!("stderr: err-{n}-b")], "{logs:?}");
    assert_eq!(texts.len(), 3, "nothing else, no sentinel: {logs:?}");
    let stamps: Vec<&str> = logs.iter().map(|l| &l[..30]).collect();
    assert!(stamps.windows(2).all(|w| w[0] <= w[1]), "lines are merged in timestamp order: {logs:?}");
}

#[tokio::test]
async fn logs_are_formatted_ordered_and_split_by_activation() {
    let t = pool().await;
    let code = r#"
        let n = 0;
        function main(p) {
            n++;
            console.log('out-' + n + '-a');
            console.error('err-' + n + '-b');
            console.log('out-' + n + '-c');
            // output after the result is computed belongs to no activation of ours
            return { n };
        }"#;
    let spec = node("logs@1", code);
    let first = t.pool.run(&spec, empty_ctx()).await;
    assert_eq!(first.status, RunStatus::Success);
    assert_activation_logs(&first.logs, 1);
    for line in &first.logs {
        let ts = &line[..30];
        assert!(chrono::DateTime::parse_from_rfc3339(ts.trim_end()).is_ok(), "bad timestamp in {line}");
        assert_eq!(&line[30..31], " ");
        assert!(ts.ends_with('Z'));
    }
    let second = t.pool.run(&spec, empty_ctx()).await;
    assert!(second.init_time_ms.is_none());
    assert_activation_logs(&second.logs, 2);
    t.pool.shutdown().await;
}

#[tokio::test]
async fn logs_are_truncated_at_the_limit() {
    let t = pool().await;
    let mut spec = node(
        "biglog@1",
        "function main() { for (let i = 0; i < 100; i++) console.log('line ' + i + ' ' + 'x'.repeat(90)); return {}; }",
    );
    spec.logs_limit_bytes = 1000;
    let out = t.pool.run(&spec, empty_ctx()).await;
    assert_eq!(out.status, RunStatus::Success);
    let last = out.logs.last().unwrap();
    assert!(
        last.ends_with("Logs were truncated because the total bytes size exceeds the limit of 1000 bytes."),
        "{last}"
    );
    assert!(out.logs.len() < 15, "only about 1000 bytes are kept: {}", out.logs.len());
    let first_line = format!("stdout: line 0 {}", "x".repeat(90));
    assert!(out.logs[0].ends_with(&first_line), "{}", out.logs[0]);
    t.pool.shutdown().await;
}

#[tokio::test]
async fn zip_action_with_package_json_main() {
    let t = pool().await;
    let code = zip_base64(&[
        ("package.json", r#"{"name":"zipped","main":"lib/entry.js"}"#),
        (
            "lib/entry.js",
            "const h = require('./helper'); exports.main = (p) => ({ msg: h.shout(p.word), cwd: process.cwd() });",
        ),
        ("lib/helper.js", "exports.shout = (w) => w.toUpperCase() + '!';"),
    ]);
    let mut spec = node("zip@1", &code);
    spec.binary = true;
    let out = t.pool.run(&spec, ctx(json!({"word": "hi"}))).await;
    assert_eq!(out.status, RunStatus::Success, "{:?}", out);
    assert_eq!(out.result["msg"], "HI!");
    assert!(out.result["cwd"].as_str().unwrap().contains("/action-"));
    // `file.fn` entry point
    let code =
        zip_base64(&[("index.js", "exports.nope = 1;"), ("other.js", "exports.go = () => ({ via: 'other.go' });")]);
    let mut spec = node("zip2@1", &code);
    spec.binary = true;
    spec.main = "other.go".into();
    let out = t.pool.run(&spec, empty_ctx()).await;
    assert_eq!(out.result, json!({"via": "other.go"}), "{:?}", out);
    t.pool.shutdown().await;
}

#[tokio::test]
async fn init_env_and_require_work() {
    let t = pool().await;
    let mut spec = node(
        "initenv@1",
        "const os = require('os'); function main() { return { token: process.env.DB_TOKEN, arch: typeof os.arch() }; }",
    );
    spec.init_env.insert("DB_TOKEN".into(), "s3cr3t".into());
    let out = t.pool.run(&spec, empty_ctx()).await;
    assert_eq!(out.result, json!({"token": "s3cr3t", "arch": "string"}), "{:?}", out);
    t.pool.shutdown().await;
}
