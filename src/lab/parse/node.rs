//! `[defaults]` and `[[node]]`: a node's keys as written, then `count`
//! expanded and defaults applied.

use super::*;

pub(super) const DEFAULT_KEYS: &[&str] = &[
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
pub(super) fn node_keys() -> &'static [&'static str] {
    static KEYS: LazyLock<Vec<&str>> =
        LazyLock::new(|| [&["name", "count", "ip", "ssh"], DEFAULT_KEYS].concat());
    &KEYS
}

pub(super) const FORWARD_KEYS: &[&str] = &["guest", "host", "host_ip"];

pub(super) const DISK_KEYS: &[&str] = &["name", "size"];

/// Node keys as written, before defaults are applied and `count` is expanded.
#[derive(Default, Clone)]
pub(super) struct NodeSpec {
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
    ssh: Option<NodeSsh>,
    span: Span,
}

pub(super) fn parse_node_spec(mut o: Obj<'_>, cx: &mut Ctx) -> NodeSpec {
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
        n.ssh = node_ssh(&mut o, cx);
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
    memory(&mut o, &mut n, cx);
    if let Some(c) = o.int_in("cpus", 1, 64, "a CPU count", cx) {
        n.cpus = Some(c.value as u32);
    }
    if o.has("boot_timeout") {
        if let Some(d) = parse_duration_key(&mut o, "boot_timeout", Duration::from_secs(3600), cx) {
            n.boot_timeout_s = Some(d.as_secs().max(1) as u32);
        }
    }
    roles(&mut o, &mut n, cx);
    forwards(&mut o, &mut n, cx);
    vars(&mut o, &mut n, cx);
    disks(&mut o, &mut n, cx);
    n.nested_containers = o.bool("nested_containers", cx).map(|b| b.value);
    n.bandwidth = parse_rate_key(&mut o, "bandwidth", cx);
    o.finish(cx);
    n
}

/// The memory size, in MiB or with a unit.
fn memory(o: &mut Obj<'_>, n: &mut NodeSpec, cx: &mut Ctx) {
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
}

/// The role list: role names only, no paths.
fn roles(o: &mut Obj<'_>, n: &mut NodeSpec, cx: &mut Ctx) {
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
}

/// Forwarded ports: `guest` and `host`, `host_ip` 127.0.0.1 unless said.
fn forwards(o: &mut Obj<'_>, n: &mut NodeSpec, cx: &mut Ctx) {
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
}

/// Role variables: names, and values that stay inert text.
fn vars(o: &mut Obj<'_>, n: &mut NodeSpec, cx: &mut Ctx) {
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
}

/// Extra disks: a name and a size each.
fn disks(o: &mut Obj<'_>, n: &mut NodeSpec, cx: &mut Ctx) {
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
}

impl Obj<'_> {
    fn allowed_has(&self, key: &str) -> bool {
        self.allowed_keys().contains(&key)
    }
}

pub(super) fn expand_nodes(
    defaults: &NodeSpec,
    specs: Vec<(usize, NodeSpec)>,
    cx: &mut Ctx,
) -> Vec<Node> {
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
        // One `ssh` address names one machine: copies would all reach it.
        if let (Some(c), Some(_)) = (&s.count, &s.ssh) {
            cx.err(
                &format!("{path}.count"),
                c.span,
                "a node with `ssh` is one existing machine: no `count`",
                "one [[node]] per machine",
            );
            continue;
        }
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
                ssh: s.ssh.clone(),
            });
        }
    }
    nodes
}
