//! Each docker node's own SSH key pair, made by labctl in the lab's state dir
//! (`keys/NODE`, mode 0600, and `keys/NODE.pub`) before `vagrant up`. The
//! container gets the public key at creation (the Vagrantfile passes it as
//! `LABCTL_SSH_AUTHORIZED_KEY`) and its init authorizes it alone before sshd
//! starts, so Vagrant's well-known key is never accepted by a node and
//! Vagrant swaps no key over SSH (`insert_key` is off on docker). Made once
//! and kept across `up`s of the lab; `down` removes the folder with the
//! state dir's other files.

use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

/// The environment variable the node's init reads its one key from (image/init.sh).
pub const ENV: &str = "LABCTL_SSH_AUTHORIZED_KEY";

/// The private key of `node` in the keys folder `dir`.
pub fn private_key(dir: &Path, node: &str) -> PathBuf {
    dir.join(node)
}

fn public_key(dir: &Path, node: &str) -> PathBuf {
    dir.join(format!("{node}.pub"))
}

/// One `ssh-ed25519 BASE64` line of a 32-byte Ed25519 key: what the node's
/// init accepts, and nothing else (no options, no comment, no second key).
pub fn valid_public_line(line: &str) -> bool {
    static RE: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"^ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI[A-Za-z0-9+/]{43}$").unwrap()
    });
    RE.is_match(line)
}

/// The node's public key as its init takes it: the key file's first two
/// fields (ssh-keygen may add a comment), checked.
pub fn public_line(dir: &Path, node: &str) -> Result<String> {
    let f = public_key(dir, node);
    let text = std::fs::read_to_string(&f).map_err(|e| Error::io("read", &f, e))?;
    let line = text
        .split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ");
    if !valid_public_line(&line) {
        return Err(Error::env(
            format!("{} is not one ssh-ed25519 public key", f.display()),
            Some("labctl made it; remove the keys folder with `labctl down` and bring the lab up again".into()),
        ));
    }
    Ok(line)
}

/// Make the key pair of every node in `nodes` that has none in `dir` (a
/// folder of the state dir, made 0700); returns the nodes whose pair was
/// made now. One ssh-keygen per missing pair, all running at once (a
/// 50-node lab's first `up` waits for the slowest, a few ms, not their sum);
/// a pair is only taken as there when both files are, so a half-made pair
/// (an interrupted run) is made again.
pub fn ensure(dir: &Path, nodes: &[String]) -> Result<Vec<String>> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    if !dir.is_dir() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| Error::io("create", dir, e))?;
    }
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
        .map_err(|e| Error::io("set permissions of", dir, e))?;
    let missing: Vec<&String> = nodes
        .iter()
        .filter(|n| !(private_key(dir, n).is_file() && public_key(dir, n).is_file()))
        .collect();
    let mut children = Vec::new();
    for n in &missing {
        for f in [private_key(dir, n), public_key(dir, n)] {
            // ssh-keygen asks before overwriting; a half pair is labctl's own leftover.
            let _ = std::fs::remove_file(&f);
        }
        let child = std::process::Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-C", "", "-f"])
            .arg(private_key(dir, n))
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .map_err(|e| {
                Error::io("run", "ssh-keygen", e)
                    .with_hint("labctl makes each docker node's SSH key with ssh-keygen (apt-get install openssh-client)".into())
            })?;
        children.push((n.to_string(), child));
    }
    let mut failed = Vec::new();
    for (n, child) in children {
        match child.wait_with_output() {
            Ok(o) if o.status.success() => {}
            Ok(o) => failed.push(format!(
                "{n}: {}",
                String::from_utf8_lossy(&o.stderr).trim()
            )),
            Err(e) => failed.push(format!("{n}: {e}")),
        }
    }
    if !failed.is_empty() {
        return Err(Error::Tool {
            command: format!("ssh-keygen -t ed25519 -f {}/NODE", dir.display()),
            code: None,
            stderr: failed.join("\n"),
            hint: Some("labctl makes each docker node's SSH key pair in the lab's state dir; is it writable?".into()),
        });
    }
    for n in nodes {
        public_line(dir, n)?;
    }
    Ok(missing.into_iter().cloned().collect())
}

/// A container made before labctl made the nodes' keys (by a labctl that let
/// Vagrant swap the well-known key: Vagrant's `private_key` is in the
/// machine's data dir and labctl's is not) authorizes only Vagrant's key, and
/// its environment cannot change: refused, naming the way out, rather than
/// left to time out in Vagrant's SSH wait.
pub fn refuse_swapped(root: &Path, dir: &Path, lab: &str, nodes: &[String]) -> Result<()> {
    let old: Vec<&str> = nodes
        .iter()
        .filter(|n| {
            crate::provider::vagrant_records::machine_key(root, n, "docker").is_file()
                && !private_key(dir, n).is_file()
        })
        .map(|n| n.as_str())
        .collect();
    if old.is_empty() {
        return Ok(());
    }
    Err(Error::env(
        format!(
            "lab {lab}: the machines of {} were made by an older labctl, with Vagrant's key swap; they do not take the nodes' own SSH keys",
            old.join(", ")
        ),
        Some(format!("`labctl down {lab}` and `labctl up {lab}` make them again with their own keys")),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;
    use std::os::unix::fs::PermissionsExt;

    fn have_ssh_keygen() -> bool {
        std::process::Command::new("ssh-keygen")
            .arg("-?")
            .output()
            .is_ok()
    }

    #[test]
    fn made_once_private_and_checked() {
        if !have_ssh_keygen() {
            eprintln!("skipped: no ssh-keygen");
            return;
        }
        let d = tempfile::tempdir().unwrap();
        let keys = d.path().join("keys");
        let nodes: Vec<String> = ["web1", "web2", "db"].map(String::from).to_vec();
        assert_eq!(ensure(&keys, &nodes).unwrap(), nodes);
        let mode = std::fs::metadata(&keys).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
        let mut lines = Vec::new();
        for n in &nodes {
            let m = std::fs::metadata(private_key(&keys, n)).unwrap();
            assert_eq!(m.permissions().mode() & 0o077, 0, "{n}'s key is private");
            let l = public_line(&keys, n).unwrap();
            assert!(valid_public_line(&l), "{l}");
            lines.push(l);
        }
        lines.dedup();
        assert_eq!(lines.len(), 3, "every node has a key of its own");
        // Kept: a second run makes nothing and changes nothing.
        let before = std::fs::read(private_key(&keys, "web1")).unwrap();
        assert!(ensure(&keys, &nodes).unwrap().is_empty());
        assert_eq!(std::fs::read(private_key(&keys, "web1")).unwrap(), before);
        // A half pair (interrupted run) is made again; the others stay.
        std::fs::remove_file(public_key(&keys, "db")).unwrap();
        assert_eq!(ensure(&keys, &nodes).unwrap(), vec!["db".to_string()]);
        assert_eq!(std::fs::read(private_key(&keys, "web1")).unwrap(), before);
    }

    #[test]
    fn a_public_key_that_is_not_one_ed25519_line_is_refused() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(
            d.path().join("n.pub"),
            "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQ x\n",
        )
        .unwrap();
        let e = public_line(d.path(), "n").unwrap_err();
        assert!(e.to_string().contains("not one ssh-ed25519"), "{e}");
    }

    #[test]
    fn machines_of_the_key_swap_are_refused() {
        let d = tempfile::tempdir().unwrap();
        let keys = d.path().join("keys");
        let nodes: Vec<String> = ["web1", "web2"].map(String::from).to_vec();
        assert!(refuse_swapped(d.path(), &keys, "lab", &nodes).is_ok());
        let data = d.path().join(".vagrant/machines/web2/docker");
        std::fs::create_dir_all(&data).unwrap();
        std::fs::write(data.join("private_key"), "k").unwrap();
        let e = refuse_swapped(d.path(), &keys, "lab", &nodes).unwrap_err();
        let text = e.to_string();
        assert!(text.contains("web2") && !text.contains("web1"), "{text}");
        std::fs::create_dir_all(&keys).unwrap();
        std::fs::write(keys.join("web2"), "k").unwrap();
        assert!(refuse_swapped(d.path(), &keys, "lab", &nodes).is_ok());
    }

    const OK: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl";

    #[test]
    fn a_real_key_line_is_valid() {
        assert!(valid_public_line(OK));
    }

    #[rstest]
    #[case::empty("")]
    #[case::rsa("ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQ")]
    #[case::comment(&format!("{OK} me@host"))]
    #[case::option(&format!("command=\"sh\" {OK}"))]
    #[case::two_lines(&format!("{OK}\n{OK}"))]
    #[case::newline_at_end(&format!("{OK}\n"))]
    #[case::short(&OK[..OK.len() - 1])]
    #[case::quote(&format!("{}'", &OK[..OK.len() - 1]))]
    fn invalid_public_lines(#[case] line: &str) {
        assert!(!valid_public_line(line), "{line:?}");
    }
}
