//! Per-lab state: the state dir, atomic file writes.

use crate::error::{Error, Result};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Write a file atomically: a temp file in the same folder, fsync, rename.
/// A crash leaves either the old or the new content, never a torn file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| Error::io("create", dir, e))?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(|e| Error::io("create a temp file in", dir, e))?;
    tmp.write_all(bytes).map_err(|e| Error::io("write", tmp.path().to_path_buf(), e))?;
    tmp.as_file().sync_all().map_err(|e| Error::io("sync", path, e))?;
    tmp.persist(path).map_err(|e| Error::io("replace", path, e.error))?;
    Ok(())
}

/// Default state dir of a lab: `.labctl/NAME/` beside the lab file, or under the
/// current directory for shipped labs.
pub fn default_state_dir(lab: &crate::lab::Lab) -> PathBuf {
    let base = lab.dir.clone().unwrap_or_else(|| PathBuf::from("."));
    base.join(".labctl").join(&lab.name.value)
}
