//! MQTT feed configuration: broker URLs (with credentials kept out of logs and READ results, and
//! the CA file of a TLS broker) and the persisted subscription of one trigger.

use serde::{Deserialize, Serialize};

use super::topic::TopicFilter;
use crate::error::FeedError;

/// A broker address parsed from the feed's `url` parameter.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrokerUrl {
    /// TLS (`mqtts://`, `ssl://`) or plain TCP (`mqtt://`, `tcp://`, and the thesis' `http://`).
    pub tls: bool,
    pub host: String,
    pub port: u16,
    pub username: Option<String>,
    pub password: Option<String>,
    /// `mqtts://…?ca_file=/path/ca.crt`: trust only the CA certificates of this PEM file (default:
    /// the system's roots).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<String>,
}

impl std::fmt::Debug for BrokerUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.masked())
    }
}

fn decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned()
}

impl BrokerUrl {
    pub fn parse(raw: &str) -> Result<BrokerUrl, FeedError> {
        let bad = |why: &str| FeedError::BadRequest(format!("url is not a valid MQTT broker URL: {why}"));
        let u = url::Url::parse(raw.trim()).map_err(|e| bad(&e.to_string()))?;
        let (tls, default_port) = match u.scheme() {
            "mqtt" | "tcp" | "http" => (false, 1883),
            "mqtts" | "ssl" | "tls" => (true, 8883),
            other => return Err(bad(&format!("scheme '{other}' is not one of mqtt, mqtts, tcp, ssl, http"))),
        };
        let host = u.host_str().filter(|h| !h.is_empty()).ok_or_else(|| bad("it has no host"))?;
        let host = host.trim_start_matches('[').trim_end_matches(']').to_string();
        if !matches!(u.path(), "" | "/") || u.fragment().is_some() {
            return Err(bad("it must not have a path or fragment"));
        }
        let mut ca_file = None;
        for (k, v) in u.query_pairs() {
            match k.as_ref() {
                "ca_file" if tls && v.starts_with('/') && ca_file.is_none() => ca_file = Some(v.into_owned()),
                "ca_file" if !tls => return Err(bad("ca_file is only for TLS (mqtts://, ssl://) brokers")),
                "ca_file" => return Err(bad("ca_file must be one absolute path of a PEM file")),
                other => return Err(bad(&format!("unknown query parameter '{other}' (only ca_file)"))),
            }
        }
        if u.query() == Some("") {
            return Err(bad("it has an empty query"));
        }
        let username = Some(decode(u.username())).filter(|s| !s.is_empty());
        let password = u.password().map(decode);
        Ok(BrokerUrl { tls, host, port: u.port().unwrap_or(default_port), username, password, ca_file })
    }

    /// Identifies one connection: address, credentials and trusted CA (contains the password: never
    /// log it).
    pub fn key(&self) -> String {
        let mut key = format!(
            "{}://{}:{}@{}:{}",
            if self.tls { "mqtts" } else { "mqtt" },
            self.username.as_deref().unwrap_or(""),
            self.password.as_deref().unwrap_or(""),
            self.host,
            self.port
        );
        if let Some(ca) = &self.ca_file {
            key.push_str(&ca_query(ca));
        }
        key
    }

    /// The URL with the password replaced by `***`, for logs and READ.
    pub fn masked(&self) -> String {
        let scheme = if self.tls { "mqtts" } else { "mqtt" };
        let auth = match (&self.username, &self.password) {
            (Some(u), Some(_)) => format!("{u}:***@"),
            (Some(u), None) => format!("{u}@"),
            (None, Some(_)) => ":***@".to_string(),
            (None, None) => String::new(),
        };
        let host = if self.host.contains(':') { format!("[{}]", self.host) } else { self.host.clone() };
        let ca = self.ca_file.as_deref().map(ca_query).unwrap_or_default();
        format!("{scheme}://{auth}{host}:{}{ca}", self.port)
    }
}

fn ca_query(path: &str) -> String {
    let mut q = url::form_urlencoded::Serializer::for_suffix(String::from("?"), 1);
    q.append_pair("ca_file", path);
    q.finish()
}

/// The persisted MQTT subscription of one trigger.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Subscription {
    pub trigger: String,
    pub broker: BrokerUrl,
    pub topic: String,
    pub qos: u8,
    /// PAUSE stops firing (messages are acknowledged and dropped) until UNPAUSE.
    pub paused: bool,
    /// When the subscription was last created, changed, paused or resumed (epoch ms).
    pub date_changed: i64,
    /// Why it is paused, when the feed paused it itself (trigger disabled).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl Subscription {
    pub fn filter(&self) -> TopicFilter {
        // Persisted topics were validated when stored.
        TopicFilter::parse(&self.topic).unwrap_or_else(|_| TopicFilter::parse("#").expect("valid filter"))
    }
}

/// Parses the `qos` parameter: 0 (default) or 1.
pub fn parse_qos(v: Option<u64>) -> Result<u8, FeedError> {
    match v {
        None | Some(0) => Ok(0),
        Some(1) => Ok(1),
        Some(other) => Err(FeedError::BadRequest(format!("qos must be 0 or 1, not {other}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let u = BrokerUrl::parse("mqtt://user:p%40ss@broker.local:1884").unwrap();
        assert_eq!((u.tls, u.host.as_str(), u.port), (false, "broker.local", 1884));
        assert_eq!(u.password.as_deref(), Some("p@ss"));
        assert_eq!(u.masked(), "mqtt://user:***@broker.local:1884");
        assert!(!format!("{u:?}").contains("p@ss"));
        let t = BrokerUrl::parse("http://guest:secret@mosquitto:1883").unwrap();
        assert!(!t.tls && t.username.as_deref() == Some("guest"));
        let s = BrokerUrl::parse("mqtts://example.org").unwrap();
        assert_eq!((s.tls, s.port), (true, 8883));
        assert_eq!(BrokerUrl::parse("mqtt://h").unwrap().port, 1883);
        let c = BrokerUrl::parse("mqtts://a:b@h:8884?ca_file=/etc/ca%20dir/ca.crt").unwrap();
        assert_eq!(c.ca_file.as_deref(), Some("/etc/ca dir/ca.crt"));
        assert_eq!(c.masked(), "mqtts://a:***@h:8884?ca_file=%2Fetc%2Fca+dir%2Fca.crt");
        assert_eq!(BrokerUrl::parse(&c.masked().replace("***", "b")).unwrap(), c);
        assert_ne!(c.key(), BrokerUrl::parse("mqtts://a:b@h:8884").unwrap().key());
        for bad in [
            "ws://h",
            "mqtt://",
            "not a url",
            "mqtt://h:1/path",
            "https://h",
            "mqtt://h?ca_file=/ca.crt",
            "mqtts://h?ca_file=relative.crt",
            "mqtts://h?ca_file=/a&ca_file=/b",
            "mqtts://h?cafile=/ca.crt",
            "mqtts://h?",
        ] {
            assert!(BrokerUrl::parse(bad).is_err(), "{bad}");
        }
        assert_ne!(BrokerUrl::parse("mqtt://a:b@h").unwrap().key(), BrokerUrl::parse("mqtt://a:c@h").unwrap().key());
    }
}
