//! Lab file parsing: TOML text -> [`Lab`], collecting every structural error.
//!
//! Per-value rules (names, units, ranges, safe text) are checked here, where the
//! value's span is at hand; rules that relate values to each other (addresses in
//! the subnet, unique names, references between nodes, checks and roles) live in
//! `crate::validate`.
//!
//! The grammar is split by table: `node` (`[defaults]` and `[[node]]`,
//! `count` expansion), `check` (`[[check]]`, one function per kind) and
//! `bench` (`[[scenario]]`, `[[ratio]]`); this file reads the top level and
//! holds the value readers they share.

mod bench;
mod check;
mod hosts;
mod node;

use super::model::*;
use super::reader::{join, Ctx, Obj};
use super::units;
use crate::diag::{Diagnostic, Span};
use bench::*;
use check::*;
use hosts::*;
use node::*;
use regex::Regex;
use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::sync::LazyLock;
use std::time::Duration;
use toml_span::value::{Value, ValueInner};

pub static LAB_NAME: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[a-z][a-z0-9-]{0,30}$").unwrap());

/// RFC 1123 hostname label, lower case (Vagrant machine names and hostnames).
pub static HOST_LABEL: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$").unwrap());

pub static ROLE_NAME: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[a-z][a-z0-9_-]{0,39}$").unwrap());

pub static VAR_NAME: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[a-z][a-z0-9_]{0,39}$").unwrap());

pub static ENV_NAME: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[A-Z_][A-Z0-9_]{0,63}$").unwrap());

/// Vagrant box names: `owner/name`, with dots, dashes and digits.
pub static BOX_NAME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}(/[A-Za-z0-9][A-Za-z0-9._-]{0,62})?$").unwrap()
});

pub static DISK_NAME: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[a-z][a-z0-9_-]{0,30}$").unwrap());

pub static CHECK_NAME: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[A-Za-z0-9][A-Za-z0-9 ._:/()-]{0,99}$").unwrap());

const TOP: &[&str] = &[
    "name",
    "description",
    "defaults",
    "network",
    "node",
    "check",
    "scenario",
    "ratio",
    "bench",
    "insecure",
    "allow_public_addresses",
    "secret_vars",
    "provider",
];

const NETWORK_KEYS: &[&str] = &["subnet", "bandwidth"];

pub const DEFAULT_BOX: &str = "debian/bookworm64";

pub const DEFAULT_MEMORY_MIB: u32 = 512;

pub const DEFAULT_CPUS: u32 = 1;

pub const DEFAULT_BOOT_TIMEOUT_S: u32 = 300;

pub const MAX_TEXT: usize = 1024;

/// Refuse text that could break out of a Ruby string literal, a shell word or an
/// env file line: control characters (newline, NUL, escape, ...) and oversize
/// values. Everything else is rendered quoted, so `#{}`, `$()` and quotes stay inert.
pub fn check_text(key: &str, s: &Sp<String>, max: usize, cx: &mut Ctx) -> bool {
    if let Some(c) = s.value.chars().find(|c| c.is_control()) {
        cx.push(
            Diagnostic::error(
                key,
                Some(s.span),
                format!("contains control character {:?}", c),
            )
            .expected("printable text on one line")
            .hint("values reach Ruby and shell; newlines and control characters are refused"),
        );
        return false;
    }
    if s.value.len() > max {
        cx.err(
            key,
            s.span,
            format!("is {} bytes long", s.value.len()),
            format!("at most {max} bytes"),
        );
        return false;
    }
    true
}

fn check_re(key: &str, s: &Sp<String>, re: &Regex, expected: &str, cx: &mut Ctx) -> bool {
    if re.is_match(&s.value) {
        true
    } else {
        cx.err(
            key,
            s.span,
            format!("invalid value {:?}", truncate(&s.value)),
            expected,
        );
        false
    }
}

pub fn truncate(s: &str) -> String {
    if s.chars().count() > 60 {
        format!("{}…", s.chars().take(60).collect::<String>())
    } else {
        s.to_string()
    }
}

/// Parse a lab file. Returns the lab when it is structurally complete (even if
/// some values were rejected), plus every diagnostic found.
pub fn parse_lab(text: &str, cx: &mut Ctx) -> Option<Lab> {
    let mut root = match toml_span::parse(text) {
        Ok(v) => v,
        Err(e) => {
            let span: Span = e.span.into();
            cx.push(
                Diagnostic::error("", Some(span), format!("invalid TOML: {e}"))
                    .expected("valid TOML syntax"),
            );
            return None;
        }
    };
    let span: Span = root.span.into();
    let map = match root.take() {
        ValueInner::Table(t) => t,
        _ => return None,
    };
    let mut top = Obj::root(map, span, TOP);

    let name = top.string("name", cx);
    if let Some(n) = &name {
        check_re(
            "name",
            n,
            &LAB_NAME,
            "a lab name: a lower-case letter, then up to 30 of a-z, 0-9, -",
            cx,
        );
    } else if !top.has("name") {
        cx.push(
            Diagnostic::error("name", Some(Span::new(0, 0)), "missing required key `name`")
                .expected("name = \"my-lab\""),
        );
    }
    let description = top.string("description", cx);
    if let Some(d) = &description {
        check_text("description", d, MAX_TEXT, cx);
    }
    let insecure = top.bool("insecure", cx).map(|b| b.value).unwrap_or(false);
    let allow_public = top
        .bool("allow_public_addresses", cx)
        .map(|b| b.value)
        .unwrap_or(false);

    let secret_vars = secret_vars(&mut top, cx);
    let provider = provider(&mut top, cx);

    // [network]
    let network = network(&mut top, cx);

    // [defaults]
    let defaults = match top.take("defaults") {
        Some(v) => Obj::from_value(v, "defaults", DEFAULT_KEYS, cx)
            .map(|o| parse_node_spec(o, cx))
            .unwrap_or_default(),
        None => NodeSpec::default(),
    };

    // [[node]]
    let specs = node_specs(&mut top, cx);

    let checks = checks(&mut top, cx);
    let scenarios = scenarios(&mut top, cx);
    let ratios = ratios(&mut top, network.as_ref(), cx);
    let bench = bench_settings(&mut top, cx);
    top.finish(cx);

    let nodes = expand_nodes(&defaults, specs, cx);
    Some(Lab {
        name: name.unwrap_or_else(|| Sp::new(String::new(), Span::default())),
        description: description.map(|d| d.value).unwrap_or_default(),
        file: Default::default(),
        dir: None,
        network: network?,
        nodes,
        checks,
        scenarios,
        ratios,
        bench,
        insecure,
        allow_public_addresses: allow_public,
        secret_vars,
        provider,
    })
}

/// `secret_vars`: role variable name -> host environment variable name.
fn secret_vars(top: &mut Obj<'_>, cx: &mut Ctx) -> BTreeMap<String, Sp<String>> {
    let mut secret_vars = BTreeMap::new();
    if let Some(pairs) = top.string_map("secret_vars", cx) {
        for (k, v) in pairs {
            let key = format!("secret_vars.{}", k.value);
            if check_re(
                &key,
                &k,
                &VAR_NAME,
                "a variable name: a-z, then a-z, 0-9, _",
                cx,
            ) && check_re(
                &key,
                &v,
                &ENV_NAME,
                "the name of a host environment variable (A-Z, 0-9, _)",
                cx,
            ) {
                secret_vars.insert(k.value, v);
            }
        }
    }
    secret_vars
}

/// `[network]`: the subnet (required) and an optional link rate.
fn network(top: &mut Obj<'_>, cx: &mut Ctx) -> Option<Network> {
    match top.take("network") {
        Some(v) => Obj::from_value(v, "network", NETWORK_KEYS, cx).and_then(|mut o| {
            let subnet = o.string("subnet", cx);
            let bandwidth = parse_rate_key(&mut o, "bandwidth", cx);
            let path = o.path.clone();
            let ospan = o.span;
            o.finish(cx);
            let subnet = match subnet {
                Some(s) => parse_subnet(&s, cx)?,
                None => {
                    cx.err(
                        &join(&path, "subnet"),
                        ospan,
                        "missing required key `subnet`",
                        "subnet = \"192.168.60.0/24\"",
                    );
                    return None;
                }
            };
            Some(Network { subnet, bandwidth })
        }),
        None => {
            cx.push(
                Diagnostic::error(
                    "network",
                    Some(Span::new(0, 0)),
                    "missing required table [network]",
                )
                .expected("[network] with subnet = \"192.168.60.0/24\""),
            );
            None
        }
    }
}

/// `[[node]]` tables as written (at least one).
fn node_specs(top: &mut Obj<'_>, cx: &mut Ctx) -> Vec<(usize, NodeSpec)> {
    let mut specs = Vec::new();
    match top.take("node") {
        Some(v) => {
            let vspan: Span = v.span.into();
            let was_array = matches!(v.as_ref(), ValueInner::Array(_));
            let tables = array_of_tables(v, "node", cx);
            if was_array && tables.is_empty() {
                cx.err(
                    "node",
                    vspan,
                    "a lab needs at least one [[node]]",
                    "[[node]] tables",
                );
            }
            for (i, v) in tables.into_iter().enumerate() {
                if let Some(o) = Obj::from_value(v, &format!("node[{i}]"), node_keys(), cx) {
                    specs.push((i, parse_node_spec(o, cx)));
                }
            }
        }
        None => cx.push(
            Diagnostic::error(
                "node",
                Some(Span::new(0, 0)),
                "a lab needs at least one [[node]]",
            )
            .expected("[[node]] tables"),
        ),
    }
    specs
}

/// `[[check]]` tables.
fn checks(top: &mut Obj<'_>, cx: &mut Ctx) -> Vec<Check> {
    let mut checks = Vec::new();
    if let Some(v) = top.take("check") {
        for (i, v) in array_of_tables(v, "check", cx).into_iter().enumerate() {
            if let Some(o) = Obj::from_value(v, &format!("check[{i}]"), all_check_keys(), cx) {
                if let Some(c) = parse_check(o, i, cx) {
                    checks.push(c);
                }
            }
        }
    }
    checks
}

/// `[[scenario]]` tables.
fn scenarios(top: &mut Obj<'_>, cx: &mut Ctx) -> Vec<Scenario> {
    let mut scenarios = Vec::new();
    if let Some(v) = top.take("scenario") {
        for (i, v) in array_of_tables(v, "scenario", cx).into_iter().enumerate() {
            if let Some(o) = Obj::from_value(v, &format!("scenario[{i}]"), SCENARIO_KEYS, cx) {
                if let Some(s) = parse_scenario(o, cx) {
                    scenarios.push(s);
                }
            }
        }
    }
    scenarios
}

/// `[[ratio]]` tables; whether `[network]` has a bandwidth decides `of = "rate"`.
fn ratios(top: &mut Obj<'_>, network: Option<&Network>, cx: &mut Ctx) -> Vec<Ratio> {
    let mut ratios = Vec::new();
    if let Some(v) = top.take("ratio") {
        for (i, v) in array_of_tables(v, "ratio", cx).into_iter().enumerate() {
            if let Some(o) = Obj::from_value(v, &format!("ratio[{i}]"), RATIO_KEYS, cx) {
                if let Some(r) = parse_ratio(o, network.map(|n| n.bandwidth.is_some()), cx) {
                    ratios.push(r);
                }
            }
        }
    }
    ratios
}

/// `[bench]`.
fn bench_settings(top: &mut Obj<'_>, cx: &mut Ctx) -> BenchSettings {
    let mut bench = BenchSettings::default();
    if let Some(v) = top.take("bench") {
        if let Some(mut o) = Obj::from_value(v, "bench", BENCH_KEYS, cx) {
            if let Some(r) = o.int_in("rounds", 1, 50, "a round count", cx) {
                bench.rounds = r.value as u32;
            }
            o.finish(cx);
        }
    }
    bench
}

fn array_of_tables<'de>(mut v: Value<'de>, path: &str, cx: &mut Ctx) -> Vec<Value<'de>> {
    let span: Span = v.span.into();
    match v.take() {
        ValueInner::Array(a) => a,
        other => {
            cx.err(
                path,
                span,
                format!("wrong type: found {}", other.type_str()),
                format!("[[{path}]] tables"),
            );
            Vec::new()
        }
    }
}

fn parse_subnet(s: &Sp<String>, cx: &mut Ctx) -> Option<Sp<ipnet::Ipv4Net>> {
    match s.value.parse::<ipnet::Ipv4Net>() {
        Ok(net) if net.prefix_len() < 8 || net.prefix_len() > 29 => {
            cx.err(
                "network.subnet",
                s.span,
                format!("prefix /{} is not usable", net.prefix_len()),
                "a prefix between /8 and /29",
            );
            None
        }
        Ok(net) if net.network() != net.addr() => {
            cx.push(
                Diagnostic::error(
                    "network.subnet",
                    Some(s.span),
                    format!("{} has host bits set", s.value),
                )
                .expected("a network address")
                .hint(format!("did you mean {}?", net.trunc())),
            );
            None
        }
        Ok(net) => Some(Sp::new(net, s.span)),
        Err(_) => {
            cx.err(
                "network.subnet",
                s.span,
                format!("invalid subnet {:?}", truncate(&s.value)),
                "an IPv4 CIDR like 192.168.57.0/24",
            );
            None
        }
    }
}

fn parse_rate_key(o: &mut Obj<'_>, key: &str, cx: &mut Ctx) -> Option<Sp<u64>> {
    let s = o.string(key, cx)?;
    match units::parse_rate(&s.value) {
        Some(r) if (1_000_000..=100_000_000_000).contains(&r) => Some(Sp::new(r, s.span)),
        Some(_) => {
            cx.err(
                &o.key_path(key),
                s.span,
                format!("rate {} is out of range", s.value),
                "a rate between 1Mbit and 100Gbit",
            );
            None
        }
        None => {
            cx.err(
                &o.key_path(key),
                s.span,
                format!("invalid rate {:?}", truncate(&s.value)),
                "a rate like \"2Gbit\" or \"500Mbit\"",
            );
            None
        }
    }
}

fn parse_duration_key(o: &mut Obj<'_>, key: &str, max: Duration, cx: &mut Ctx) -> Option<Duration> {
    let s = o.scalar_text(key, "a duration like \"30s\" or \"2m\"", cx)?;
    match units::parse_duration(&s.value) {
        Some(d) if d > Duration::ZERO && d <= max => Some(d),
        Some(_) => {
            cx.err(
                &o.key_path(key),
                s.span,
                format!("duration {} is out of range", s.value),
                format!("a duration above 0 and at most {}s", max.as_secs()),
            );
            None
        }
        None => {
            cx.err(
                &o.key_path(key),
                s.span,
                format!("invalid duration {:?}", truncate(&s.value)),
                "a duration like \"30s\" or \"2m\"",
            );
            None
        }
    }
}

fn parse_ipv4(o: &mut Obj<'_>, key: &str, cx: &mut Ctx) -> Option<Sp<Ipv4Addr>> {
    let s = o.string(key, cx)?;
    match s.value.parse::<Ipv4Addr>() {
        Ok(ip) => Some(Sp::new(ip, s.span)),
        Err(_) => {
            cx.err(
                &o.key_path(key),
                s.span,
                format!("invalid IPv4 address {:?}", truncate(&s.value)),
                "an IPv4 address like 192.168.57.10",
            );
            None
        }
    }
}

fn node_ref(o: &mut Obj<'_>, key: &str, cx: &mut Ctx) -> Option<Sp<String>> {
    let s = o.string(key, cx)?;
    if check_re(&o.key_path(key), &s, &HOST_LABEL, "a node name", cx) {
        Some(s)
    } else {
        None
    }
}

fn require<T>(
    v: Option<T>,
    o: &Obj<'_>,
    key: &str,
    example: &str,
    present: bool,
    cx: &mut Ctx,
) -> Option<T> {
    if v.is_none() && !present {
        cx.err(
            &o.path,
            o.span,
            format!("missing required key `{key}`"),
            example.to_string(),
        );
    }
    v
}
