//! The lab's own `ssh_config`: `vagrant ssh-config` read once, written back with
//! host keys verified against the lab's known_hosts under a lab/node alias,
//! for `labctl ssh` (OpenSSH).

use crate::error::Result;
use std::path::Path;

/// One node as the lab's ssh_config names it.
pub struct Host {
    /// The node name (`Host` line).
    pub name: String,
    /// The name its host key is recorded under (`labctl-LAB-NODE`).
    pub alias: String,
    pub hostname: String,
    pub port: u16,
    pub user: String,
    pub key: String,
}

/// Write the lab's ssh_config: every host verified against `known_hosts`.
pub fn write(path: &Path, known_hosts: &Path, hosts: &[Host]) -> Result<()> {
    let mut cfg =
        String::from("# SSH config of the lab, written by labctl. Host keys are verified.\n");
    for h in hosts {
        cfg.push_str(&format!(
            "\nHost {}\n  HostName {}\n  Port {}\n  User {}\n  IdentityFile \"{}\"\n  IdentitiesOnly yes\n  HostKeyAlias {}\n  UserKnownHostsFile \"{}\"\n  StrictHostKeyChecking yes\n  LogLevel ERROR\n",
            h.name,
            h.hostname,
            h.port,
            h.user,
            h.key,
            h.alias,
            std::path::absolute(known_hosts).unwrap_or(known_hosts.to_path_buf()).display()
        ));
    }
    crate::state::write_atomic(path, cfg.as_bytes())
}

/// Parse `vagrant ssh-config` output into (host alias -> (HostName, Port, User, IdentityFile)).
pub fn parse(text: &str) -> Vec<(String, String, u16, String, String)> {
    let mut out = Vec::new();
    let mut cur: Option<(String, String, u16, String, String)> = None;
    for line in text.lines() {
        let line = line.trim();
        let mut it = line.splitn(2, char::is_whitespace);
        let (Some(k), Some(v)) = (it.next(), it.next()) else {
            continue;
        };
        let v = v.trim().trim_matches('"').to_string();
        match k {
            "Host" => {
                if let Some(c) = cur.take() {
                    out.push(c);
                }
                cur = Some((v, String::new(), 22, String::new(), String::new()));
            }
            "HostName" => {
                if let Some(c) = cur.as_mut() {
                    c.1 = v
                }
            }
            "Port" => {
                if let Some(c) = cur.as_mut() {
                    c.2 = v.parse().unwrap_or(22)
                }
            }
            "User" => {
                if let Some(c) = cur.as_mut() {
                    c.3 = v
                }
            }
            "IdentityFile" => {
                if let Some(c) = cur.as_mut() {
                    if c.4.is_empty() {
                        c.4 = v
                    }
                }
            }
            _ => {}
        }
    }
    if let Some(c) = cur {
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_vagrant_ssh_config() {
        let text = "Host web1\n  HostName 127.0.0.1\n  User vagrant\n  Port 2222\n  UserKnownHostsFile /dev/null\n  StrictHostKeyChecking no\n  IdentityFile /x/.vagrant/machines/web1/docker/private_key\n  IdentitiesOnly yes\n\nHost web2\n  HostName 127.0.0.1\n  User vagrant\n  Port 2200\n  IdentityFile \"/y/private_key\"\n";
        let v = parse(text);
        assert_eq!(v.len(), 2);
        assert_eq!(
            v[0],
            (
                "web1".into(),
                "127.0.0.1".into(),
                2222,
                "vagrant".into(),
                "/x/.vagrant/machines/web1/docker/private_key".into()
            )
        );
        assert_eq!(v[1].2, 2200);
        assert_eq!(v[1].4, "/y/private_key");
    }
}
