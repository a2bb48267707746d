//! Reads the chart name and version out of a provenance (`.prov`) file: a PGP clear-signed Chart.yaml plus file digests.

use super::archive::{check_name, check_version, ArchiveError};

/// (name, version) named in the signed Chart.yaml of a `.prov` file.
pub fn chart_of(prov: &[u8]) -> Result<(String, String), ArchiveError> {
    let text =
        std::str::from_utf8(prov).map_err(|_| ArchiveError::Invalid("provenance file is not UTF-8 text".into()))?;
    if !text.contains("-----BEGIN PGP SIGNED MESSAGE-----") {
        return Err(ArchiveError::Invalid("provenance file is not a PGP signed message".into()));
    }
    let field = |key: &str| {
        text.lines()
            .take_while(|l| !l.starts_with("-----BEGIN PGP SIGNATURE-----"))
            .find_map(|l| l.strip_prefix(key).map(|v| v.trim().trim_matches('"').to_string()))
            .ok_or_else(|| {
                ArchiveError::Invalid(format!("provenance file names no chart {}", key.trim_end_matches(": ")))
            })
    };
    let (name, version) = (field("name: ")?, field("version: ")?);
    check_name(&name)?;
    check_version(&version)?;
    Ok((name, version))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_name_and_version() {
        let prov = "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\napiVersion: v2\nname: edge\nversion: 0.3.1\n\n...\nfiles:\n  edge-0.3.1.tgz: sha256:ab\n-----BEGIN PGP SIGNATURE-----\nxx\n-----END PGP SIGNATURE-----\n";
        assert_eq!(chart_of(prov.as_bytes()).unwrap(), ("edge".into(), "0.3.1".into()));
        assert!(chart_of(b"hello").is_err());
        assert!(chart_of(prov.replace("edge", "../x").as_bytes()).is_err());
    }
}
