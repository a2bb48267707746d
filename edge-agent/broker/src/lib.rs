//! The MQTT broker an edge agent starts in-process on its first run, in place of the site's
//! Mosquitto: rumqttd with one MQTT 3.1.1 listener, QoS 0 and 1, persistent sessions (in memory),
//! and either a user file with per-topic rules ([`Access::Users`], see [`users`] and the gate
//! below) or no authentication at all ([`Access::Anonymous`]).
//!
//! # Users
//!
//! With [`Access::Users`] clients connect to a gate (module `gate`) that checks the user name and
//! password at CONNECT and every PUBLISH and SUBSCRIBE against the user's [`users::Grant`], and
//! forwards what passes to rumqttd's listener on a loopback port of its own, which accepts only
//! the gate (a random secret per start). rumqttd alone cannot do this: it checks credentials at
//! CONNECT but has no hook on publish or subscribe.
//!
//! # Threads and shutdown
//!
//! rumqttd runs its router on a thread of its own (`router-0`) and each listener on a Tokio
//! runtime. The listener here runs on a current-thread runtime owned by this crate on the
//! thread `fogwhisk-mqtt`; [`EmbeddedBroker::shutdown`] (or dropping the broker) stops the accept
//! loop, which closes the listening socket, then shuts that runtime down, which closes every
//! client connection, and joins the thread.
//!
//! What rumqttd cannot stop: its router thread. The router keeps a sender of its own event
//! channel, so it never sees the channel close and has no stop signal; after shutdown it stays
//! blocked on that channel (idle, no CPU) with the messages it still holds in memory until the
//! process exits. One such thread remains per broker started.
//!
//! # Port 0
//!
//! rumqttd binds its listener itself and does not report the address it bound. [`EmbeddedBroker::start`]
//! therefore picks the port first (binding port 0 and releasing it), hands that port to rumqttd and
//! waits until an MQTT CONNECT to it is accepted. Should another process take the port in between,
//! rumqttd's bind fails and a new port is picked (up to [`PORT_ATTEMPTS`] times).
//!
//! # Sessions
//!
//! A client connecting with `clean_session = false` gets its subscriptions and its position in
//! their message logs back when it reconnects, including QoS 1 messages published while it was
//! away (bounded by [`config::MAX_SEGMENT_COUNT`] x [`config::MAX_SEGMENT_SIZE`] per filter). The
//! state lives in memory only: it does not survive the process.

pub mod config;
mod gate;
mod probe;
pub mod users;

use std::io;
use std::net::SocketAddr;
use std::sync::mpsc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use rumqttd::protocol::v4::V4;
use std::sync::Arc;

use rumqttd::{LinkType, Router, Server};
use tokio::sync::oneshot;

use crate::gate::{Gate, GATE_USER};
use crate::users::Users;

/// Who may connect.
#[derive(Debug, Clone)]
pub enum Access {
    /// Anyone, without credentials, on any topic (rumqttd as it is).
    Anonymous,
    /// The users of this file, each on its own topics only.
    Users(Users),
}

/// Attempts at finding a free port when the caller asked for port 0.
pub const PORT_ATTEMPTS: usize = 5;

/// Attempts at binding a fixed port (100 ms apart).
pub const FIXED_PORT_ATTEMPTS: usize = 30;

/// How long [`EmbeddedBroker::start`] waits for the listener to accept an MQTT connection.
pub const READY_TIMEOUT: Duration = Duration::from_secs(10);

/// How long shutdown gives open connections' tasks to finish before they are dropped.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// Why the embedded broker could not start.
#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    /// The address cannot be bound (in use, not local, no permission).
    #[error("cannot listen for MQTT on {addr}: {source}")]
    AddrUnavailable {
        addr: SocketAddr,
        #[source]
        source: io::Error,
    },
    /// rumqttd's listener failed (for port 0: on every attempt).
    #[error("the MQTT listener on {addr} failed: {message}")]
    Listener { addr: SocketAddr, message: String },
    /// The listener did not accept an MQTT connection in time.
    #[error("the MQTT listener on {addr} did not accept a connection within {waited:?}: {last_error}")]
    NotReady { addr: SocketAddr, waited: Duration, last_error: String },
    /// The broker's thread could not be started.
    #[error("cannot start the MQTT broker's thread: {0}")]
    Thread(#[source] io::Error),
}

/// A running in-process MQTT broker. Stops on [`EmbeddedBroker::shutdown`] or when dropped.
#[derive(Debug)]
pub struct EmbeddedBroker {
    /// The address the listener is bound to (the real port, also when started with port 0).
    addr: SocketAddr,
    /// Tells the listener's runtime to stop.
    stop: Option<oneshot::Sender<()>>,
    /// The thread running the listener's runtime.
    thread: Option<JoinHandle<()>>,
}

impl EmbeddedBroker {
    /// Starts an anonymous broker ([`Access::Anonymous`]) on `listen`; see [`EmbeddedBroker::start_with`].
    pub fn start(listen: SocketAddr) -> Result<Self, BrokerError> {
        Self::start_with(listen, Access::Anonymous)
    }

    /// Starts the broker with an MQTT 3.1.1 listener on `listen` (port 0 picks a free port) and
    /// returns once the listener accepts MQTT connections.
    pub fn start_with(listen: SocketAddr, access: Access) -> Result<Self, BrokerError> {
        let users = match access {
            Access::Anonymous => return Self::start_rumqttd(listen, None),
            Access::Users(users) => users,
        };
        let gate_listener = std::net::TcpListener::bind(listen)
            .and_then(|l| l.set_nonblocking(true).map(|()| l))
            .map_err(|source| BrokerError::AddrUnavailable { addr: listen, source })?;
        let addr =
            gate_listener.local_addr().map_err(|source| BrokerError::AddrUnavailable { addr: listen, source })?;
        let secret: String = {
            use rand::Rng;
            let mut rng = rand::thread_rng();
            (0..64).map(|_| char::from(b"0123456789abcdef"[rng.gen_range(0..16)])).collect()
        };
        let inner = SocketAddr::from(([127, 0, 0, 1], 0));
        let gate = Gate { users, inner, secret };
        let mut broker = Self::start_rumqttd(inner, Some((gate_listener, gate)))?;
        tracing::info!(%addr, inner = %broker.addr, "embedded MQTT broker: users and topic rules checked at the gate");
        broker.addr = addr;
        Ok(broker)
    }

    /// Starts rumqttd on `listen`; with a gate, rumqttd accepts only the gate's credentials and the
    /// gate serves its listener on the same runtime.
    fn start_rumqttd(listen: SocketAddr, gate: Option<(std::net::TcpListener, Gate)>) -> Result<Self, BrokerError> {
        let reserve =
            |listen| probe::reserve(listen).map_err(|source| BrokerError::AddrUnavailable { addr: listen, source });
        let mut addr = reserve(listen)?;
        let router_tx = Router::new(0, config::router()).spawn();
        // A fixed port that was free a moment ago can be held briefly when rumqttd binds it (seen on
        // loopback under load, cause not pinned down): try the same port again for a while.
        let attempts = if listen.port() == 0 { PORT_ATTEMPTS } else { FIXED_PORT_ATTEMPTS };
        let mut attempt = 1;
        loop {
            let mut settings = config::listener(addr);
            if let Some((_, g)) = &gate {
                let secret = g.secret.clone();
                settings.set_auth_handler(move |_client, user: String, password: String| {
                    let ok = user == GATE_USER
                        && subtle::ConstantTimeEq::ct_eq(password.as_bytes(), secret.as_bytes()).into();
                    std::future::ready(ok)
                });
            }
            let server = Server::new(settings, router_tx.clone(), V4);
            // Each attempt's runtime gets the gate's listener and a gate pointing at this attempt's port.
            let this_gate = match &gate {
                Some((listener, g)) => {
                    let listener =
                        listener.try_clone().map_err(|source| BrokerError::AddrUnavailable { addr, source })?;
                    Some((listener, Arc::new(Gate { users: g.users.clone(), inner: addr, secret: g.secret.clone() })))
                }
                None => None,
            };
            match launch(addr, server, this_gate) {
                Err(BrokerError::Listener { message, .. }) if attempt < attempts => {
                    tracing::debug!(%addr, attempt, %message, "rumqttd could not bind; trying again");
                    attempt += 1;
                    if listen.port() == 0 {
                        addr = reserve(listen)?;
                    } else {
                        thread::sleep(Duration::from_millis(100));
                    }
                }
                result => return result,
            }
        }
    }

    /// The address the listener is bound to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting connections, closes every client connection and joins the listener's
    /// thread (see the crate documentation for the router thread rumqttd leaves behind).
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            // An error means the runtime already ended; joining below still applies.
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            if thread.join().is_err() {
                tracing::error!(addr = %self.addr, "the MQTT listener's thread panicked");
            }
            tracing::info!(addr = %self.addr, "embedded MQTT broker stopped");
        }
    }
}

impl Drop for EmbeddedBroker {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Runs `server` (rumqttd's listener on `addr`) on a runtime of its own thread and waits until
/// it accepts an MQTT connection.
fn launch(
    addr: SocketAddr,
    mut server: Server<V4>,
    gate: Option<(std::net::TcpListener, Arc<Gate>)>,
) -> Result<EmbeddedBroker, BrokerError> {
    let login = gate.as_ref().map(|(_, g)| (GATE_USER.to_string(), g.secret.clone()));
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let (failed_tx, failed_rx) = mpsc::channel::<String>();
    let thread = thread::Builder::new()
        .name("fogwhisk-mqtt".to_string())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                Ok(runtime) => runtime,
                Err(err) => {
                    let _ = failed_tx.send(format!("cannot build its runtime: {err}"));
                    return;
                }
            };
            runtime.block_on(async {
                let gate = async {
                    match gate.map(|(l, g)| tokio::net::TcpListener::from_std(l).map(|l| (l, g))) {
                        Some(Ok((listener, gate))) => gate::serve(listener, gate).await,
                        Some(Err(err)) => {
                            let _ = failed_tx.send(format!("the gate's listener: {err}"));
                        }
                        None => std::future::pending().await,
                    }
                };
                tokio::select! {
                    () = gate => {}
                    result = server.start(LinkType::Remote) => {
                        let message = match result {
                            Err(err) => err.to_string(),
                            Ok(()) => "the accept loop ended".to_string(),
                        };
                        let _ = failed_tx.send(message);
                    }
                    _ = stop_rx => {}
                }
            });
            // Dropping the accept loop closed the listening socket; shutting the runtime down
            // drops every connection's task, which closes its socket.
            runtime.shutdown_timeout(SHUTDOWN_GRACE);
        })
        .map_err(BrokerError::Thread)?;
    let mut broker = EmbeddedBroker { addr, stop: Some(stop_tx), thread: Some(thread) };

    let started = Instant::now();
    loop {
        if let Ok(message) = failed_rx.try_recv() {
            broker.stop();
            return Err(BrokerError::Listener { addr, message });
        }
        let last_error = match probe::probe(addr, login.as_ref().map(|(u, p)| (u.as_str(), p.as_str()))) {
            Ok(()) => {
                tracing::info!(%addr, "embedded MQTT broker listening (MQTT 3.1.1)");
                return Ok(broker);
            }
            Err(err) => err.to_string(),
        };
        if started.elapsed() >= READY_TIMEOUT {
            broker.stop();
            return Err(BrokerError::NotReady { addr, waited: READY_TIMEOUT, last_error });
        }
        thread::sleep(Duration::from_millis(10));
    }
}
