//! SSH host keys from a VM's serial console. labctl's box prints
//! `labctl-hostkey TYPE BASE64` on it (through the kernel log, so a line may
//! carry a timestamp before it) before sshd starts, at every boot; the
//! Vagrantfile sends the console to `console_dir/NODE.log`. The keys are
//! written to the lab's known_hosts under the node's alias before labctl's
//! first SSH contact, so the connection verifies them instead of trusting the
//! first key it sees.

use crate::error::{Error, Result};
use std::path::Path;
use std::time::{Duration, Instant};

/// Key types the box prints (ssh-keygen -A, without RSA).
const TYPES: [&str; 4] = [
    "ssh-ed25519",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
];

/// The `(type, base64)` host keys in a console log, in order, each once.
/// Anything else on the line (console noise, a carriage return) is refused
/// rather than copied into known_hosts. Only whole lines count: the log is
/// read while the guest may still be writing it, and the first part of a key
/// line is valid base64 too (a cut key pinned would refuse the real one).
pub fn host_keys(log: &str) -> Vec<(String, String)> {
    let mut keys: Vec<(String, String)> = Vec::new();
    let whole = log.rfind('\n').map_or("", |end| &log[..end]);
    for line in whole.lines() {
        let Some(rest) = line.split("labctl-hostkey ").nth(1) else {
            continue;
        };
        let mut w = rest.trim_end_matches('\r').split(' ');
        let (Some(t), Some(k), None) = (w.next(), w.next(), w.next()) else {
            continue;
        };
        let base64 = !k.is_empty()
            && k.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/' || b == b'=');
        if TYPES.contains(&t) && base64 && !keys.iter().any(|(_, x)| x == k) {
            keys.push((t.to_string(), k.to_string()));
        }
    }
    keys
}

/// Replace the node's entries in `known_hosts` (by `alias`) with the keys its
/// console log holds. Waits up to `wait` for the log to show them (sshd may
/// start a moment after Vagrant saw SSH ready); no key is an error, never a
/// reason to trust whatever key the node offers.
pub fn pin(log: &Path, known_hosts: &Path, alias: &str, wait: Duration) -> Result<usize> {
    let start = Instant::now();
    let keys = loop {
        let text = std::fs::read(log)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default();
        let keys = host_keys(&text);
        if !keys.is_empty() || start.elapsed() >= wait {
            break keys;
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    if keys.is_empty() {
        return Err(Error::env(
            format!(
                "no SSH host key of {alias} in its console log {} (the box prints `labctl-hostkey` lines before sshd starts)",
                log.display()
            ),
            Some("the box may not be labctl's; `labctl image build` makes it".into()),
        ));
    }
    crate::remote::forget_host(known_hosts, alias)?;
    let mut text = std::fs::read_to_string(known_hosts).unwrap_or_default();
    for (t, k) in &keys {
        text.push_str(&format!("{alias} {t} {k}\n"));
    }
    crate::state::write_atomic(known_hosts, text.as_bytes())?;
    Ok(keys.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_read_from_console_noise_and_garbage_is_refused() {
        let log = "[    0.000000] Linux version 6.1\r\nlabctl-hostkey ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE1\r\n\
                   labctl-hostkey ecdsa-sha2-nistp256 AAAAE2VjZHNh+/=\nlabctl-hostkey ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE1\n\
                   labctl-hostkey ssh-rsa AAAAB3\nlabctl-hostkey ssh-ed25519 AAAA;rm\nlabctl-hostkey ssh-ed25519 AAAA extra\n";
        assert_eq!(
            host_keys(log),
            vec![
                ("ssh-ed25519".into(), "AAAAC3NzaC1lZDI1NTE5AAAAIE1".into()),
                ("ecdsa-sha2-nistp256".into(), "AAAAE2VjZHNh+/=".into()),
            ]
        );
    }

    #[test]
    fn a_key_line_the_guest_is_still_writing_is_not_read() {
        let done = "labctl-hostkey ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE1\r\n";
        let cut = "labctl-hostkey ecdsa-sha2-nistp256 AAAAE2Vj";
        assert_eq!(
            host_keys(&format!("{done}{cut}")),
            vec![("ssh-ed25519".into(), "AAAAC3NzaC1lZDI1NTE5AAAAIE1".into())]
        );
        assert!(host_keys(cut).is_empty());
    }

    #[test]
    fn pinning_replaces_the_nodes_old_keys_only() {
        let d = tempfile::tempdir().unwrap();
        let log = d.path().join("n1.log");
        let kh = d.path().join("known_hosts");
        std::fs::write(
            &kh,
            "labctl-l-n1 ssh-ed25519 OLD\nlabctl-l-n2 ssh-ed25519 OTHER\n",
        )
        .unwrap();
        std::fs::write(&log, "labctl-hostkey ssh-ed25519 NEW\n").unwrap();
        assert_eq!(pin(&log, &kh, "labctl-l-n1", Duration::ZERO).unwrap(), 1);
        assert_eq!(
            std::fs::read_to_string(&kh).unwrap(),
            "labctl-l-n2 ssh-ed25519 OTHER\nlabctl-l-n1 ssh-ed25519 NEW\n"
        );
        std::fs::write(&log, "booting\n").unwrap();
        let e = pin(&log, &kh, "labctl-l-n1", Duration::ZERO).unwrap_err();
        assert!(
            e.to_string().contains("no SSH host key of labctl-l-n1"),
            "{e}"
        );
    }
}
