//! The one address policy of HTTP checks: where a check may send traffic. The
//! validator asks it once (a refused URL is an error in the lab file) and the
//! check asks it again right before a packet leaves, with the same parser and
//! the same rules: node names (resolved from the lab, never by DNS), addresses
//! in the lab subnet, loopback only on a port the lab forwards when the check
//! runs from the host, or any loopback port (and `localhost`) from a node.

use super::{CheckFrom, Lab, Node};
use std::net::Ipv4Addr;

/// Parts of a URL, as far as checks need them. The scheme and host are
/// lower-cased; userinfo, IPv6 literals and whitespace in the authority are
/// not understood (no URL of a lab needs them).
#[derive(Debug, Clone, PartialEq)]
pub struct Url {
    pub scheme: String,
    pub host: String,
    pub port: Option<u16>,
    /// Path, query and fragment, starting with `/` (`/` when absent).
    pub rest: String,
}

impl Url {
    pub fn parse(url: &str) -> Option<Url> {
        let (scheme, rest) = url.split_once("://")?;
        let scheme = scheme.to_ascii_lowercase();
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(end);
        if authority.is_empty()
            || authority.contains(['@', '[', ']'])
            || authority
                .chars()
                .any(|c| c.is_whitespace() || c.is_control())
        {
            return None;
        }
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p.parse::<u16>().ok()?)),
            None => (authority, None),
        };
        let rest = match tail.chars().next() {
            None => "/".to_string(),
            Some('/') => tail.to_string(),
            Some(_) => format!("/{tail}"),
        };
        Some(Url {
            scheme,
            host: host.to_ascii_lowercase(),
            port,
            rest,
        })
    }

    /// Is this an http or https URL?
    pub fn is_http(&self) -> bool {
        self.scheme == "http" || self.scheme == "https"
    }

    pub fn port_or_default(&self) -> u16 {
        self.port
            .unwrap_or(if self.scheme == "https" { 443 } else { 80 })
    }

    /// The URL with another host (and the same port, path and query).
    pub fn with_host(&self, host: &str) -> String {
        match self.port {
            Some(p) => format!("{}://{host}:{p}{}", self.scheme, self.rest),
            None => format!("{}://{host}{}", self.scheme, self.rest),
        }
    }
}

/// Where the policy lets a check's traffic go.
#[derive(Debug, Clone, Copy)]
pub enum Allowed<'a> {
    /// An address of the lab subnet, or a loopback address the rules allow.
    Address(Ipv4Addr),
    /// `localhost` from a node: the node's own loopback.
    Localhost,
    /// A node of the lab, named in the URL.
    Node(&'a Node),
}

/// Why the policy refuses a target.
#[derive(Debug, Clone, PartialEq)]
pub enum Refused {
    /// The host's loopback, on a port the lab does not forward.
    LoopbackNotForwarded,
    /// An address outside the lab subnet.
    OutsideSubnet(Ipv4Addr),
    /// A name that is not a node of the lab.
    NotANode(String),
}

/// May a check run from `from` send traffic to `url`'s host and port?
pub fn allowed<'a>(lab: &'a Lab, from: &CheckFrom, url: &Url) -> Result<Allowed<'a>, Refused> {
    let from_host = matches!(from, CheckFrom::Host);
    if let Ok(ip) = url.host.parse::<Ipv4Addr>() {
        if ip.is_loopback() {
            if from_host
                && !lab
                    .nodes
                    .iter()
                    .any(|n| n.forward.iter().any(|f| Some(f.host) == url.port))
            {
                return Err(Refused::LoopbackNotForwarded);
            }
        } else if !lab.network.subnet.value.contains(&ip) {
            return Err(Refused::OutsideSubnet(ip));
        }
        Ok(Allowed::Address(ip))
    } else if url.host == "localhost" && !from_host {
        Ok(Allowed::Localhost)
    } else if let Some(n) = lab.node(&url.host) {
        Ok(Allowed::Node(n))
    } else {
        Err(Refused::NotANode(url.host.clone()))
    }
}
