//! Python 3.11 runtime through the pool: plain code, zip with `__main__.py`, errors, logs.

mod common;

use common::*;
use fogwhisk_runtime::RunStatus;
use serde_json::json;

#[tokio::test]
async fn plain_code_returns_dict_and_logs() {
    let t = pool().await;
    let code = r#"
import sys

def main(args):
    print("hello from", args.get("name"))
    print("warn", file=sys.stderr)
    return {"greeting": "Hello " + args.get("name", "?")}
"#;
    let spec = python("py@1", code);
    let out = t.pool.run(&spec, ctx(json!({"name": "edge"}))).await;
    assert_eq!(out.status, RunStatus::Success, "{:?}", out);
    assert_eq!(out.result, json!({"greeting": "Hello edge"}));
    // per-stream order is kept; the order across streams is the arrival order
    let mut texts = log_texts(&out.logs);
    texts.sort();
    assert_eq!(texts, ["stderr: warn", "stdout: hello from edge"]);
    let again = t.pool.run(&spec, ctx(json!({"name": "two"}))).await;
    assert!(again.init_time_ms.is_none(), "second run is warm");
    let mut texts = log_texts(&again.logs);
    texts.sort();
    assert_eq!(texts, ["stderr: warn", "stdout: hello from two"]);
    t.pool.shutdown().await;
}

#[tokio::test]
async fn custom_main_and_list_result() {
    let t = pool().await;
    let mut spec = python("pymain@1", "def handler(a):\n    return [a['x'], 2]\n");
    spec.main = "handler".into();
    let out = t.pool.run(&spec, ctx(json!({"x": 1}))).await;
    assert_eq!((out.status, out.result), (RunStatus::Success, json!([1, 2])));
    let out = t.pool.run(&python("pyerr@1", "def main(a):\n    return {'error': 'bad input'}\n"), empty_ctx()).await;
    assert_eq!(out.status, RunStatus::ApplicationError);
    t.pool.shutdown().await;
}

#[tokio::test]
async fn zip_with_main_module_and_helper() {
    let t = pool().await;
    let code = zip_base64(&[
        ("__main__.py", "import helper\n\ndef main(args):\n    return {'sum': helper.add(args['a'], args['b'])}\n"),
        ("helper.py", "def add(a, b):\n    return a + b\n"),
    ]);
    let mut spec = python("pyzip@1", &code);
    spec.binary = true;
    let out = t.pool.run(&spec, ctx(json!({"a": 2, "b": 40}))).await;
    assert_eq!(out.status, RunStatus::Success, "{:?}", out);
    assert_eq!(out.result, json!({"sum": 42}));
    t.pool.shutdown().await;
}

#[tokio::test]
async fn exceptions_and_bad_results() {
    let t = pool().await;
    let out = t.pool.run(&python("pyexc@1", "def main(a):\n    raise ValueError('no reading')\n"), empty_ctx()).await;
    assert_eq!(out.status, RunStatus::DeveloperError);
    assert_eq!(out.result, json!({"error": "no reading"}));
    assert!(out.logs.iter().any(|l| l.contains("stderr: Traceback")), "{:?}", out.logs);
    assert!(out.logs.iter().any(|l| l.contains("stderr: ValueError: no reading")), "{:?}", out.logs);
    let out = t.pool.run(&python("pystr@1", "def main(a):\n    return 'text'\n"), empty_ctx()).await;
    assert_eq!(out.result, json!({"error": "The action did not return a dictionary or array."}));
    assert_eq!(out.status, RunStatus::DeveloperError);
    let out = t.pool.run(&python("pysyntax@1", "def main(a)\n    return {}\n"), empty_ctx()).await;
    assert_eq!(out.status, RunStatus::DeveloperError);
    let err = out.result["error"].as_str().unwrap();
    assert!(err.contains("SyntaxError"), "{err}");
    assert!(out.logs.iter().any(|l| l.contains("SyntaxError")), "{:?}", out.logs);
    let out =
        t.pool.run(&python("pyimport@1", "import not_a_module_here\ndef main(a):\n    return {}\n"), empty_ctx()).await;
    assert_eq!(out.status, RunStatus::DeveloperError);
    assert!(out.result["error"].as_str().unwrap().contains("ModuleNotFoundError"), "{:?}", out.result);
    assert_eq!(t.pool.stats().live, 0);
    t.pool.shutdown().await;
}
