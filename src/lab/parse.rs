//! Lab file parsing: TOML text -> [`Lab`], collecting every structural error.
//!
//! Per-value rules (names, units, ranges, safe text) are checked here, where the
//! value's span is at hand; rules that relate values to each other (addresses in
//! the subnet, unique names, references between nodes, checks and roles) live in
//! `crate::validate`.
//!
//! Why this file is long (about 1.3k lines of code): it is the whole lab-file
//! grammar, one reader per table, and `parse_lab`, `parse_node_spec` and
//! `parse_check` are still one function each (200+ lines); splitting it into
//! parse/{node,check,bench}.rs with one function per check kind is the next
//! move (issue 11 left it for lack of time, behaviour pinned by tests/invalid.rs).

use super::model::*;
use super::reader::{join, Ctx, Obj};
use super::units;
use crate::diag::{Diagnostic, Span};
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
];
const DEFAULT_KEYS: &[&str] = &[
    "box",
    "memory",
    "cpus",
    "boot_timeout",
    "roles",
    "forward",
    "vars",
    "disks",
    "nested_containers",
    "bandwidth",
];
/// A node's keys: its own, then every key `[defaults]` may set for it.
fn node_keys() -> &'static [&'static str] {
    static KEYS: LazyLock<Vec<&str>> =
        LazyLock::new(|| [&["name", "count", "ip"], DEFAULT_KEYS].concat());
    &KEYS
}
const NETWORK_KEYS: &[&str] = &["subnet", "bandwidth"];
const FORWARD_KEYS: &[&str] = &["guest", "host", "host_ip"];
const DISK_KEYS: &[&str] = &["name", "size"];
/// Keys every check kind accepts.
const CHECK_COMMON_KEYS: &[&str] = &["name", "kind", "timeout", "interval", "disruptive"];
/// Each check kind with the keys only it accepts. A key of another kind is an
/// unknown key, not silently ignored. Messages list kinds and keys in this order.
const CHECK_KINDS: &[(&str, &[&str])] = &[
    (
        "http",
        &["from", "url", "status", "body", "spread", "requests"],
    ),
    ("port", &["node", "port", "from"]),
    ("command", &["node", "run", "exit", "stdout"]),
    ("file", &["node", "path", "contains"]),
    ("cron", &["node", "user", "contains"]),
    ("service", &["node", "service"]),
    ("reach", &["from", "to"]),
    ("disk", &["node", "size", "device"]),
];

/// The keys a check of `kind` accepts, common ones first; `None` for a kind
/// that does not exist.
fn check_kind_keys(kind: &str) -> Option<&'static [&'static str]> {
    static BY_KIND: LazyLock<Vec<(&str, Vec<&str>)>> = LazyLock::new(|| {
        CHECK_KINDS
            .iter()
            .map(|(kind, own)| (*kind, [CHECK_COMMON_KEYS, own].concat()))
            .collect()
    });
    BY_KIND
        .iter()
        .find(|(k, _)| *k == kind)
        .map(|(_, keys)| keys.as_slice())
}

/// Every key some check kind accepts: what a check without a valid kind may
/// hold without being told its key is unknown.
fn all_check_keys() -> &'static [&'static str] {
    static ALL: LazyLock<Vec<&str>> = LazyLock::new(|| {
        let mut all = CHECK_COMMON_KEYS.to_vec();
        for key in CHECK_KINDS.iter().flat_map(|(_, own)| own.iter()) {
            if !all.contains(key) {
                all.push(key);
            }
        }
        all
    });
    &ALL
}

/// "http, port, ...": the check kinds, for messages.
fn check_kind_names() -> String {
    CHECK_KINDS
        .iter()
        .map(|(k, _)| *k)
        .collect::<Vec<_>>()
        .join(", ")
}
const SCENARIO_KEYS: &[&str] = &[
    "name",
    "description",
    "baseline",
    "client",
    "server",
    "duration",
    "omit",
    "parallel",
];
const ENDPOINT_KEYS: &[&str] = &["node", "container", "address"];
const RATIO_KEYS: &[&str] = &["name", "scenario", "of", "min", "max"];
const BENCH_KEYS: &[&str] = &["rounds"];

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

/// Node keys as written, before defaults are applied and `count` is expanded.
#[derive(Default, Clone)]
struct NodeSpec {
    name: Option<Sp<String>>,
    count: Option<Sp<i64>>,
    ip: Option<Sp<Ipv4Addr>>,
    box_name: Option<String>,
    memory_mib: Option<u32>,
    cpus: Option<u32>,
    boot_timeout_s: Option<u32>,
    roles: Option<Vec<Sp<String>>>,
    forward: Option<Vec<Forward>>,
    vars: Option<Vec<(Sp<String>, Sp<String>)>>,
    disks: Option<Vec<Disk>>,
    nested_containers: Option<bool>,
    bandwidth: Option<Sp<u64>>,
    span: Span,
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

    // [network]
    let network = match top.take("network") {
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
    };

    // [defaults]
    let defaults = match top.take("defaults") {
        Some(v) => Obj::from_value(v, "defaults", DEFAULT_KEYS, cx)
            .map(|o| parse_node_spec(o, cx))
            .unwrap_or_default(),
        None => NodeSpec::default(),
    };

    // [[node]]
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
    let mut ratios = Vec::new();
    if let Some(v) = top.take("ratio") {
        for (i, v) in array_of_tables(v, "ratio", cx).into_iter().enumerate() {
            if let Some(o) = Obj::from_value(v, &format!("ratio[{i}]"), RATIO_KEYS, cx) {
                if let Some(r) = parse_ratio(o, network.as_ref().map(|n| n.bandwidth.is_some()), cx)
                {
                    ratios.push(r);
                }
            }
        }
    }
    let mut bench = BenchSettings::default();
    if let Some(v) = top.take("bench") {
        if let Some(mut o) = Obj::from_value(v, "bench", BENCH_KEYS, cx) {
            if let Some(r) = o.int_in("rounds", 1, 50, "a round count", cx) {
                bench.rounds = r.value as u32;
            }
            o.finish(cx);
        }
    }
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
    })
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

fn parse_node_spec(mut o: Obj<'_>, cx: &mut Ctx) -> NodeSpec {
    let mut n = NodeSpec {
        span: o.span,
        ..Default::default()
    };
    if o.allowed_has("name") {
        n.name = o.string("name", cx);
        if let Some(name) = &n.name {
            check_re(
                &o.key_path("name"),
                name,
                &HOST_LABEL,
                "a hostname label: a-z first, then a-z, 0-9, - (at most 63)",
                cx,
            );
        }
        n.count = o.int_in("count", 1, 64, "a node count", cx);
        n.ip = parse_ipv4(&mut o, "ip", cx);
    }
    if let Some(b) = o.string("box", cx) {
        if check_re(
            &o.key_path("box"),
            &b,
            &BOX_NAME,
            "a Vagrant box name like debian/bookworm64",
            cx,
        ) {
            n.box_name = Some(b.value);
        }
    }
    if let Some(m) = o.scalar_text(
        "memory",
        "a memory size in MiB or with a unit, like 256 or \"2G\"",
        cx,
    ) {
        match units::parse_size(&m.value, 1 << 20).map(|b| b >> 20) {
            Some(mib) if (64..=65536).contains(&mib) => n.memory_mib = Some(mib as u32),
            Some(mib) => cx.err(
                &o.key_path("memory"),
                m.span,
                format!("{mib} MiB is out of range"),
                "between 64 MiB and 64 GiB",
            ),
            None => cx.err(
                &o.key_path("memory"),
                m.span,
                format!("invalid memory size {:?}", truncate(&m.value)),
                "a size in MiB like 256, or with a unit like \"2G\"",
            ),
        }
    }
    if let Some(c) = o.int_in("cpus", 1, 64, "a CPU count", cx) {
        n.cpus = Some(c.value as u32);
    }
    if o.has("boot_timeout") {
        if let Some(d) = parse_duration_key(&mut o, "boot_timeout", Duration::from_secs(3600), cx) {
            n.boot_timeout_s = Some(d.as_secs().max(1) as u32);
        }
    }
    if let Some(roles) = o.strings("roles", cx) {
        let path = o.key_path("roles");
        let mut ok = Vec::new();
        for (i, r) in roles.into_iter().enumerate() {
            if check_re(
                &format!("{path}[{i}]"),
                &r,
                &ROLE_NAME,
                "a role name: a-z first, then a-z, 0-9, _, - (no paths)",
                cx,
            ) {
                ok.push(r);
            }
        }
        n.roles = Some(ok);
    }
    if let Some((arr, _)) = o.array("forward", cx) {
        let path = o.key_path("forward");
        let mut fw = Vec::new();
        for (i, v) in arr.into_iter().enumerate() {
            if let Some(mut f) = Obj::from_value(v, &format!("{path}[{i}]"), FORWARD_KEYS, cx) {
                let span = f.span;
                let (has_guest, has_host) = (f.has("guest"), f.has("host"));
                let guest = f.int_in("guest", 1, 65535, "a port", cx);
                let host = f.int_in("host", 1, 65535, "a port", cx);
                let host_ip = parse_ipv4(&mut f, "host_ip", cx);
                let fpath = f.path.clone();
                f.finish(cx);
                match (guest, host) {
                    (Some(g), Some(h)) => fw.push(Forward {
                        guest: g.value as u16,
                        host: h.value as u16,
                        host_ip: host_ip.map(|h| h.value).unwrap_or(Ipv4Addr::LOCALHOST),
                        span,
                    }),
                    _ => {
                        // A value that was present but bad is reported already.
                        if !has_guest || !has_host {
                            cx.err(
                                &fpath,
                                span,
                                "forward needs `guest` and `host`",
                                "{ guest = 80, host = 8080 }",
                            );
                        }
                    }
                }
            }
        }
        n.forward = Some(fw);
    }
    if let Some(vars) = o.string_map("vars", cx) {
        let path = o.key_path("vars");
        let mut ok = Vec::new();
        for (k, v) in vars {
            let key = join(&path, &k.value);
            if k.value.starts_with("labctl_") {
                cx.err(
                    &key,
                    k.span,
                    format!("variable `{}` uses the reserved prefix labctl_", k.value),
                    "a name not starting with labctl_",
                );
                continue;
            }
            if check_re(
                &key,
                &k,
                &VAR_NAME,
                "a variable name: a-z first, then a-z, 0-9, _",
                cx,
            ) && check_text(&key, &v, MAX_TEXT, cx)
            {
                ok.push((k, v));
            }
        }
        n.vars = Some(ok);
    }
    if let Some((arr, _)) = o.array("disks", cx) {
        let path = o.key_path("disks");
        let mut disks = Vec::new();
        for (i, v) in arr.into_iter().enumerate() {
            if let Some(mut d) = Obj::from_value(v, &format!("{path}[{i}]"), DISK_KEYS, cx) {
                let span = d.span;
                let name = d.string("name", cx);
                let size = d.scalar_text("size", "a size like \"8G\"", cx);
                let dpath = d.path.clone();
                d.finish(cx);
                let name_ok = match &name {
                    Some(nm) => check_re(
                        &join(&dpath, "name"),
                        nm,
                        &DISK_NAME,
                        "a disk name: a-z first, then a-z, 0-9, _, -",
                        cx,
                    ),
                    None => {
                        cx.err(
                            &dpath,
                            span,
                            "disk needs a `name`",
                            "{ name = \"data\", size = \"8G\" }",
                        );
                        false
                    }
                };
                let bytes = match &size {
                    Some(s) => match units::parse_size(&s.value, 1 << 20) {
                        Some(b) if (1 << 20..=4u64 << 40).contains(&b) => Some(b),
                        Some(_) => {
                            cx.err(
                                &join(&dpath, "size"),
                                s.span,
                                format!("disk size {} is out of range", s.value),
                                "between 1M and 4T",
                            );
                            None
                        }
                        None => {
                            cx.err(
                                &join(&dpath, "size"),
                                s.span,
                                format!("invalid size {:?}", truncate(&s.value)),
                                "a size like \"8G\" or \"512M\"",
                            );
                            None
                        }
                    },
                    None => {
                        cx.err(
                            &dpath,
                            span,
                            "disk needs a `size`",
                            "{ name = \"data\", size = \"8G\" }",
                        );
                        None
                    }
                };
                if let (true, Some(b), Some(nm)) = (name_ok, bytes, name) {
                    disks.push(Disk {
                        name: nm.value,
                        size_bytes: b,
                        span,
                    });
                }
            }
        }
        n.disks = Some(disks);
    }
    n.nested_containers = o.bool("nested_containers", cx).map(|b| b.value);
    n.bandwidth = parse_rate_key(&mut o, "bandwidth", cx);
    o.finish(cx);
    n
}

impl Obj<'_> {
    fn allowed_has(&self, key: &str) -> bool {
        self.allowed_keys().contains(&key)
    }
}

fn expand_nodes(defaults: &NodeSpec, specs: Vec<(usize, NodeSpec)>, cx: &mut Ctx) -> Vec<Node> {
    let mut nodes = Vec::new();
    for (i, s) in specs {
        let path = format!("node[{i}]");
        let Some(name) = s.name.clone() else {
            if !cx.diags.iter().any(|d| d.key == format!("{path}.name")) {
                cx.err(&path, s.span, "node needs a `name`", "name = \"web\"");
            }
            continue;
        };
        let Some(ip) = s.ip.clone() else {
            if !cx.diags.iter().any(|d| d.key == format!("{path}.ip")) {
                cx.err(
                    &path,
                    name.span,
                    format!("node `{}` needs an `ip`", name.value),
                    "ip = \"192.168.57.21\"",
                );
            }
            continue;
        };
        let count = s.count.as_ref().map(|c| c.value as u32);
        let vars = s
            .vars
            .clone()
            .or_else(|| defaults.vars.clone())
            .unwrap_or_default();
        // Node vars extend default vars rather than replacing them.
        let mut var_map: BTreeMap<String, Sp<String>> = BTreeMap::new();
        for (k, v) in defaults
            .vars
            .clone()
            .unwrap_or_default()
            .into_iter()
            .chain(vars)
        {
            var_map.insert(k.value, v);
        }
        for k in 0..count.unwrap_or(1) {
            let node_name = match count {
                Some(_) => format!("{}{}", name.value, k + 1),
                None => name.value.clone(),
            };
            let node_ip = u32::from(ip.value)
                .checked_add(k)
                .map(Ipv4Addr::from)
                .unwrap_or(ip.value);
            nodes.push(Node {
                name: node_name,
                decl_index: i,
                name_span: name.span,
                ip: node_ip,
                ip_span: ip.span,
                box_name: s
                    .box_name
                    .clone()
                    .or_else(|| defaults.box_name.clone())
                    .unwrap_or_else(|| DEFAULT_BOX.into()),
                memory_mib: s
                    .memory_mib
                    .or(defaults.memory_mib)
                    .unwrap_or(DEFAULT_MEMORY_MIB),
                cpus: s.cpus.or(defaults.cpus).unwrap_or(DEFAULT_CPUS),
                boot_timeout_s: s
                    .boot_timeout_s
                    .or(defaults.boot_timeout_s)
                    .unwrap_or(DEFAULT_BOOT_TIMEOUT_S),
                roles: s
                    .roles
                    .clone()
                    .or_else(|| defaults.roles.clone())
                    .unwrap_or_default(),
                forward: s
                    .forward
                    .clone()
                    .or_else(|| defaults.forward.clone())
                    .unwrap_or_default(),
                vars: var_map.clone(),
                disks: s
                    .disks
                    .clone()
                    .or_else(|| defaults.disks.clone())
                    .unwrap_or_default(),
                nested_containers: s
                    .nested_containers
                    .or(defaults.nested_containers)
                    .unwrap_or(false),
                bandwidth: s.bandwidth.clone().or_else(|| defaults.bandwidth.clone()),
            });
        }
    }
    nodes
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

fn regex_key(o: &mut Obj<'_>, key: &str, cx: &mut Ctx) -> Option<String> {
    let s = o.string(key, cx)?;
    if !check_text(&o.key_path(key), &s, MAX_TEXT, cx) {
        return None;
    }
    match Regex::new(&s.value) {
        Ok(_) => Some(s.value),
        Err(e) => {
            let first = e
                .to_string()
                .lines()
                .last()
                .unwrap_or("")
                .trim()
                .to_string();
            cx.err(
                &o.key_path(key),
                s.span,
                format!("invalid regex: {first}"),
                "a regular expression (Rust regex syntax)",
            );
            None
        }
    }
}

fn parse_check(mut o: Obj<'_>, index: usize, cx: &mut Ctx) -> Option<Check> {
    let span = o.span;
    let name = o.string("name", cx);
    if let Some(n) = &name {
        check_re(
            &o.key_path("name"),
            n,
            &CHECK_NAME,
            "a check name: letters, digits, spaces and ._:/()- (at most 100)",
            cx,
        );
    }
    let timeout = if o.has("timeout") {
        parse_duration_key(&mut o, "timeout", Duration::from_secs(1800), cx)
    } else {
        None
    };
    let interval = if o.has("interval") {
        parse_duration_key(&mut o, "interval", Duration::from_secs(300), cx)
    } else {
        None
    };
    let disruptive = o.bool("disruptive", cx).map(|b| b.value).unwrap_or(false);
    let has_kind = o.has("kind");
    let Some(kind_s) = require(
        o.string("kind", cx),
        &o,
        "kind",
        &format!("kind = \"http\" ({})", check_kind_names()),
        has_kind,
        cx,
    ) else {
        // Without a kind only keys that no kind knows are reported.
        for k in all_check_keys() {
            o.take(k);
        }
        o.finish(cx);
        return None;
    };
    let Some(kind_keys) = check_kind_keys(&kind_s.value) else {
        cx.err(
            &o.key_path("kind"),
            kind_s.span,
            format!("unknown check kind {:?}", truncate(&kind_s.value)),
            format!("one of: {}", check_kind_names()),
        );
        o.finish_quiet();
        return None;
    };
    o.set_allowed(kind_keys);
    macro_rules! need {
        ($e:expr, $key:literal, $ex:literal) => {{
            let present = o.has($key);
            let v = $e;
            require(v, &o, $key, $ex, present, cx)
        }};
    }
    // A closure so that a missing value ends this kind early while `finish`
    // below still reports the check's unknown keys.
    let kind = (|| {
        Some(match kind_s.value.as_str() {
            "http" => {
                let from = match o.string("from", cx) {
                    Some(f) if f.value == "host" => Some(CheckFrom::Host),
                    Some(f) => {
                        if check_re(
                            &o.key_path("from"),
                            &f,
                            &HOST_LABEL,
                            "\"host\" or a node name",
                            cx,
                        ) {
                            Some(CheckFrom::Node(f.value))
                        } else {
                            None
                        }
                    }
                    None => Some(CheckFrom::Host),
                };
                let url = need!(
                    o.string("url", cx),
                    "url",
                    "url = \"http://192.168.57.11:8080/\""
                );
                if let Some(u) = &url {
                    check_text(&o.key_path("url"), u, MAX_TEXT, cx);
                    if !(u.value.starts_with("http://") || u.value.starts_with("https://")) {
                        cx.err(
                            &o.key_path("url"),
                            u.span,
                            "URL scheme is not http",
                            "an http:// or https:// URL",
                        );
                    }
                }
                let status = o
                    .int_in("status", 100, 599, "an HTTP status", cx)
                    .map(|s| s.value as u16)
                    .unwrap_or(200);
                let body = regex_key(&mut o, "body", cx);
                let spread = o.strings("spread", cx).unwrap_or_default();
                for (i, s) in spread.iter().enumerate() {
                    check_re(
                        &format!("{}[{i}]", o.key_path("spread")),
                        s,
                        &HOST_LABEL,
                        "a node name",
                        cx,
                    );
                }
                let requests = o
                    .int_in("requests", 1, 1000, "a request count", cx)
                    .map(|r| r.value as u32)
                    .unwrap_or(if spread.is_empty() { 1 } else { 20 });
                CheckKind::Http {
                    from: from?,
                    url: url?.value,
                    status,
                    body,
                    spread,
                    requests,
                }
            }
            "port" => {
                let node = need!(node_ref(&mut o, "node", cx), "node", "node = \"lb\"");
                let port = need!(
                    o.int_in("port", 1, 65535, "a port", cx),
                    "port",
                    "port = 8080"
                );
                let from = node_ref(&mut o, "from", cx);
                CheckKind::Port {
                    node: node?,
                    port: port?.value as u16,
                    from,
                }
            }
            "command" => {
                let node = need!(node_ref(&mut o, "node", cx), "node", "node = \"mgmt\"");
                let run = need!(o.string("run", cx), "run", "run = \"ansible all -m ping\"");
                if let Some(r) = &run {
                    check_text(&o.key_path("run"), r, 4096, cx);
                }
                let exit = o
                    .int_in("exit", 0, 255, "an exit code", cx)
                    .map(|e| e.value as i32)
                    .unwrap_or(0);
                let stdout = regex_key(&mut o, "stdout", cx);
                CheckKind::Command {
                    node: node?,
                    run: run?.value,
                    exit,
                    stdout,
                }
            }
            "file" => {
                let node = need!(node_ref(&mut o, "node", cx), "node", "node = \"web1\"");
                let path = need!(
                    abs_path(&mut o, "path", cx),
                    "path",
                    "path = \"/etc/hosts\""
                );
                let contains = regex_key(&mut o, "contains", cx);
                CheckKind::File {
                    node: node?,
                    path: path?,
                    contains,
                }
            }
            "cron" => {
                let node = need!(node_ref(&mut o, "node", cx), "node", "node = \"web1\"");
                let user = o.string("user", cx);
                if let Some(u) = &user {
                    check_re(&o.key_path("user"), u, &ROLE_NAME, "a user name", cx);
                }
                let contains = regex_key(&mut o, "contains", cx);
                CheckKind::Cron {
                    node: node?,
                    user: user.map(|u| u.value).unwrap_or_else(|| "root".into()),
                    contains,
                }
            }
            "service" => {
                let node = need!(node_ref(&mut o, "node", cx), "node", "node = \"web1\"");
                let service = need!(o.string("service", cx), "service", "service = \"nginx\"");
                if let Some(s) = &service {
                    check_re(&o.key_path("service"), s, &ROLE_NAME, "a service name", cx);
                }
                CheckKind::Service {
                    node: node?,
                    service: service?.value,
                }
            }
            "reach" => {
                let from = need!(node_ref(&mut o, "from", cx), "from", "from = \"web1\"");
                let to = need!(node_ref(&mut o, "to", cx), "to", "to = \"lb\"");
                CheckKind::Reach {
                    from: from?,
                    to: to?,
                }
            }
            "disk" => {
                let node = need!(node_ref(&mut o, "node", cx), "node", "node = \"testnode1\"");
                let size = need!(
                    o.scalar_text("size", "a size like \"8G\"", cx),
                    "size",
                    "size = \"8G\""
                );
                let device = abs_path(&mut o, "device", cx);
                let bytes = size.as_ref().and_then(|s| {
                    let b = units::parse_size(&s.value, 1 << 20);
                    if b.is_none() {
                        cx.err(
                            &o.key_path("size"),
                            s.span,
                            format!("invalid size {:?}", truncate(&s.value)),
                            "a size like \"8G\"",
                        );
                    }
                    b
                });
                CheckKind::Disk {
                    node: node?,
                    size_bytes: bytes?,
                    device,
                }
            }
            _ => unreachable!("check kinds are matched above"),
        })
    })();
    o.finish(cx);
    let kind = kind?;
    let name = name
        .map(|n| n.value)
        .unwrap_or_else(|| format!("{}-{}", kind.kind_name(), index + 1));
    Some(Check {
        name,
        span,
        timeout: timeout.unwrap_or(Duration::from_secs(60)),
        interval: interval.unwrap_or(Duration::from_secs(1)),
        disruptive,
        kind,
    })
}

fn abs_path(o: &mut Obj<'_>, key: &str, cx: &mut Ctx) -> Option<String> {
    let s = o.string(key, cx)?;
    if !check_text(&o.key_path(key), &s, 4096, cx) {
        return None;
    }
    if !s.value.starts_with('/') || s.value.split('/').any(|c| c == "..") {
        cx.err(
            &o.key_path(key),
            s.span,
            format!(
                "path {:?} is not absolute or escapes with ..",
                truncate(&s.value)
            ),
            "an absolute path without ..",
        );
        return None;
    }
    Some(s.value)
}

fn parse_endpoint(o: &mut Obj<'_>, key: &str, cx: &mut Ctx) -> Option<BenchEndpoint> {
    let v = o.take(key)?;
    let mut e = Obj::from_value(v, &o.key_path(key), ENDPOINT_KEYS, cx)?;
    let span = e.span;
    let node = node_ref(&mut e, "node", cx);
    let container = match e.string("container", cx) {
        None => ContainerMode::None,
        Some(c) => match c.value.as_str() {
            "none" => ContainerMode::None,
            "host" => ContainerMode::Host,
            "bridge" => ContainerMode::Bridge,
            _ => {
                cx.err(
                    &e.key_path("container"),
                    c.span,
                    format!("unknown container mode {:?}", truncate(&c.value)),
                    "one of: none, host, bridge",
                );
                ContainerMode::None
            }
        },
    };
    let address = match e.string("address", cx) {
        None => AddressMode::Node,
        Some(a) => match a.value.as_str() {
            "node" => AddressMode::Node,
            "container" => {
                if container != ContainerMode::Bridge {
                    cx.err(
                        &e.key_path("address"),
                        a.span,
                        "address = \"container\" needs a bridge container",
                        "container = \"bridge\"",
                    );
                }
                AddressMode::Container
            }
            _ => {
                cx.err(
                    &e.key_path("address"),
                    a.span,
                    format!("unknown address mode {:?}", truncate(&a.value)),
                    "one of: node, container",
                );
                AddressMode::Node
            }
        },
    };
    let path = e.path.clone();
    e.finish(cx);
    match node {
        Some(n) => Some(BenchEndpoint {
            node: n,
            container,
            address,
        }),
        None => {
            cx.err(
                &path,
                span,
                "endpoint needs a `node`",
                "{ node = \"server\" }",
            );
            None
        }
    }
}

fn parse_scenario(mut o: Obj<'_>, cx: &mut Ctx) -> Option<Scenario> {
    let present = o.has("name");
    let name = require(
        o.string("name", cx),
        &o,
        "name",
        "name = \"raw\"",
        present,
        cx,
    );
    if let Some(n) = &name {
        check_re(
            &o.key_path("name"),
            n,
            &ROLE_NAME,
            "a scenario name: a-z first, then a-z, 0-9, _, -",
            cx,
        );
    }
    let description = o.string("description", cx);
    if let Some(d) = &description {
        check_text(&o.key_path("description"), d, MAX_TEXT, cx);
    }
    let baseline = o.bool("baseline", cx).map(|b| b.value).unwrap_or(false);
    let has_c = o.has("client");
    let client = require(
        parse_endpoint(&mut o, "client", cx),
        &o,
        "client",
        "client = { node = \"client\" }",
        has_c,
        cx,
    );
    let has_s = o.has("server");
    let server = require(
        parse_endpoint(&mut o, "server", cx),
        &o,
        "server",
        "server = { node = \"server\" }",
        has_s,
        cx,
    );
    let (has_duration, has_omit) = (o.has("duration"), o.has("omit"));
    let duration_sp = o.int_in("duration", 1, 600, "seconds", cx);
    let omit_sp = o.int_in("omit", 0, 60, "seconds", cx);
    let duration = duration_sp.as_ref().map(|d| d.value as u32).unwrap_or(10);
    let omit = omit_sp.as_ref().map(|d| d.value as u32).unwrap_or(1);
    // Checked here, where the values' spans are known; a bad value is reported already.
    if (duration_sp.is_some() || !has_duration)
        && (omit_sp.is_some() || !has_omit)
        && omit >= duration
    {
        let (key, span) = match (&omit_sp, &duration_sp) {
            (Some(om), _) => ("omit", om.span),
            (None, Some(d)) => ("duration", d.span),
            (None, None) => ("omit", o.span),
        };
        cx.err(
            &o.key_path(key),
            span,
            format!("omit ({omit}s) is not below duration ({duration}s)"),
            "omit < duration",
        );
    }
    let parallel = o
        .int_in("parallel", 1, 128, "a stream count", cx)
        .map(|d| d.value as u32)
        .unwrap_or(1);
    o.finish(cx);
    Some(Scenario {
        name: name?,
        description: description.map(|d| d.value).unwrap_or_default(),
        baseline,
        client: client?,
        server: server?,
        duration_s: duration,
        omit_s: omit,
        parallel,
    })
}

/// `has_bandwidth`: whether the lab's [network] sets a bandwidth (`None` when the
/// network itself was rejected).
fn parse_ratio(mut o: Obj<'_>, has_bandwidth: Option<bool>, cx: &mut Ctx) -> Option<Ratio> {
    let span = o.span;
    let name = o.string("name", cx);
    if let Some(n) = &name {
        check_re(
            &o.key_path("name"),
            n,
            &CHECK_NAME,
            "a name: letters, digits, spaces and ._:/()-",
            cx,
        );
    }
    let present = o.has("scenario");
    let scenario = require(
        o.string("scenario", cx),
        &o,
        "scenario",
        "scenario = \"host-mode\"",
        present,
        cx,
    );
    let of = match o.string("of", cx) {
        None => RatioOf::Baseline,
        Some(s) if s.value == "baseline" => RatioOf::Baseline,
        Some(s) if s.value == "rate" => {
            if has_bandwidth == Some(false) {
                cx.err(
                    &o.key_path("of"),
                    s.span,
                    "ratio against the rate, but the lab sets no [network] bandwidth",
                    "[network] bandwidth = \"2Gbit\"",
                );
            }
            RatioOf::Rate
        }
        Some(s) => {
            cx.err(
                &o.key_path("of"),
                s.span,
                format!("unknown ratio base {:?}", truncate(&s.value)),
                "one of: baseline, rate",
            );
            RatioOf::Baseline
        }
    };
    let min = o.float("min", cx);
    let max = o.float("max", cx);
    for (key, b) in [("min", &min), ("max", &max)] {
        let Some(b) = b else { continue };
        if !(b.value.is_finite() && b.value >= 0.0 && b.value <= 100.0) {
            cx.err(
                &o.key_path(key),
                b.span,
                format!("bound {} is out of range", b.value),
                "a ratio between 0 and 100",
            );
        }
    }
    if min.is_none() && max.is_none() {
        cx.err(
            &o.path,
            span,
            "a ratio needs `min`, `max` or both",
            "min = 0.9",
        );
    }
    if let (Some(lo), Some(hi)) = (&min, &max) {
        if lo.value > hi.value {
            cx.err(
                &o.key_path("max"),
                hi.span,
                format!("max {} is below min {}", hi.value, lo.value),
                "max >= min",
            );
        }
    }
    o.finish(cx);
    let scenario = scenario?;
    let of_name = match of {
        RatioOf::Baseline => "baseline",
        RatioOf::Rate => "rate",
    };
    Some(Ratio {
        name: name
            .map(|n| n.value)
            .unwrap_or_else(|| format!("{} vs {of_name}", scenario.value)),
        scenario,
        of,
        min: min.map(|m| m.value),
        max: max.map(|m| m.value),
        span,
    })
}
