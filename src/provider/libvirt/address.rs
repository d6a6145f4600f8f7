//! A libvirt machine's SSH address without `vagrant ssh-config`. That call
//! starts Ruby and Vagrant's plugins (2 s and more on a loaded 2-core host,
//! CPU the booting guests want) and sits on `up`'s critical path: the last
//! node's provisioning waits for it. vagrant-libvirt itself answers it from
//! the DHCP lease of the domain Vagrant made (its UUID is the machine id in
//! `.vagrant/machines/NODE/libvirt/id`) on the management network; labctl
//! asks libvirt the same (`virsh domifaddr UUID --source lease`, tens of
//! milliseconds) and leaves the node to `vagrant ssh-config` whenever the
//! answer is not exactly one address in the management subnet (no machine
//! id, a domain not running, no lease yet, two leases). The host key is
//! still the one pinned from the console: a wrong address is refused by the
//! SSH connection, never trusted.

use super::virsh::{machine_domain, virsh};
use crate::exec::Runner;
use ipnet::Ipv4Net;
use std::net::Ipv4Addr;
use std::path::Path;

/// The address of `node`'s domain on the management network `mgmt`, read
/// from libvirt; `None` when libvirt does not give exactly one.
pub fn lease_address(r: &dyn Runner, root: &Path, node: &str, mgmt: Ipv4Net) -> Option<Ipv4Addr> {
    let id = machine_domain(root, node)?;
    let out = r
        .output(&virsh(["domifaddr", &id, "--source", "lease"]))
        .ok()?;
    if !out.success() {
        return None;
    }
    only_address(&out.stdout, mgmt)
}

/// `virsh domifaddr` prints a header, a rule, then `NAME MAC PROTOCOL
/// ADDRESS/PREFIX` rows (`-` for the name and MAC of an interface's further
/// addresses). The one IPv4 address inside `mgmt`, if there is exactly one.
fn only_address(text: &str, mgmt: Ipv4Net) -> Option<Ipv4Addr> {
    let mut found: Vec<Ipv4Addr> = Vec::new();
    for row in text
        .lines()
        .skip_while(|l| !l.trim_start().starts_with("---"))
        .skip(1)
    {
        let cols: Vec<&str> = row.split_whitespace().collect();
        let [_, _, "ipv4", addr] = cols[..] else {
            continue;
        };
        let Some(ip) = addr
            .split_once('/')
            .and_then(|(ip, _)| ip.parse::<Ipv4Addr>().ok())
        else {
            continue;
        };
        if mgmt.contains(&ip) && !found.contains(&ip) {
            found.push(ip);
        }
    }
    match found[..] {
        [ip] => Some(ip),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::Recorder;

    /// As virsh 9.0 printed it for a lab VM on this host.
    const ONE: &str = " Name       MAC address          Protocol     Address\n\
        -------------------------------------------------------------------------------\n \
        vnet4      52:54:00:85:0c:ea    ipv4         192.168.121.12/24\n\n";

    fn mgmt() -> Ipv4Net {
        "192.168.121.0/24".parse().unwrap()
    }

    #[test]
    fn one_lease_in_the_management_subnet_is_the_address() {
        assert_eq!(
            only_address(ONE, mgmt()),
            Some(Ipv4Addr::new(192, 168, 121, 12))
        );
    }

    #[test]
    fn no_lease_two_leases_or_another_subnet_leave_it_to_vagrant() {
        let header = " Name MAC Protocol Address\n------------\n";
        assert_eq!(only_address(header, mgmt()), None);
        let two = format!(
            "{header} vnet4 52:54:00:85:0c:ea ipv4 192.168.121.12/24\n - - ipv4 192.168.121.13/24\n"
        );
        assert_eq!(only_address(&two, mgmt()), None);
        let other = format!("{header} vnet5 52:54:00:09:4a:03 ipv4 192.168.67.11/24\n");
        assert_eq!(only_address(&other, mgmt()), None);
        let v6 = format!("{header} vnet4 52:54:00:85:0c:ea ipv6 fe80::1/64\n");
        assert_eq!(only_address(&v6, mgmt()), None);
    }

    fn with_id(id: &str) -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        let m = d.path().join(".vagrant/machines/web1/libvirt");
        std::fs::create_dir_all(&m).unwrap();
        std::fs::write(m.join("id"), id).unwrap();
        d
    }

    #[test]
    fn the_domain_is_asked_by_vagrants_machine_id() {
        let d = with_id("0b6c7a4e-3f51-4f0e-9a57-1d2b3c4d5e6f\n");
        let r = Recorder::default();
        r.answer("virsh -c qemu:///system domifaddr", 0, ONE);
        let ip = lease_address(&r, d.path(), "web1", mgmt());
        assert_eq!(ip, Some(Ipv4Addr::new(192, 168, 121, 12)));
        assert_eq!(
            r.lines(),
            vec!["virsh -c qemu:///system domifaddr 0b6c7a4e-3f51-4f0e-9a57-1d2b3c4d5e6f --source lease"]
        );
    }

    #[test]
    fn a_domain_not_running_no_id_or_a_strange_id_leave_it_to_vagrant() {
        let d = with_id("0b6c7a4e-3f51-4f0e-9a57-1d2b3c4d5e6f");
        let r = Recorder::default();
        r.answer("virsh -c qemu:///system domifaddr", 1, "");
        assert_eq!(lease_address(&r, d.path(), "web1", mgmt()), None);
        let r = Recorder::default();
        assert_eq!(lease_address(&r, d.path(), "web2", mgmt()), None);
        let d = with_id("--all");
        assert_eq!(lease_address(&r, d.path(), "web1", mgmt()), None);
        assert!(r.lines().is_empty(), "{:?}", r.lines());
    }
}
