//! The gate in front of rumqttd when the broker has users: the listener clients connect to, which
//! checks each CONNECT against the user file and each PUBLISH and SUBSCRIBE against the user's
//! [`Grant`], and forwards what passes to rumqttd on a loopback port of its own.
//!
//! rumqttd 0.20 checks a user name and password at CONNECT (`ConnectionSettings::auth` or
//! `external_auth`) but has no hook on publish or subscribe, so the topic rules are checked here,
//! on the packets the gate decodes with rumqttd's own MQTT 3.1.1 codec. What the gate does:
//! - CONNECT without a user name: CONNACK 5 (not authorized); unknown user or wrong password:
//!   CONNACK 4 (bad user name or password); a last will on a topic the user may not publish on:
//!   CONNACK 5. The connection is then closed.
//! - the CONNECT it forwards carries the gate's own credentials (rumqttd accepts no others, so
//!   its inner port is no way around the gate) and the client id `<user>:<client id>` (rumqttd refuses `/` in ids; user names have no `:`), so one
//!   user can neither take over nor resume another user's session.
//! - a PUBLISH on a topic, or a SUBSCRIBE to a filter, outside the grant closes the connection
//!   (logged with the user and topic); nothing of it reaches rumqttd.
//! - everything the broker sends back is copied to the client unchanged.

use std::sync::Arc;

use bytes::BytesMut;
use rumqttd::protocol::v4::V4;
use rumqttd::protocol::{ConnAck, ConnectReturnCode, Login, Packet, Protocol};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};

use crate::config::{CONNECTION_TIMEOUT_MS, MAX_PAYLOAD_SIZE};
use crate::users::{Grant, Users};

/// The gate's own user at rumqttd's inner listener.
pub(crate) const GATE_USER: &str = "fogwhisk-gate";

/// Largest packet the gate reads (a publish of [`MAX_PAYLOAD_SIZE`] plus its header and topic).
const MAX_PACKET: usize = MAX_PAYLOAD_SIZE + 64 * 1024;

/// What every connection of the gate shares.
pub(crate) struct Gate {
    pub(crate) users: Users,
    /// rumqttd's inner listener.
    pub(crate) inner: std::net::SocketAddr,
    /// The password rumqttd's inner listener accepts from [`GATE_USER`].
    pub(crate) secret: String,
}

/// Why a connection was closed by the gate.
#[derive(Debug, thiserror::Error)]
enum Closed {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("malformed MQTT packet: {0}")]
    Protocol(String),
    #[error("{0}")]
    Refused(String),
}

/// Accepts connections until the task is dropped.
pub(crate) async fn serve(listener: TcpListener, gate: Arc<Gate>) {
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                let gate = gate.clone();
                tokio::spawn(async move {
                    if let Err(err) = connection(stream, &gate).await {
                        tracing::warn!(%peer, error = %err, "MQTT connection closed by the gate");
                    }
                });
            }
            Err(err) => {
                tracing::warn!(error = %err, "accepting an MQTT connection failed");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
    }
}

/// Reads one packet, reading more from `rx` into `buf` as needed; `None` at a clean end of stream.
async fn read_packet(rx: &mut OwnedReadHalf, buf: &mut BytesMut) -> Result<Option<Packet>, Closed> {
    loop {
        match V4.read_mut(buf, MAX_PACKET) {
            Ok(packet) => return Ok(Some(packet)),
            Err(rumqttd::protocol::Error::InsufficientBytes(_)) => {}
            Err(err) => return Err(Closed::Protocol(err.to_string())),
        }
        if rx.read_buf(buf).await? == 0 {
            return if buf.is_empty() { Ok(None) } else { Err(Closed::Protocol("connection ended mid-packet".into())) };
        }
    }
}

async fn write_packet(tx: &mut OwnedWriteHalf, packet: Packet) -> Result<(), Closed> {
    let mut out = BytesMut::new();
    V4.write(packet, &mut out).map_err(|e| Closed::Protocol(e.to_string()))?;
    tx.write_all(&out).await?;
    Ok(())
}

async fn refuse(tx: &mut OwnedWriteHalf, code: ConnectReturnCode, why: String) -> Result<(), Closed> {
    write_packet(tx, Packet::ConnAck(ConnAck { session_present: false, code }, None)).await?;
    let _ = tx.shutdown().await;
    Err(Closed::Refused(why))
}

async fn connection(stream: TcpStream, gate: &Gate) -> Result<(), Closed> {
    let _ = stream.set_nodelay(true);
    let (mut rx, mut tx) = stream.into_split();
    let mut buf = BytesMut::with_capacity(4096);
    let wait = std::time::Duration::from_millis(CONNECTION_TIMEOUT_MS.into());
    let first = tokio::time::timeout(wait, read_packet(&mut rx, &mut buf))
        .await
        .map_err(|_| Closed::Refused("no CONNECT in time".into()))??;
    let Some(Packet::Connect(mut connect, props, will, will_props, login)) = first else {
        return Err(Closed::Protocol("the first packet is not CONNECT".into()));
    };
    let Some(login) = login else {
        return refuse(&mut tx, ConnectReturnCode::NotAuthorized, "CONNECT without a user name".into()).await;
    };
    let user = login.username;
    let grant = match gate.users.authenticate(&user, &login.password) {
        Ok(Some(grant)) => grant,
        Ok(None) => {
            return refuse(
                &mut tx,
                ConnectReturnCode::BadUserNamePassword,
                format!("user {user:?}: unknown or wrong password"),
            )
            .await
        }
        Err(err) => {
            tracing::error!(error = %err, "cannot read the MQTT user file");
            return refuse(&mut tx, ConnectReturnCode::ServiceUnavailable, err.to_string()).await;
        }
    };
    if let Some(w) = &will {
        let topic = String::from_utf8_lossy(&w.topic);
        if !grant.may_publish(&topic) {
            return refuse(
                &mut tx,
                ConnectReturnCode::NotAuthorized,
                format!("user {user:?}: last will on {topic:?} not allowed"),
            )
            .await;
        }
    }
    if !connect.client_id.is_empty() {
        connect.client_id = format!("{user}:{}", connect.client_id);
    }
    let login = Login { username: GATE_USER.to_string(), password: gate.secret.clone() };
    let inner = TcpStream::connect(gate.inner).await?;
    let _ = inner.set_nodelay(true);
    let (mut inner_rx, mut inner_tx) = inner.into_split();
    write_packet(&mut inner_tx, Packet::Connect(connect, props, will, will_props, Some(login))).await?;
    tracing::debug!(user, "MQTT client connected through the gate");

    // Broker to client: unchanged. Client to broker: checked packet by packet.
    let down = async {
        let _ = tokio::io::copy(&mut inner_rx, &mut tx).await;
        let _ = tx.shutdown().await;
    };
    let up = forward(&mut rx, &mut buf, &mut inner_tx, &grant, &user);
    tokio::pin!(down);
    tokio::select! {
        () = &mut down => Ok(()),
        result = up => {
            if result.is_ok() {
                // The client is done sending: let the broker's last packets reach it.
                let _ = tokio::time::timeout(std::time::Duration::from_secs(2), down).await;
            }
            result
        }
    }
}

/// Forwards the client's packets that its grant allows; a packet outside it ends the connection.
/// Every packet complete in the buffer is checked and re-encoded, then all go out in one write.
async fn forward(
    rx: &mut OwnedReadHalf,
    buf: &mut BytesMut,
    inner: &mut OwnedWriteHalf,
    grant: &Grant,
    user: &str,
) -> Result<(), Closed> {
    let mut out = BytesMut::with_capacity(8192);
    loop {
        loop {
            let packet = match V4.read_mut(buf, MAX_PACKET) {
                Ok(packet) => packet,
                Err(rumqttd::protocol::Error::InsufficientBytes(_)) => break,
                Err(err) => return Err(Closed::Protocol(err.to_string())),
            };
            check(&packet, grant, user)?;
            V4.write(packet, &mut out).map_err(|e| Closed::Protocol(e.to_string()))?;
        }
        if !out.is_empty() {
            inner.write_all(&out).await?;
            out.clear();
        }
        if rx.read_buf(buf).await? == 0 {
            let _ = inner.shutdown().await;
            return if buf.is_empty() { Ok(()) } else { Err(Closed::Protocol("connection ended mid-packet".into())) };
        }
    }
}

/// Whether the grant allows `packet` (a PUBLISH's topic, a SUBSCRIBE's filters; no second CONNECT).
fn check(packet: &Packet, grant: &Grant, user: &str) -> Result<(), Closed> {
    match packet {
        Packet::Publish(p, _) => {
            let topic = String::from_utf8_lossy(&p.topic);
            if !grant.may_publish(&topic) {
                return Err(Closed::Refused(format!("user {user:?} may not publish on {topic:?}")));
            }
        }
        Packet::Subscribe(s, _) => {
            if let Some(f) = s.filters.iter().find(|f| !grant.may_subscribe(&f.path)) {
                return Err(Closed::Refused(format!("user {user:?} may not subscribe to {:?}", f.path)));
            }
        }
        Packet::Connect(..) => return Err(Closed::Protocol("a second CONNECT".into())),
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connect_round_trips_through_the_codec() {
        let connect =
            rumqttd::protocol::Connect { keep_alive: 30, client_id: "agent:feed".into(), clean_session: true };
        let login = Login { username: GATE_USER.into(), password: "s".repeat(64) };
        let mut out = BytesMut::new();
        V4.write(Packet::Connect(connect, None, None, None, Some(login.clone())), &mut out).unwrap();
        match V4.read_mut(&mut out, MAX_PACKET).unwrap() {
            Packet::Connect(c, _, None, _, Some(l)) => {
                assert_eq!((c.client_id.as_str(), c.keep_alive), ("agent:feed", 30));
                assert_eq!(l, login);
            }
            other => panic!("{other:?}"),
        }
    }
}
