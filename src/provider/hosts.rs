//! The hosts provider: a lab's nodes are existing machines reached over SSH
//! (`[provider] kind = "hosts"`, docs/hosts.md). Nothing is created or
//! destroyed here: the preflight checks each machine before labctl changes
//! it (SSH with the given key, the host key recorded on first contact and
//! verified after, passwordless sudo, a Debian-family OS, labctl's folders
//! absent or this lab's), `claim` marks it as the lab's, and before lab
//! traffic every lab address must be held by the lab's own node reached with
//! its recorded host key. Provisioning and `down`'s undo run through the
//! same `remote` and `provision` machinery as on every provider.

use super::{Preflight, Provider};
use crate::error::{Error, Result};
use crate::exec::{Cmd, Runner};
use crate::lab::{Lab, Node};
use crate::load::Loaded;
use crate::remote::marker;
use crate::remote::ssh_config::Host;
use crate::remote::{Conn, Target};
use crate::shell::{sh_args, sh_root_args};
use crate::state::runtime::Runtime;
use crate::state::{Kind, State, StateDir};
use std::collections::BTreeMap;
use std::net::{TcpStream, ToSocketAddrs};
use std::path::Path;
use std::time::Duration;

const PREFLIGHT: &str = include_str!("scripts/hosts-preflight.sh");
const CLAIM: &str = include_str!("scripts/hosts-claim.sh");
const LAB_ADDRESS: &str = include_str!("scripts/hosts-lab-address.sh");
/// Who owns labctl's folders on a machine, as a marker line `owner NAME`,
/// `owner ?` or `owner -`: the one probe of the preflight (after its own
/// checks) and of `down`'s undo list (provision::undo, before its own).
pub const OWNER_PROBE: &str = include_str!("scripts/hosts-owner.sh");

/// How long the preflight and the safety check try to reach a machine that
/// refuses connections: it already runs, so a few seconds tell.
pub const CONNECT_WAIT: Duration = Duration::from_secs(8);

pub struct Hosts;

/// Node `node`'s SSH address, user and key as the lab file gives them.
pub fn ssh_host(lab: &Lab, node: &Node) -> Option<Host> {
    let s = node.ssh.as_ref()?;
    Some(Host {
        name: node.name.clone(),
        alias: lab.machine_name(&node.name),
        hostname: s.address.clone(),
        port: s.port,
        user: s.user.clone(),
        key: s.key.display().to_string(),
    })
}

/// Every node's SSH address, from the lab file.
pub fn ssh_hosts(lab: &Lab) -> Vec<Host> {
    lab.nodes.iter().filter_map(|n| ssh_host(lab, n)).collect()
}

/// Node-side output as (kind, args) of its marker lines.
fn markers(out: &str) -> Vec<(String, String)> {
    out.lines()
        .filter_map(marker::parse)
        .map(|m| (m.kind.to_string(), m.args.trim().to_string()))
        .collect()
}

fn answer<'a>(m: &'a [(String, String)], kind: &str) -> Option<&'a str> {
    m.iter().find(|(k, _)| k == kind).map(|(_, a)| a.as_str())
}

/// What the preflight found wrong with one machine, or nothing.
fn judge(lab: &str, t: &Target, out: &str) -> Option<String> {
    let m = markers(out);
    let who = format!("{}@{}:{}", t.user, t.host, t.port);
    if answer(&m, "sudo") != Some("ok") {
        return Some(format!(
            "user {} cannot run sudo without a password ({who}); labctl provisions as root through `sudo -n`",
            t.user
        ));
    }
    let os = answer(&m, "os").unwrap_or("unknown");
    if !os
        .split_whitespace()
        .any(|w| w == "debian" || w == "ubuntu")
    {
        return Some(format!(
            "is not Debian-family (/etc/os-release says ID/ID_LIKE `{}`); labctl's roles use apt",
            os.trim()
        ));
    }
    match answer(&m, "owner") {
        Some("-") => None,
        Some(owner) if owner == lab => None,
        Some("?") => Some(format!(
            "/var/lib/labctl or ~{}/.labctl is there without a lab's marker; labctl does not take over folders it did not make",
            t.user
        )),
        Some(owner) => Some(format!(
            "/var/lib/labctl belongs to lab `{owner}`; `labctl down {owner}` gives the machine back first"
        )),
        None => Some("the preflight script printed no answer".into()),
    }
}

/// Check one machine before anything of the lab is put on it: reachable
/// with its key (the host key recorded on first contact, refused when
/// changed), passwordless sudo, Debian-family, labctl's folders free or this
/// lab's. Changes nothing on the machine.
pub fn preflight_node(lab: &Lab, t: &Target, wait: Duration) -> Result<()> {
    let conn = Conn::connect(t, wait)?;
    let out = conn.run(
        &sh_args(
            &format!("{PREFLIGHT}{OWNER_PROBE}"),
            "labctl-hosts-preflight",
            &[&lab.name.value],
        ),
        Duration::from_secs(30),
    )?;
    match judge(&lab.name.value, t, &out.stdout) {
        None => Ok(()),
        Some(why) => Err(Error::env(
            format!("node {}: {why}", t.node),
            Some(format!(
                "labctl changed nothing on {}; fix the machine (or the node's `ssh` in the lab file) and run `labctl up {}` again",
                t.node, lab.name.value
            )),
        )),
    }
}

/// The preflight of every node at once; every node that fails is named (the
/// first error carries the others' messages too).
pub fn preflight(lab: &Lab, targets: &[Target], wait: Duration) -> Result<()> {
    let errors: Vec<Error> = std::thread::scope(|s| {
        let handles: Vec<_> = targets
            .iter()
            .map(|t| s.spawn(move || preflight_node(lab, t, wait)))
            .collect();
        handles
            .into_iter()
            .filter_map(|h| {
                h.join()
                    .unwrap_or_else(|p| std::panic::resume_unwind(p))
                    .err()
            })
            .collect()
    });
    let mut errors = errors.into_iter();
    let Some(first) = errors.next() else {
        return Ok(());
    };
    let rest: Vec<String> = errors.map(|e| e.to_string()).collect();
    if rest.is_empty() {
        return Err(first);
    }
    Err(Error::env(
        format!("{first}\n  {}", rest.join("\n  ")),
        Some(format!(
            "labctl changed nothing on these machines; fix them and run `labctl up {}` again",
            lab.name.value
        )),
    ))
}

/// Mark the machine as this lab's (`/var/lib/labctl/lab`), after its
/// preflight passed and before the first role runs.
pub fn claim(lab: &Lab, t: &Target) -> Result<()> {
    let conn = Conn::connect(t, CONNECT_WAIT)?;
    let out = conn.run(
        &sh_root_args(CLAIM, "labctl-hosts-claim", &[&lab.name.value]),
        Duration::from_secs(30),
    )?;
    if out.code != 0 {
        return Err(Error::env(
            format!(
                "node {}: cannot mark /var/lib/labctl as lab {}'s (exit {}): {}",
                t.node,
                lab.name.value,
                out.code,
                out.stderr.trim()
            ),
            None,
        ));
    }
    Ok(())
}

/// Whether `known_hosts` holds a key recorded under `alias`.
fn key_recorded(known_hosts: &Path, alias: &str) -> bool {
    std::fs::read_to_string(known_hosts).is_ok_and(|text| {
        text.lines().any(|l| {
            l.split_whitespace()
                .next()
                .is_some_and(|h| h.split(',').any(|x| x == alias))
        })
    })
}

/// Network safety on a hosts lab, before any lab traffic (checks, bench):
/// the lab addresses are distinct, and each is held by the lab's own node,
/// reached over SSH with the host key recorded when labctl first contacted
/// it (a node with no recorded key, or a changed one, is refused). Traffic
/// then goes only to these addresses.
pub fn check_lab_addresses(lab: &Lab, targets: &BTreeMap<String, Target>) -> Result<()> {
    let mut seen: BTreeMap<std::net::Ipv4Addr, &str> = BTreeMap::new();
    for n in &lab.nodes {
        if let Some(other) = seen.insert(n.ip, &n.name) {
            return Err(Error::env(
                format!(
                    "nodes {other} and {} have the same lab address {}; no lab traffic is sent",
                    n.name, n.ip
                ),
                None,
            ));
        }
    }
    for n in &lab.nodes {
        let refuse = |why: String| {
            Error::env(
                format!("node {}: {why}; no lab traffic is sent to {}", n.name, n.ip),
                Some(format!(
                    "`labctl up {}` reaches every node and records its host key first",
                    lab.name.value
                )),
            )
        };
        let Some(t) = targets.get(&n.name) else {
            return Err(refuse(
                "labctl has not reached it (not in the lab's state)".into(),
            ));
        };
        if !key_recorded(&t.known_hosts, &t.alias) {
            return Err(refuse(format!(
                "no host key recorded for it in {}",
                t.known_hosts.display()
            )));
        }
        let conn = Conn::connect(t, CONNECT_WAIT)?;
        let out = conn.run(
            &sh_args(
                LAB_ADDRESS,
                "labctl-hosts-lab-address",
                &[&n.ip.to_string()],
            ),
            Duration::from_secs(30),
        )?;
        if answer(&markers(&out.stdout), "holds") != Some("yes") {
            return Err(refuse(format!(
                "the machine at {}:{} does not hold its lab address {} on any interface",
                t.host, t.port, n.ip
            )));
        }
    }
    Ok(())
}

/// Can a TCP connection reach `host:port` within `wait`? What `status` says
/// of an existing machine (it neither starts nor stops them).
fn answers_on(host: &str, port: u16, wait: Duration) -> bool {
    (host, port)
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .is_some_and(|a| TcpStream::connect_timeout(&a, wait).is_ok())
}

impl Provider for Hosts {
    fn kind(&self) -> Kind {
        Kind::Hosts
    }

    /// The machines are checked over SSH by the lifecycle, which knows the
    /// lab's known_hosts ([`preflight`]); the host itself needs nothing.
    fn preflight(
        &self,
        _r: &dyn Runner,
        _loaded: &Loaded,
        _state: &State,
        _rebuild_image: bool,
    ) -> Result<Preflight> {
        Ok(Preflight::default())
    }

    /// Never used: `up` of a hosts lab makes no machine, no network and no
    /// Vagrantfile (lifecycle's hosts path).
    fn create(
        &self,
        _r: &dyn Runner,
        lab: &Lab,
        _dir: &StateDir,
        _state: &mut State,
        _pre: &Preflight,
    ) -> Result<Runtime> {
        Err(Error::usage(format!(
            "lab {}: labctl creates no machine for a lab of existing machines",
            lab.name.value
        )))
    }

    fn states(&self, _r: &dyn Runner, lab: &Lab, _dir: &Path) -> Result<BTreeMap<String, String>> {
        Ok(ssh_hosts(lab)
            .into_iter()
            .map(|h| {
                let s = if answers_on(&h.hostname, h.port, Duration::from_secs(3)) {
                    "existing, SSH answers"
                } else {
                    "existing, SSH does not answer"
                };
                (h.name, s.to_string())
            })
            .collect())
    }

    /// Never used: a hosts lab's safety needs the lab's recorded host keys,
    /// which the lifecycle passes to [`check_lab_addresses`].
    fn check_route(&self, _r: &dyn Runner, lab: &Lab) -> Result<()> {
        Err(Error::env(
            format!(
                "lab {}: existing machines are checked with their recorded host keys, not by route",
                lab.name.value
            ),
            None,
        ))
    }

    fn probe(&self) -> Cmd {
        Cmd::new("ssh").arg("-V")
    }

    /// No machine was made: nothing is destroyed.
    fn destroy(&self, _r: &dyn Runner, _lab: &Lab, _dir: &Path) -> Vec<String> {
        Vec::new()
    }

    fn sweep(&self, _r: &dyn Runner, _lab: &Lab, _stopped: bool) -> Result<Vec<String>> {
        Ok(Vec::new())
    }

    fn inventory(&self, _r: &dyn Runner, _lab: &Lab) -> Result<Vec<String>> {
        Ok(Vec::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target() -> Target {
        Target {
            node: "server".into(),
            host: "10.0.0.89".into(),
            port: 22,
            user: "admin".into(),
            key: "/k".into(),
            alias: "labctl-t-server".into(),
            known_hosts: "/nowhere".into(),
        }
    }

    /// The preflight's verdicts from the node script's markers: each refusal
    /// says why; only sudo, a Debian-family OS and free (or own) folders pass.
    #[test]
    fn preflight_answers_are_judged() {
        let t = target();
        let ok = "::labctl:: sudo ok\n::labctl:: os debian \n::labctl:: owner -\n";
        assert_eq!(judge("t", &t, ok), None);
        let own = "::labctl:: sudo ok\n::labctl:: os ubuntu debian\n::labctl:: owner t\n";
        assert_eq!(judge("t", &t, own), None);
        let cases = [
            (
                "::labctl:: sudo no\n::labctl:: os debian \n::labctl:: owner -\n",
                "cannot run sudo without a password",
            ),
            (
                "::labctl:: sudo ok\n::labctl:: os fedora \n::labctl:: owner -\n",
                "not Debian-family",
            ),
            (
                "::labctl:: sudo ok\n::labctl:: os debian \n::labctl:: owner other\n",
                "belongs to lab `other`",
            ),
            (
                "::labctl:: sudo ok\n::labctl:: os debian \n::labctl:: owner ?\n",
                "without a lab's marker",
            ),
            ("", "cannot run sudo"),
        ];
        for (out, want) in cases {
            let why = judge("t", &t, out).unwrap_or_default();
            assert!(why.contains(want), "{out:?}: {why}");
        }
    }

    #[test]
    fn recorded_keys_are_found_by_alias() {
        let d = tempfile::tempdir().unwrap();
        let kh = d.path().join("known_hosts");
        assert!(!key_recorded(&kh, "labctl-t-a"));
        std::fs::write(&kh, "labctl-t-ab ssh-ed25519 AAAA\n").unwrap();
        assert!(!key_recorded(&kh, "labctl-t-a"));
        std::fs::write(&kh, "labctl-t-a ssh-ed25519 AAAA\n").unwrap();
        assert!(key_recorded(&kh, "labctl-t-a"));
    }
}
