//! Semantic validation: rules that relate values to each other, one file per
//! concern (network, nodes, ports, roles, checks, bench). Each problem is a
//! diagnostic pointing at the offending value; nothing stops at the first one.

mod bench;
mod checks;
mod hosts;
mod network;
mod nodes;
mod ports;
mod roles;

use crate::diag::{Diagnostic, Span};
use crate::lab::model::*;
use crate::lab::reader::Ctx;
use crate::roles::{After, RoleSet};
use ipnet::Ipv4Net;
use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;

/// VirtualBox's default allowed host-only range (VirtualBox 6.1.28+ refuses others
/// unless /etc/vbox/networks.conf says so).
pub fn virtualbox_range() -> Ipv4Net {
    "192.168.56.0/21".parse().unwrap()
}

fn is_private(net: &Ipv4Net) -> bool {
    let private: [Ipv4Net; 4] = [
        "10.0.0.0/8".parse().unwrap(),
        "172.16.0.0/12".parse().unwrap(),
        "192.168.0.0/16".parse().unwrap(),
        "100.64.0.0/10".parse().unwrap(),
    ];
    private.iter().any(|p| p.contains(net))
}

pub fn validate(lab: &Lab, roles: &RoleSet, cx: &mut Ctx) {
    let first_new = cx.diags.len();
    validate_all(lab, roles, cx);
    // The copies of a `count` node, and nodes sharing a [defaults] value, would
    // report one mistake once per node: keep one diagnostic per place and message.
    let mut seen = BTreeSet::new();
    let found = cx.diags.split_off(first_new);
    cx.diags.extend(
        found
            .into_iter()
            .filter(|d| seen.insert((d.span, d.message.clone(), d.is_error()))),
    );
}
fn validate_all(lab: &Lab, roles: &RoleSet, cx: &mut Ctx) {
    // In this order: diagnostics at the same place keep the order they are
    // pushed in.
    network::subnet(lab, cx);
    nodes::names_and_addresses(lab, cx);
    ports::forwards_and_disks(lab, cx);
    roles::roles(lab, roles, cx);
    hosts::hosts(lab, roles, cx);
    checks::checks(lab, cx);
    bench::scenarios_and_ratios(lab, cx);
}

/// An error unless `s` names a node of the lab.
fn node_exists(lab: &Lab, s: &Sp<String>, key: String, cx: &mut Ctx) {
    if lab.node(&s.value).is_none() {
        cx.push(
            Diagnostic::error(key, Some(s.span), format!("unknown node `{}`", s.value))
                .expected(format!("one of: {}", lab.node_list())),
        );
    }
}
