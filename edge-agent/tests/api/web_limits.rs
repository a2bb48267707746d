//! The web route resolves the action and checks its auth before it reads a body (issue 9): 50 concurrent
//! unauthenticated 49 MB requests are answered at once and the agent's memory stays bounded.

use std::time::{Duration, Instant};

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::Agent;

const BODY: usize = 49 * 1024 * 1024;
const CHUNK: usize = 64 * 1024;

/// Resident memory of `pid` in kB (`VmRSS` of /proc/<pid>/status).
fn rss_kb(pid: u32) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    s.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Sends a request announcing a 49 MB body (Content-Length, or chunked) and keeps writing it while reading the
/// answer; returns the status and how long the answer took. Writing stops when the server stops reading.
async fn big_request(addr: &str, path: &str, chunked: bool) -> (u16, Duration) {
    let start = Instant::now();
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut rd, mut wr) = stream.into_split();
    let framing = if chunked { "Transfer-Encoding: chunked".to_string() } else { format!("Content-Length: {BODY}") };
    let head =
        format!("POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/octet-stream\r\n{framing}\r\n\r\n");
    wr.write_all(head.as_bytes()).await.unwrap();
    let writer = tokio::spawn(async move {
        let chunk = vec![b'x'; CHUNK];
        let mut sent = 0;
        while sent < BODY {
            let r = if chunked {
                let mut c = format!("{CHUNK:x}\r\n").into_bytes();
                c.extend_from_slice(&chunk);
                c.extend_from_slice(b"\r\n");
                wr.write_all(&c).await
            } else {
                wr.write_all(&chunk).await
            };
            if r.is_err() {
                return;
            }
            sent += CHUNK;
        }
        if chunked {
            let _ = wr.write_all(b"0\r\n\r\n").await;
        }
    });
    let mut buf = Vec::new();
    let mut tmp = [0u8; 4096];
    let status = loop {
        if let Some(end) = buf.windows(2).position(|w| w == b"\r\n") {
            let line = String::from_utf8_lossy(&buf[..end]).to_string();
            break line.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
        }
        match tokio::time::timeout(Duration::from_secs(30), rd.read(&mut tmp)).await {
            Ok(Ok(n)) if n > 0 => buf.extend_from_slice(&tmp[..n]),
            other => panic!("no answer to {path}: {other:?} after {:?}", start.elapsed()),
        }
    };
    let took = start.elapsed();
    writer.abort();
    (status, took)
}

#[tokio::test]
async fn large_unauthenticated_web_bodies_are_not_buffered() {
    let a = Agent::spawn(None, &[]).await;
    let pid = a.child.as_ref().unwrap().id();
    let code = "function main(p){ return {ok: true, user: p.__ow_user || null} }";
    let body = json!({"exec":{"kind":"nodejs:20","code":code},
        "annotations":[{"key":"web-export","value":true},{"key":"require-whisk-auth","value":true}]});
    assert_eq!(a.put("actions/guarded?overwrite=true", body).await.0, 200);
    let addr = a.api.trim_start_matches("http://").to_string();
    let baseline = rss_kb(pid);

    let sampling = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let sampler = {
        let on = sampling.clone();
        tokio::spawn(async move {
            let mut peak = 0;
            while on.load(std::sync::atomic::Ordering::Relaxed) {
                peak = peak.max(rss_kb(pid));
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            peak
        })
    };
    let started = Instant::now();
    let mut calls = Vec::new();
    for i in 0..50 {
        let addr = addr.clone();
        // Half to an action that does not exist, half to one that requires credentials (none sent);
        // both framings: a 49 MB Content-Length, and chunked without any length announced.
        let (path, expect) = if i % 2 == 0 {
            ("/api/v1/web/guest/default/missing.json", 404)
        } else {
            ("/api/v1/web/guest/default/guarded.json", 401)
        };
        calls.push(tokio::spawn(async move { (expect, big_request(&addr, path, i % 4 >= 2).await) }));
    }
    let mut slowest = Duration::ZERO;
    for c in calls {
        let (expect, (status, took)) = c.await.unwrap();
        assert_eq!(status, expect);
        slowest = slowest.max(took);
    }
    let all = started.elapsed();
    sampling.store(false, std::sync::atomic::Ordering::Relaxed);
    let peak = sampler.await.unwrap();
    eprintln!(
        "50 x 49 MB web requests: all answered in {all:?} (slowest {slowest:?}); agent RSS {} MB before, peak {} MB",
        baseline / 1024,
        peak / 1024
    );
    assert!(slowest < Duration::from_secs(5), "an answer took {slowest:?}");
    assert!(peak < 300 * 1024, "agent RSS peaked at {} MB", peak / 1024);

    // The agent still answers, and an authorized caller still gets through; an authorized but oversized
    // body is refused with 413 without being read.
    let r = a.http.get(format!("{}/api/v1", a.api)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let url = format!("{}/api/v1/web/guest/default/guarded.json", a.api);
    let r = a.http.post(&url).basic_auth(&a.auth.0, Some(&a.auth.1)).json(&json!({"x": 1})).send().await.unwrap();
    let status = r.status().as_u16();
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!((status, &v["ok"], &v["user"]), (200, &json!(true), &json!("guest")), "{v}");
    let auth = base64_auth(&a.auth.0, &a.auth.1);
    let (status, took) = big_request_with_auth(&addr, "/api/v1/web/guest/default/guarded.json", &auth).await;
    assert_eq!(status, 413);
    assert!(took < Duration::from_secs(5), "413 took {took:?}");
}

fn base64_auth(u: &str, k: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(format!("{u}:{k}"))
}

/// A 49 MB Content-Length request with Basic credentials; the answer's status and delay.
async fn big_request_with_auth(addr: &str, path: &str, auth: &str) -> (u16, Duration) {
    let start = Instant::now();
    let mut s = TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Basic {auth}\r\nContent-Type: application/json\r\nContent-Length: {BODY}\r\n\r\n"
    );
    s.write_all(head.as_bytes()).await.unwrap();
    let mut buf = [0u8; 512];
    let n = tokio::time::timeout(Duration::from_secs(30), s.read(&mut buf)).await.unwrap().unwrap();
    let line = String::from_utf8_lossy(&buf[..n]).to_string();
    (line.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0), start.elapsed())
}
