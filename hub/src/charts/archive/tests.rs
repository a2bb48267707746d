//! Archive validation with archives built in memory.

use super::*;
use flate2::write::GzEncoder;

/// A .tgz with `files` (path, content); paths are written raw, so tests can build hostile archives.
pub fn tgz(files: &[(&str, &str)]) -> Vec<u8> {
    let mut builder = tar::Builder::new(GzEncoder::new(Vec::new(), flate2::Compression::default()));
    for (path, content) in files {
        let mut header = tar::Header::new_gnu();
        let name = path.as_bytes();
        header.as_old_mut().name[..name.len()].copy_from_slice(name);
        header.set_size(content.len() as u64);
        header.set_mode(0o644);
        header.set_entry_type(tar::EntryType::Regular);
        header.set_cksum();
        builder.append(&header, content.as_bytes()).unwrap();
    }
    builder.into_inner().unwrap().finish().unwrap()
}

const CHART: &str = "apiVersion: v2\nname: edge\nversion: 0.3.1\ndescription: Fogwhisk edge\nappVersion: \"1.0\"\n";

#[test]
fn reads_metadata() {
    let meta = inspect(&tgz(&[("edge/Chart.yaml", CHART), ("edge/values.yaml", "a: 1\n")])).unwrap();
    assert_eq!((meta.name.as_str(), meta.version.as_str()), ("edge", "0.3.1"));
    assert_eq!(meta.metadata["description"], "Fogwhisk edge");
}

#[test]
fn refuses_bad_archives() {
    assert_eq!(inspect(b"PK\x03\x04 zip"), Err(ArchiveError::NotGzip));
    assert!(matches!(inspect(&[0x1f, 0x8b, 0, 1, 2]), Err(ArchiveError::Corrupt(_))));
    assert_eq!(inspect(&tgz(&[("edge/values.yaml", "a: 1\n")])), Err(ArchiveError::NoChartYaml));
    let escape = tgz(&[("edge/Chart.yaml", CHART), ("edge/../../etc/passwd", "x")]);
    assert!(matches!(inspect(&escape), Err(ArchiveError::UnsafePath(p)) if p.contains("..")));
    assert!(matches!(inspect(&tgz(&[("/edge/Chart.yaml", CHART)])), Err(ArchiveError::UnsafePath(_))));
    let bad_version = CHART.replace("0.3.1", "1.2");
    assert!(
        matches!(inspect(&tgz(&[("edge/Chart.yaml", &bad_version)])), Err(ArchiveError::Invalid(m)) if m.contains("semantic"))
    );
    assert!(matches!(inspect(&tgz(&[("other/Chart.yaml", CHART)])), Err(ArchiveError::NameMismatch { .. })));
    assert!(matches!(inspect(&tgz(&[("edge/Chart.yaml", "name: [")])), Err(ArchiveError::BadChartYaml(_))));
    assert!(matches!(inspect(&tgz(&[("edge/Chart.yaml", CHART), ("x/y", "z")])), Err(ArchiveError::Layout(_))));
}
