//! The embedded runner programs and writing them into the work folder.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::error::RuntimeError;
use crate::kind::RuntimeKind;

const NODE_RUNNER: &str = include_str!("../runtimes/nodejs/runner.js");
const PYTHON_RUNNER: &str = include_str!("../runtimes/python/runner.py");

/// The folder (under the work folder) holding the runner programs.
pub(crate) fn runners_dir(work_dir: &Path) -> PathBuf {
    work_dir.join("runners")
}

/// Path of the runner program for `kind`.
pub(crate) fn runner_path(work_dir: &Path, kind: RuntimeKind) -> PathBuf {
    runners_dir(work_dir).join(kind.runner_file())
}

/// Writes both runner programs, world-readable so an unprivileged runtime user can load them.
pub(crate) fn write_runners(work_dir: &Path) -> Result<(), RuntimeError> {
    let dir = runners_dir(work_dir);
    std::fs::create_dir_all(&dir).map_err(|source| RuntimeError::Io { what: "create", path: dir.clone(), source })?;
    set_mode(&dir, 0o755)?;
    for (kind, text) in [(RuntimeKind::Nodejs20, NODE_RUNNER), (RuntimeKind::Python311, PYTHON_RUNNER)] {
        let path = runner_path(work_dir, kind);
        std::fs::write(&path, text).map_err(|source| RuntimeError::Io { what: "write", path: path.clone(), source })?;
        set_mode(&path, 0o644)?;
    }
    Ok(())
}

pub(crate) fn set_mode(path: &Path, mode: u32) -> Result<(), RuntimeError> {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(|source| RuntimeError::Io {
        what: "chmod",
        path: path.to_path_buf(),
        source,
    })
}
