//! TLS for `mqtts://` brokers: the rustls client configuration trusting either the system's roots or
//! only the CA certificates of the URL's `ca_file` (PEM), read with bounds and checked up front.

use std::{io::Read, path::Path, sync::Arc};

use rumqttc::tokio_rustls::rustls::{ClientConfig, RootCertStore};
use rumqttc::{TlsConfiguration, Transport};

/// Largest `ca_file` read (a bundle of a few hundred certificates fits).
const MAX_CA_BYTES: u64 = 1024 * 1024;

/// Why a `ca_file` cannot be used. The messages name the path, never the file's content.
#[derive(Debug, thiserror::Error)]
pub enum CaError {
    #[error("ca_file {path}: cannot read it: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("ca_file {0}: not a regular file")]
    NotAFile(String),
    #[error("ca_file {0}: larger than 1 MiB")]
    TooLarge(String),
    #[error("ca_file {0}: holds no PEM certificate (-----BEGIN CERTIFICATE-----)")]
    NoCertificate(String),
    #[error("ca_file {path}: certificate {index} is not a valid X.509 certificate: {why}")]
    BadCertificate { path: String, index: usize, why: String },
}

/// Reads `path` and returns a client configuration that trusts only its certificates.
pub fn client_config(path: &str) -> Result<Arc<ClientConfig>, CaError> {
    let read = |source| CaError::Read { path: path.to_string(), source };
    let meta = std::fs::metadata(Path::new(path)).map_err(read)?;
    if !meta.is_file() {
        return Err(CaError::NotAFile(path.to_string()));
    }
    let mut bytes = Vec::new();
    std::fs::File::open(path).map_err(read)?.take(MAX_CA_BYTES + 1).read_to_end(&mut bytes).map_err(read)?;
    if bytes.len() as u64 > MAX_CA_BYTES {
        return Err(CaError::TooLarge(path.to_string()));
    }
    let mut roots = RootCertStore::empty();
    let mut reader = std::io::BufReader::new(bytes.as_slice());
    for (index, cert) in rustls_pemfile::certs(&mut reader).enumerate() {
        let bad = |why: String| CaError::BadCertificate { path: path.to_string(), index: index + 1, why };
        let cert = cert.map_err(|e| bad(e.to_string()))?;
        roots.add(cert).map_err(|e| bad(e.to_string()))?;
    }
    if roots.is_empty() {
        return Err(CaError::NoCertificate(path.to_string()));
    }
    Ok(Arc::new(ClientConfig::builder().with_root_certificates(roots).with_no_client_auth()))
}

/// The transport of a TLS broker: its `ca_file`'s CA, or the system's roots without one. When the
/// file cannot be used any more (it was checked when the subscription was made), the error is
/// returned with a transport that trusts nothing, so connections fail instead of trusting more.
pub fn transport(ca_file: Option<&str>) -> (Transport, Option<CaError>) {
    let Some(path) = ca_file else {
        return (Transport::tls_with_default_config(), None);
    };
    match client_config(path) {
        Ok(cfg) => (Transport::tls_with_config(TlsConfiguration::Rustls(cfg)), None),
        Err(e) => {
            let nothing = ClientConfig::builder().with_root_certificates(RootCertStore::empty()).with_no_client_auth();
            (Transport::tls_with_config(TlsConfiguration::Rustls(Arc::new(nothing))), Some(e))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unusable_files_are_refused_without_showing_their_content() {
        let dir = tempfile::tempdir().unwrap();
        let secret = dir.path().join("secret");
        std::fs::write(&secret, "hunter2-not-a-certificate\n").unwrap();
        let e = client_config(secret.to_str().unwrap()).unwrap_err();
        assert!(matches!(e, CaError::NoCertificate(_)), "{e}");
        assert!(!e.to_string().contains("hunter2"));
        let garbage = dir.path().join("garbage.pem");
        std::fs::write(&garbage, "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n").unwrap();
        let e = client_config(garbage.to_str().unwrap()).unwrap_err();
        assert!(matches!(e, CaError::BadCertificate { index: 1, .. }), "{e}");
        let e = client_config(dir.path().to_str().unwrap()).unwrap_err();
        assert!(matches!(e, CaError::NotAFile(_)), "{e}");
        assert!(matches!(client_config("/nonexistent/ca.pem").unwrap_err(), CaError::Read { .. }));
        let (_, err) = transport(Some("/nonexistent/ca.pem"));
        assert!(err.is_some());
    }
}
