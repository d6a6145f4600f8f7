//! `[[check]]`: the keys of each check kind, and one reader per kind.

use super::*;

/// A required key: its value, or an error naming the key with an example.
/// Whether the key was present is asked before its value is taken.
macro_rules! need {
    ($o:expr, $cx:expr, $e:expr, $key:literal, $ex:literal) => {{
        let present = $o.has($key);
        let v = $e;
        require(v, $o, $key, $ex, present, $cx)
    }};
}

/// Keys every check kind accepts.
pub(super) const CHECK_COMMON_KEYS: &[&str] =
    &["name", "kind", "timeout", "interval", "disruptive"];

/// Each check kind with the keys only it accepts. A key of another kind is an
/// unknown key, not silently ignored. Messages list kinds and keys in this order.
pub(super) const CHECK_KINDS: &[(&str, &[&str])] = &[
    (
        "http",
        &["from", "url", "status", "body", "spread", "requests"],
    ),
    ("port", &["node", "port", "from"]),
    ("command", &["node", "run", "exit", "stdout", "undo"]),
    ("file", &["node", "path", "contains"]),
    ("cron", &["node", "user", "contains"]),
    ("service", &["node", "service"]),
    ("reach", &["from", "to"]),
    ("disk", &["node", "size", "device"]),
];

/// The keys a check of `kind` accepts, common ones first; `None` for a kind
/// that does not exist.
pub(super) fn check_kind_keys(kind: &str) -> Option<&'static [&'static str]> {
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
pub(super) fn all_check_keys() -> &'static [&'static str] {
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
pub(super) fn check_kind_names() -> String {
    CHECK_KINDS
        .iter()
        .map(|(k, _)| *k)
        .collect::<Vec<_>>()
        .join(", ")
}

pub(super) fn regex_key(o: &mut Obj<'_>, key: &str, cx: &mut Ctx) -> Option<String> {
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

pub(super) fn parse_check(mut o: Obj<'_>, index: usize, cx: &mut Ctx) -> Option<Check> {
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
    // A missing value ends the kind's reader early while `finish` below still
    // reports the check's unknown keys.
    let kind = match kind_s.value.as_str() {
        "http" => http(&mut o, cx),
        "port" => port(&mut o, cx),
        "command" => command(&mut o, cx),
        "file" => file(&mut o, cx),
        "cron" => cron(&mut o, cx),
        "service" => service(&mut o, cx),
        "reach" => reach(&mut o, cx),
        "disk" => disk(&mut o, cx),
        _ => unreachable!("check kinds are matched above"),
    };
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

/// `kind = "http"`.
fn http(o: &mut Obj<'_>, cx: &mut Ctx) -> Option<CheckKind> {
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
        o,
        cx,
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
    let body = regex_key(o, "body", cx);
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
    Some(CheckKind::Http {
        from: from?,
        url: url?.value,
        status,
        body,
        spread,
        requests,
    })
}

/// `kind = "port"`.
fn port(o: &mut Obj<'_>, cx: &mut Ctx) -> Option<CheckKind> {
    let node = need!(o, cx, node_ref(o, "node", cx), "node", "node = \"lb\"");
    let port = need!(
        o,
        cx,
        o.int_in("port", 1, 65535, "a port", cx),
        "port",
        "port = 8080"
    );
    let from = node_ref(o, "from", cx);
    Some(CheckKind::Port {
        node: node?,
        port: port?.value as u16,
        from,
    })
}

/// `kind = "command"`.
fn command(o: &mut Obj<'_>, cx: &mut Ctx) -> Option<CheckKind> {
    let node = need!(o, cx, node_ref(o, "node", cx), "node", "node = \"mgmt\"");
    let run = need!(
        o,
        cx,
        o.string("run", cx),
        "run",
        "run = \"ansible all -m ping\""
    );
    if let Some(r) = &run {
        check_text(&o.key_path("run"), r, 4096, cx);
    }
    let exit = o
        .int_in("exit", 0, 255, "an exit code", cx)
        .map(|e| e.value as i32)
        .unwrap_or(0);
    let stdout = regex_key(o, "stdout", cx);
    let undo = o.string("undo", cx);
    if let Some(u) = &undo {
        check_text(&o.key_path("undo"), u, 4096, cx);
    }
    Some(CheckKind::Command {
        node: node?,
        run: run?.value,
        exit,
        stdout,
        undo: undo.map(|u| u.value),
    })
}

/// `kind = "file"`.
fn file(o: &mut Obj<'_>, cx: &mut Ctx) -> Option<CheckKind> {
    let node = need!(o, cx, node_ref(o, "node", cx), "node", "node = \"web1\"");
    let path = need!(
        o,
        cx,
        abs_path(o, "path", cx),
        "path",
        "path = \"/etc/hosts\""
    );
    let contains = regex_key(o, "contains", cx);
    Some(CheckKind::File {
        node: node?,
        path: path?,
        contains,
    })
}

/// `kind = "cron"`.
fn cron(o: &mut Obj<'_>, cx: &mut Ctx) -> Option<CheckKind> {
    let node = need!(o, cx, node_ref(o, "node", cx), "node", "node = \"web1\"");
    let user = o.string("user", cx);
    if let Some(u) = &user {
        check_re(&o.key_path("user"), u, &ROLE_NAME, "a user name", cx);
    }
    let contains = regex_key(o, "contains", cx);
    Some(CheckKind::Cron {
        node: node?,
        user: user.map(|u| u.value).unwrap_or_else(|| "root".into()),
        contains,
    })
}

/// `kind = "service"`.
fn service(o: &mut Obj<'_>, cx: &mut Ctx) -> Option<CheckKind> {
    let node = need!(o, cx, node_ref(o, "node", cx), "node", "node = \"web1\"");
    let service = need!(
        o,
        cx,
        o.string("service", cx),
        "service",
        "service = \"nginx\""
    );
    if let Some(s) = &service {
        check_re(&o.key_path("service"), s, &ROLE_NAME, "a service name", cx);
    }
    Some(CheckKind::Service {
        node: node?,
        service: service?.value,
    })
}

/// `kind = "reach"`.
fn reach(o: &mut Obj<'_>, cx: &mut Ctx) -> Option<CheckKind> {
    let from = need!(o, cx, node_ref(o, "from", cx), "from", "from = \"web1\"");
    let to = need!(o, cx, node_ref(o, "to", cx), "to", "to = \"lb\"");
    Some(CheckKind::Reach {
        from: from?,
        to: to?,
    })
}

/// `kind = "disk"`.
fn disk(o: &mut Obj<'_>, cx: &mut Ctx) -> Option<CheckKind> {
    let node = need!(
        o,
        cx,
        node_ref(o, "node", cx),
        "node",
        "node = \"testnode1\""
    );
    let size = need!(
        o,
        cx,
        o.scalar_text("size", "a size like \"8G\"", cx),
        "size",
        "size = \"8G\""
    );
    let device = abs_path(o, "device", cx);
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
    Some(CheckKind::Disk {
        node: node?,
        size_bytes: bytes?,
        device,
    })
}

pub(super) fn abs_path(o: &mut Obj<'_>, key: &str, cx: &mut Ctx) -> Option<String> {
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
