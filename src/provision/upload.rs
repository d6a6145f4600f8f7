//! The role upload as one ustar stream written straight into the node's
//! `tar -x`. Role files are small and already in memory; the offline
//! repository and the base image tarball (about 20 MB) are read from disk in
//! chunks while they are sent, so labctl never holds a copy of them: reading
//! them whole and building the archive in memory cost twice their size in
//! resident memory (issue 13: labctl's own peak RSS under 50 MB).

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::PathBuf;

/// Longest path a plain ustar header holds (no prefix field used).
pub const MAX_PATH: usize = 99;

/// What one file of the upload holds.
pub enum Content<'a> {
    Bytes(&'a [u8]),
    /// A file on the host, read while the archive is written.
    File(PathBuf),
}

/// Write `files` (path in the archive -> content) as a tar archive to `out`
/// (mode 0755 for `*.sh`, 0644 otherwise). A host file is sent with the size
/// it had when opened; one that shrinks or grows meanwhile is an error, never
/// a corrupt archive the node would unpack.
pub fn write_tar(out: &mut dyn Write, files: &BTreeMap<String, Content>) -> std::io::Result<()> {
    for (path, content) in files {
        if path.len() > MAX_PATH {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("role file path too long for upload: {path}"),
            ));
        }
        let size = match content {
            Content::Bytes(b) => {
                out.write_all(&header(path, b.len() as u64))?;
                out.write_all(b)?;
                b.len() as u64
            }
            Content::File(p) => {
                let named = |e: std::io::Error| {
                    std::io::Error::new(e.kind(), format!("{}: {e}", p.display()))
                };
                let f = std::fs::File::open(p).map_err(named)?;
                let len = f.metadata().map_err(named)?.len();
                out.write_all(&header(path, len))?;
                // take(len + 1): one byte more than promised shows a file that grew.
                let sent = copy(&mut f.take(len + 1), out).map_err(|e| match e {
                    Copy::Read(e) => named(e),
                    Copy::Write(e) => e,
                })?;
                if sent != len {
                    return Err(std::io::Error::other(format!(
                        "{} changed size while it was sent ({len} bytes, then {sent})",
                        p.display()
                    )));
                }
                len
            }
        };
        let pad = ((512 - size % 512) % 512) as usize;
        out.write_all(&[0u8; 512][..pad])?;
    }
    out.write_all(&[0u8; 1024])
}

enum Copy {
    Read(std::io::Error),
    Write(std::io::Error),
}

/// std::io::copy, telling a read error (the host file) from a write error
/// (the node's end).
fn copy(from: &mut dyn Read, to: &mut dyn Write) -> Result<u64, Copy> {
    let mut buf = [0u8; 64 * 1024];
    let mut n = 0u64;
    loop {
        let k = match from.read(&mut buf) {
            Ok(0) => return Ok(n),
            Ok(k) => k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Copy::Read(e)),
        };
        to.write_all(&buf[..k]).map_err(Copy::Write)?;
        n += k as u64;
    }
}

fn header(path: &str, size: u64) -> [u8; 512] {
    let mut h = [0u8; 512];
    h[..path.len()].copy_from_slice(path.as_bytes());
    let mode = if path.ends_with(".sh") { 0o755 } else { 0o644 };
    let put = |h: &mut [u8; 512], off: usize, len: usize, v: u64| {
        let s = format!("{:0width$o}\0", v, width = len - 1);
        h[off..off + len].copy_from_slice(s.as_bytes());
    };
    put(&mut h, 100, 8, mode);
    put(&mut h, 108, 8, 0);
    put(&mut h, 116, 8, 0);
    put(&mut h, 124, 12, size);
    put(&mut h, 136, 12, 0);
    h[156] = b'0';
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|&b| b as u32).sum();
    let s = format!("{:06o}\0 ", sum);
    h[148..156].copy_from_slice(s.as_bytes());
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    fn untar(t: &[u8]) -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        let out = std::process::Command::new("tar")
            .arg("-x")
            .arg("-C")
            .arg(d.path())
            .stdin(std::process::Stdio::piped())
            .spawn()
            .and_then(|mut c| {
                c.stdin.take().unwrap().write_all(t)?;
                c.wait()
            })
            .unwrap();
        assert!(out.success());
        d
    }

    #[test]
    fn tar_of_memory_and_host_files_is_readable_by_tar() {
        let host = tempfile::tempdir().unwrap();
        // Larger than one copy buffer and not a multiple of 512.
        let big: Vec<u8> = (0..200_003u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(host.path().join("big.tar"), &big).unwrap();
        let mut files: BTreeMap<String, Content> = BTreeMap::new();
        files.insert("a/provision.sh".into(), Content::Bytes(b"echo hi\n"));
        files.insert("a/files/x.conf".into(), Content::Bytes(b"x=1\n"));
        files.insert(
            "b/base-image.tar".into(),
            Content::File(host.path().join("big.tar")),
        );
        let mut t = Vec::new();
        write_tar(&mut t, &files).unwrap();
        let d = untar(&t);
        assert_eq!(
            std::fs::read_to_string(d.path().join("a/files/x.conf")).unwrap(),
            "x=1\n"
        );
        assert_eq!(
            std::fs::read(d.path().join("b/base-image.tar")).unwrap(),
            big
        );
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &str| {
            std::fs::metadata(d.path().join(p))
                .unwrap()
                .permissions()
                .mode()
                & 0o777
        };
        assert_eq!(
            (mode("a/provision.sh"), mode("a/files/x.conf")),
            (0o755, 0o644)
        );
    }

    #[test]
    fn a_missing_host_file_or_a_long_path_is_an_error_naming_it() {
        let mut files: BTreeMap<String, Content> = BTreeMap::new();
        files.insert(
            "b/base-image.tar".into(),
            Content::File("/nonexistent/labctl-base.tar".into()),
        );
        let e = write_tar(&mut Vec::new(), &files).unwrap_err();
        assert!(
            e.to_string().contains("/nonexistent/labctl-base.tar"),
            "{e}"
        );
        let mut files: BTreeMap<String, Content> = BTreeMap::new();
        let long = format!("r/{}", "x".repeat(MAX_PATH));
        files.insert(long.clone(), Content::Bytes(b""));
        let e = write_tar(&mut Vec::new(), &files).unwrap_err();
        assert!(e.to_string().contains(&long), "{e}");
    }
}
