//! The host's own IPv4 routes, read before a VM provider creates a network:
//! a lab subnet (or a libvirt management subnet) that overlaps one the host
//! already routes is refused.

use crate::error::{Error, Result};
use crate::exec::{Cmd, Runner};
use crate::lab::Lab;
use ipnet::Ipv4Net;

/// IPv4 routes of the host as (destination, device); the default route is left out.
pub fn host_routes(r: &dyn Runner) -> Result<Vec<(Ipv4Net, String)>> {
    let out = r.run(&Cmd::new("ip").args(["-o", "-4", "route", "show"]))?;
    Ok(parse_routes(&out.stdout))
}

fn parse_routes(text: &str) -> Vec<(Ipv4Net, String)> {
    text.lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            let dest = w.next()?;
            let net: Ipv4Net = if dest.contains('/') {
                dest.parse().ok()?
            } else {
                format!("{dest}/32").parse().ok()?
            };
            let dev = super::word_after(l, "dev").unwrap_or("").to_string();
            Some((net, dev))
        })
        .collect()
}

/// Do two subnets share an address?
pub fn overlaps(a: &Ipv4Net, b: &Ipv4Net) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}

/// Refuse a lab whose subnet overlaps a network the host already routes,
/// before a host-only or libvirt network is created on top of it.
pub fn check_overlap(r: &dyn Runner, lab: &Lab) -> Result<()> {
    let ours = lab.network.subnet.value;
    for (net, dev) in host_routes(r)? {
        if overlaps(&net, &ours) {
            return Err(Error::env(
                format!(
                    "subnet {ours} of lab `{}` overlaps {net}, routed on this host via {dev}",
                    lab.name.value
                ),
                Some("run a second copy with --name NAME --subnet 192.168.X.0/24, or bring the other lab down".into()),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_are_parsed_without_the_default() {
        let text = "default via 10.0.0.1 dev eth0\n10.0.0.0/24 dev eth0 proto kernel scope link src 10.0.0.5\n192.168.56.0/24 dev vboxnet0 proto kernel scope link src 192.168.56.1\n";
        let r = parse_routes(text);
        assert_eq!(r.len(), 2);
        assert_eq!(r[1].0.to_string(), "192.168.56.0/24");
        assert_eq!(r[1].1, "vboxnet0");
    }
}
