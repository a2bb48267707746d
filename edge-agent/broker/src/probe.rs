//! Socket helpers around rumqttd's listener: reserving a port before rumqttd binds it (rumqttd
//! cannot report the port it bound) and an MQTT 3.1.1 CONNECT/CONNACK probe that tells when the
//! listener answers.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

/// Client id of the readiness probe; the probe connects with a clean session and disconnects
/// cleanly, so it leaves no session state behind in the broker.
const PROBE_CLIENT_ID: &[u8] = b"fogwhisk-broker-probe";

/// How long one probe waits for the TCP connection and for the CONNACK.
const PROBE_TIMEOUT: Duration = Duration::from_millis(500);

/// Binds `listen` for a moment to check that it is free and to learn the port the OS picks for
/// port 0, then releases it so rumqttd can bind the same address.
///
/// Between the release and rumqttd's own bind another process could take the port; the caller
/// detects that (rumqttd's listener fails) and tries again with a new port when the caller asked
/// for port 0.
pub(crate) fn reserve(listen: SocketAddr) -> io::Result<SocketAddr> {
    let listener = TcpListener::bind(listen)?;
    listener.local_addr()
}

/// Connects to `addr` as an MQTT 3.1.1 client with a clean session, waits for a CONNACK that
/// accepts the connection, then sends DISCONNECT.
pub(crate) fn probe(addr: SocketAddr) -> io::Result<()> {
    let mut stream = TcpStream::connect_timeout(&addr, PROBE_TIMEOUT)?;
    stream.set_read_timeout(Some(PROBE_TIMEOUT))?;
    stream.set_write_timeout(Some(PROBE_TIMEOUT))?;
    stream.set_nodelay(true)?;
    stream.write_all(&connect_packet())?;
    let mut connack = [0u8; 4];
    stream.read_exact(&mut connack)?;
    // CONNACK: type 2, remaining length 2, flags, return code 0 (accepted).
    if connack[0] != 0x20 || connack[1] != 0x02 || connack[3] != 0x00 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("unexpected answer to CONNECT: {connack:02x?}"),
        ));
    }
    // DISCONNECT, so the broker drops the probe's session quietly.
    stream.write_all(&[0xE0, 0x00])?;
    Ok(())
}

/// An MQTT 3.1.1 CONNECT packet: protocol "MQTT" level 4, clean session, keep-alive 10 s.
fn connect_packet() -> Vec<u8> {
    let mut body = Vec::with_capacity(16 + PROBE_CLIENT_ID.len());
    body.extend_from_slice(&[0x00, 0x04, b'M', b'Q', b'T', b'T', 0x04, 0x02, 0x00, 0x0A]);
    body.extend_from_slice(&(PROBE_CLIENT_ID.len() as u16).to_be_bytes());
    body.extend_from_slice(PROBE_CLIENT_ID);
    let mut packet = vec![0x10, body.len() as u8];
    packet.extend_from_slice(&body);
    packet
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connect_packet_is_well_formed() {
        let packet = connect_packet();
        assert_eq!(packet[0], 0x10);
        assert_eq!(packet[1] as usize, packet.len() - 2);
        assert_eq!(&packet[2..8], b"\x00\x04MQTT");
        assert_eq!(packet[8], 4, "protocol level of MQTT 3.1.1");
        assert!(packet.ends_with(PROBE_CLIENT_ID));
    }

    #[test]
    fn reserve_port_zero_yields_a_real_port() {
        let addr = reserve("127.0.0.1:0".parse().unwrap()).unwrap();
        assert_ne!(addr.port(), 0);
        assert!(addr.ip().is_loopback());
    }

    #[test]
    fn probe_of_a_closed_port_fails() {
        let addr = reserve("127.0.0.1:0".parse().unwrap()).unwrap();
        assert!(probe(addr).is_err());
    }
}
