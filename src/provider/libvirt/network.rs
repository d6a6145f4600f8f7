//! The lab's two libvirt networks, both labctl's: `labctl-LAB`, the lab's
//! private network (isolated, no DHCP, no DNS), and `labctl-LAB_mgmt`, the
//! management network vagrant-libvirt reaches the guests' SSH through (DHCP;
//! NAT, or isolated for an offline lab). One management network per lab, so
//! `down` can remove it with its dnsmasq and leases, no lab reaches another's
//! VMs over it, and an offline lab's can have no way out while others keep
//! NAT. libvirt's own `default` network is never used, started or undefined.
//! The XML comes from the templates in image/ (the reference script
//! image/libvirt-lab-net.sh fills the same ones).

use super::virsh::virsh;
use crate::error::{Error, Result};
use crate::exec::Runner;
use crate::lab::Lab;
use crate::provider::hostnet;
use ipnet::Ipv4Net;
use std::net::Ipv4Addr;

const LAB_XML: &str = include_str!("../../../image/libvirt-network.xml.tmpl");
const MGMT_XML: &str = include_str!("../../../image/libvirt-mgmt-network.xml.tmpl");

/// The management network's name: `labctl-LAB_mgmt`. The `_` cannot occur
/// in a lab name, so it is never another lab's private network (with `-mgmt`
/// lab `demo`'s would have been lab `demo-mgmt`'s `labctl-demo-mgmt`).
pub fn management_name(lab: &Lab) -> String {
    format!("{}_mgmt", lab.network_name())
}

/// A lab is offline as a whole when one of its nodes takes the offline
/// repository role: its package source is the lab's own repository, served
/// from a node with packages that are in the box, so no node needs the way
/// out that a NAT management network would give every VM on it.
pub fn offline_lab(lab: &Lab) -> bool {
    lab.nodes.iter().any(|n| {
        n.roles
            .iter()
            .any(|r| r.value == crate::repo::CONSUMER_ROLE)
    })
}

/// Candidates for a management subnet, in order: 192.168.121-199.0/24.
fn candidates() -> impl Iterator<Item = Ipv4Net> {
    (121u8..=199).map(|c| Ipv4Net::new(Ipv4Addr::new(192, 168, c, 0), 24).expect("a /24"))
}

/// The first candidate /24 that no host route, no libvirt network (defined
/// or running) and not the lab's own subnet uses.
pub fn allocate(r: &dyn Runner, lab: &Lab) -> Result<Ipv4Net> {
    let mut taken: Vec<Ipv4Net> = hostnet::host_routes(r)?
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    taken.push(lab.network.subnet.value);
    for name in names(r)? {
        if let Some(net) = address(r, &name)? {
            taken.push(net.trunc());
        }
    }
    candidates()
        .find(|c| !taken.iter().any(|t| hostnet::overlaps(t, c)))
        .ok_or_else(|| {
            Error::env(
                "no free /24 in 192.168.121.0-192.168.199.0 for the lab's libvirt management network".to_string(),
                Some("bring another lab down, or remove unused libvirt networks".into()),
            )
        })
}

/// Every libvirt network's name, defined or running.
pub(super) fn names(r: &dyn Runner) -> Result<Vec<String>> {
    let out = r.run(&virsh(["net-list", "--all", "--name"]))?;
    Ok(out
        .stdout
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect())
}

/// A network's host address and prefix, from its XML.
fn address(r: &dyn Runner, name: &str) -> Result<Option<Ipv4Net>> {
    let out = r.output(&virsh(["net-dumpxml", name]))?;
    Ok(out.success().then(|| parse_ip(&out.stdout)).flatten())
}

fn parse_ip(xml: &str) -> Option<Ipv4Net> {
    let re = regex::Regex::new(
        r#"<ip\s+address=['"]([0-9.]+)['"]\s+(?:netmask=['"]([0-9.]+)['"]|prefix=['"]([0-9]+)['"])"#,
    )
    .expect("static regex");
    let c = re.captures(xml)?;
    let ip: Ipv4Addr = c[1].parse().ok()?;
    let prefix = match (c.get(2), c.get(3)) {
        (Some(m), _) => u32::from(m.as_str().parse::<Ipv4Addr>().ok()?).count_ones() as u8,
        (_, Some(p)) => p.as_str().parse().ok()?,
        _ => return None,
    };
    Ipv4Net::new(ip, prefix).ok()
}

/// The template without its leading comment, placeholders filled.
fn fill(template: &str, values: &[(&str, String)]) -> String {
    let body = &template[template.find("<network>").expect("template has <network>")..];
    values
        .iter()
        .fold(body.to_string(), |s, (k, v)| s.replace(k, v))
}

fn host_ip(net: &Ipv4Net) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(net.network()) + 1)
}

/// The lab's private network: isolated, no DHCP, no DNS.
pub fn lab_xml(lab: &Lab) -> String {
    let net = lab.network.subnet.value;
    fill(
        LAB_XML,
        &[
            ("@NAME@", lab.network_name()),
            ("@HOST_IP@", host_ip(&net).to_string()),
            ("@NETMASK@", net.netmask().to_string()),
        ],
    )
}

/// The management network: DHCP over the subnet; NAT unless `offline`.
pub fn mgmt_xml(lab: &Lab, net: &Ipv4Net, offline: bool) -> String {
    let first = u32::from(net.network());
    let last = u32::from(net.broadcast());
    fill(
        MGMT_XML,
        &[
            ("@NAME@", management_name(lab)),
            (
                "@FORWARD@",
                if offline {
                    String::new()
                } else {
                    "<forward mode='nat'/>".into()
                },
            ),
            ("@DNS_HOSTS@", String::new()),
            ("@HOST_IP@", host_ip(net).to_string()),
            ("@NETMASK@", net.netmask().to_string()),
            ("@DHCP_START@", Ipv4Addr::from(first + 2).to_string()),
            ("@DHCP_END@", Ipv4Addr::from(last - 1).to_string()),
        ],
    )
}

/// Define and start a network unless it is there with the same address (a
/// lab brought up again); one of that name with another address is refused,
/// never changed. Returns what was done.
pub fn ensure(r: &dyn Runner, name: &str, xml: &str, net: &Ipv4Net) -> Result<Vec<String>> {
    let mut done = Vec::new();
    let want = Ipv4Net::new(host_ip(net), net.prefix_len()).expect("valid prefix");
    if names(r)?.iter().any(|n| n == name) {
        let have = address(r, name)?;
        if have != Some(want) {
            return Err(Error::env(
                format!(
                    "libvirt network {name} exists with address {}, not {want}",
                    have.map(|h| h.to_string()).unwrap_or_else(|| "none".into())
                ),
                Some(format!("it is not this lab's (another lab's, or made by hand): bring this lab up under another name (`--name`), or find out whose it is (`virsh -c qemu:///system net-dumpxml {name}`) before removing it")),
            ));
        }
    } else {
        let f = tempfile::NamedTempFile::new()
            .map_err(|e| Error::io("create", "a temporary file", e))?;
        std::fs::write(f.path(), xml).map_err(|e| Error::io("write", f.path(), e))?;
        r.run(&virsh(["net-define", &f.path().to_string_lossy()]))?;
        done.push(format!("libvirt network {name} defined ({want})"));
    }
    let info = r.run(&virsh(["net-info", name]))?;
    let active = info
        .stdout
        .lines()
        .any(|l| l.starts_with("Active:") && l.contains("yes"));
    if !active {
        r.run(&virsh(["net-start", name]))?;
        done.push(format!("libvirt network {name} started"));
    }
    Ok(done)
}

/// The bridge device of a running network (`virbrN`).
pub fn bridge(r: &dyn Runner, name: &str) -> Result<Option<String>> {
    let out = r.output(&virsh(["net-info", name]))?;
    Ok(out
        .success()
        .then(|| {
            out.stdout
                .lines()
                .find_map(|l| l.strip_prefix("Bridge:").map(|b| b.trim().to_string()))
        })
        .flatten())
}

/// Stop and undefine a network; its dnsmasq, leases and bridge go with it.
pub fn remove(r: &dyn Runner, name: &str) -> Result<()> {
    let _ = r.output(&virsh(["net-destroy", name]));
    r.run(&virsh(["net-undefine", name]))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_read_in_both_notations() {
        assert_eq!(
            parse_ip("<network><ip address='192.168.122.1' netmask='255.255.255.0'>"),
            Some("192.168.122.1/24".parse().unwrap())
        );
        assert_eq!(
            parse_ip(r#"<ip address="10.1.0.1" prefix="16"/>"#),
            Some("10.1.0.1/16".parse().unwrap())
        );
        assert_eq!(
            parse_ip("<ip family='ipv6' address='fd00::1' prefix='64'/>"),
            None
        );
    }

    #[test]
    fn candidates_skip_what_is_taken() {
        let taken: Vec<Ipv4Net> = vec![
            "192.168.121.0/24".parse().unwrap(),
            "192.168.120.0/23".parse().unwrap(),
        ];
        let c = candidates().find(|c| !taken.iter().any(|t| hostnet::overlaps(t, c)));
        assert_eq!(c, Some("192.168.122.0/24".parse().unwrap()));
    }
}
