//! The lab's subnet: private, not special address space, inside VirtualBox's
//! default range or said why not.

use super::*;

/// The lab subnet's address space.
pub(super) fn subnet(lab: &Lab, cx: &mut Ctx) {
    let subnet = lab.network.subnet.value;
    let sspan = lab.network.subnet.span;

    // Not host-to-guest networks at all, whatever allow_public_addresses says.
    let special: [(&str, &str); 5] = [
        ("0.0.0.0/8", "\"this network\""),
        ("127.0.0.0/8", "loopback"),
        ("169.254.0.0/16", "link-local"),
        ("224.0.0.0/4", "multicast"),
        ("240.0.0.0/4", "reserved"),
    ];
    if let Some((_, what)) = special
        .iter()
        .find(|(net, _)| net.parse::<Ipv4Net>().unwrap().contains(&subnet.network()))
    {
        cx.push(
            Diagnostic::error(
                "network.subnet",
                Some(sspan),
                format!("{subnet} is {what} address space"),
            )
            .expected("a private subnet (10/8, 172.16/12, 192.168/16)"),
        );
    } else if !lab.allow_public_addresses && !is_private(&subnet) {
        cx.push(
            Diagnostic::error(
                "network.subnet",
                Some(sspan),
                format!("{subnet} is public address space"),
            )
            .expected("a private subnet (10/8, 172.16/12, 192.168/16)")
            .hint("set allow_public_addresses = true if you really own this range"),
        );
    } else if is_private(&subnet) && !virtualbox_range().contains(&subnet) && !lab.on_hosts() {
        cx.push(
            Diagnostic::warning("network.subnet", Some(sspan), format!("{subnet} is outside VirtualBox's default host-only range 192.168.56.0/21"))
                .hint("the virtualbox provider will refuse it unless /etc/vbox/networks.conf allows it; docker and libvirt are fine"),
        );
    }
    if lab.network.bandwidth.is_some() || lab.nodes.iter().any(|n| n.bandwidth.is_some()) {
        // nothing further: shaping is applied per node on its lab interface.
    }
}
