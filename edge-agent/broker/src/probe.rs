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
pub(crate) fn probe(addr: SocketAddr, login: Option<(&str, &str)>) -> io::Result<()> {
    let mut stream = TcpStream::connect_timeout(&addr, PROBE_TIMEOUT)?;
    stream.set_read_timeout(Some(PROBE_TIMEOUT))?;
    stream.set_write_timeout(Some(PROBE_TIMEOUT))?;
    stream.set_nodelay(true)?;
    stream.write_all(&connect_packet(login))?;
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

/// An MQTT 3.1.1 CONNECT packet: protocol "MQTT" level 4, clean session, keep-alive 10 s, with
/// a user name and password when given.
fn connect_packet(login: Option<(&str, &str)>) -> Vec<u8> {
    let flags = if login.is_some() { 0xC2 } else { 0x02 };
    let mut body = Vec::with_capacity(128);
    body.extend_from_slice(&[0x00, 0x04, b'M', b'Q', b'T', b'T', 0x04, flags, 0x00, 0x0A]);
    let mut string = |s: &[u8]| {
        body.extend_from_slice(&(s.len() as u16).to_be_bytes());
        body.extend_from_slice(s);
    };
    string(PROBE_CLIENT_ID);
    if let Some((user, password)) = login {
        string(user.as_bytes());
        string(password.as_bytes());
    }
    let mut packet = vec![0x10];
    // Remaining length: 7 bits a byte, low first, high bit set when more follow.
    let mut len = body.len();
    loop {
        let byte = (len % 128) as u8;
        len /= 128;
        packet.push(if len > 0 { byte | 0x80 } else { byte });
        if len == 0 {
            break;
        }
    }
    packet.extend_from_slice(&body);
    packet
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connect_packet_is_well_formed() {
        let packet = connect_packet(None);
        assert_eq!(packet[0], 0x10);
        assert_eq!(packet[1] as usize, packet.len() - 2);
        assert_eq!(&packet[2..8], b"\x00\x04MQTT");
        assert_eq!(packet[8], 4, "protocol level of MQTT 3.1.1");
        assert!(packet.ends_with(PROBE_CLIENT_ID));
        let long = "p".repeat(200);
        let packet = connect_packet(Some(("u", &long)));
        assert_eq!(packet[10], 0xC2, "user name and password flags (after a 2-byte length)");
        let len = (packet[1] & 0x7F) as usize + 128 * packet[2] as usize;
        assert_eq!(len, packet.len() - 3);
        assert!(packet.ends_with(long.as_bytes()));
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
        assert!(probe(addr, None).is_err());
    }
}
