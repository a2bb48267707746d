//! A minimal host for the feeds, used by the crash test and for trying a broker by hand: it keeps
//! one MQTT subscription and appends every fired payload as a JSON line to a file (fsynced before
//! the fire counts as recorded).
//!
//! `feeds-probe --data DIR --url mqtt://HOST:PORT --topic FILTER [--qos 1] [--direct] --out FILE`

use std::{io::Write, path::PathBuf, sync::Arc, sync::Mutex};

use anyhow::{bail, Context, Result};
use fogwhisk_feeds::{FeedError, FeedRequest, Feeds, FeedsOptions, FireError, TriggerSink};
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

const TRIGGER: &str = "/probe/messages";

struct FileSink {
    file: Mutex<std::fs::File>,
}

#[async_trait::async_trait]
impl TriggerSink for FileSink {
    async fn fire(&self, trigger: &str, payload: Value) -> Result<(), FireError> {
        let line = format!("{}\n", json!({"trigger": trigger, "payload": payload}));
        let mut f = self.file.lock().map_err(|_| FireError::Unavailable("sink lock poisoned".into()))?;
        f.write_all(line.as_bytes()).and_then(|_| f.sync_data()).map_err(|e| FireError::Unavailable(e.to_string()))
    }
}

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned()
}

#[tokio::main]
async fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let (Some(data), Some(url), Some(topic), Some(out)) =
        (arg(&args, "--data"), arg(&args, "--url"), arg(&args, "--topic"), arg(&args, "--out"))
    else {
        bail!("usage: feeds-probe --data DIR --url URL --topic FILTER [--qos 0|1] [--direct] --out FILE");
    };
    let qos = arg(&args, "--qos").unwrap_or_else(|| "1".into());
    let file =
        std::fs::OpenOptions::new().create(true).append(true).open(PathBuf::from(&out)).context("opening --out")?;
    let sink = Arc::new(FileSink { file: Mutex::new(file) });
    let stop = CancellationToken::new();
    let options = FeedsOptions { direct_fire: args.iter().any(|a| a == "--direct"), ..FeedsOptions::default() };
    let feeds = Feeds::start_with(&PathBuf::from(data), sink, stop.clone(), options).await.context("starting feeds")?;
    let read = FeedRequest::new("READ", TRIGGER, Default::default())?;
    if let Err(FeedError::NotFound(_)) = feeds.mqtt(read).await {
        let params = json!({"url": url, "topic": topic, "qos": qos}).as_object().cloned().unwrap_or_default();
        feeds.mqtt(FeedRequest::new("CREATE", TRIGGER, params)?).await.context("creating the subscription")?;
    }
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    feeds.shutdown().await;
    println!("{}", serde_json::to_string(&feeds.stats())?);
    Ok(())
}
