//! `[provider] kind = "hosts"` and a node's `ssh = { address, user, key, port }`:
//! what a lab of existing machines says about reaching them.

use super::*;
use std::path::PathBuf;

pub(super) const PROVIDER_KEYS: &[&str] = &["kind"];

pub(super) const SSH_KEYS: &[&str] = &["address", "user", "key", "port"];

/// A host name or IPv4 address: what reaches OpenSSH's `HostName` and
/// `ssh2`'s connect, so no spaces, quotes or a leading `-` (an option).
static SSH_ADDRESS: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[A-Za-z0-9]([A-Za-z0-9.-]{0,252})$").unwrap());

/// A login name as Debian's `adduser` accepts it by default.
static SSH_USER: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[a-z_][a-z0-9_-]{0,31}$").unwrap());

/// `[provider]`: the one provider a lab file names.
pub(super) fn provider(top: &mut Obj<'_>, cx: &mut Ctx) -> Option<Sp<LabProvider>> {
    let v = top.take("provider")?;
    let mut o = Obj::from_value(v, "provider", PROVIDER_KEYS, cx)?;
    let kind = o.string("kind", cx);
    let (path, span) = (o.path.clone(), o.span);
    o.finish(cx);
    let Some(kind) = kind else {
        cx.err(
            &path,
            span,
            "missing required key `kind`",
            "kind = \"hosts\"",
        );
        return None;
    };
    match kind.value.as_str() {
        "hosts" => Some(Sp::new(LabProvider::Hosts, kind.span)),
        other => {
            cx.push(
                Diagnostic::error(
                    "provider.kind",
                    Some(kind.span),
                    format!("unknown provider kind {:?}", truncate(other)),
                )
                .expected("\"hosts\" (existing machines over SSH)")
                .hint("docker, libvirt and virtualbox make their own machines: choose them with `labctl up --provider`"),
            );
            None
        }
    }
}

/// A node's `ssh` table: address and user required, the key's `~` expanded,
/// port 22 unless said.
pub(super) fn node_ssh(o: &mut Obj<'_>, cx: &mut Ctx) -> Option<NodeSsh> {
    let v = o.take("ssh")?;
    let path = o.key_path("ssh");
    let mut s = Obj::from_value(v, &path, SSH_KEYS, cx)?;
    let span = s.span;
    let address = s.string("address", cx).filter(|a| {
        check_re(
            &join(&path, "address"),
            a,
            &SSH_ADDRESS,
            "a host name or IPv4 address",
            cx,
        )
    });
    let user = s.string("user", cx).filter(|u| {
        check_re(
            &join(&path, "user"),
            u,
            &SSH_USER,
            "a login name: a-z or _ first, then a-z, 0-9, _, -",
            cx,
        )
    });
    let key = s
        .string("key", cx)
        .and_then(|k| key_path(&join(&path, "key"), &k, cx));
    let port = s.int_in("port", 1, 65535, "a port", cx);
    let missing: Vec<&str> = [
        ("address", address.is_none() && !s.has("address")),
        ("user", user.is_none() && !s.has("user")),
        ("key", key.is_none() && !s.has("key")),
    ]
    .into_iter()
    .filter(|(_, m)| *m)
    .map(|(k, _)| k)
    .collect();
    s.finish(cx);
    if !missing.is_empty() && !cx.diags.iter().any(|d| d.key.starts_with(&path)) {
        cx.err(
            &path,
            span,
            format!("ssh needs `{}`", missing.join("`, `")),
            "ssh = { address = \"10.0.0.89\", user = \"admin\", key = \"~/.ssh/lab\" }",
        );
    }
    Some(NodeSsh {
        address: address?.value,
        user: user?.value,
        key: key?,
        port: port.map(|p| p.value as u16).unwrap_or(22),
        span,
    })
}

/// The private key's path: absolute, or `~/...` under `$HOME`. A relative
/// path would depend on where labctl runs; quotes would break the lab's
/// ssh_config line.
fn key_path(key: &str, k: &Sp<String>, cx: &mut Ctx) -> Option<PathBuf> {
    if !check_text(key, k, MAX_TEXT, cx) {
        return None;
    }
    let expanded = match k.value.strip_prefix("~/") {
        Some(rest) => match std::env::var_os("HOME") {
            Some(home) if !home.is_empty() => PathBuf::from(home).join(rest),
            _ => {
                cx.err(
                    key,
                    k.span,
                    "`~` cannot be expanded: HOME is not set",
                    "an absolute path",
                );
                return None;
            }
        },
        None => PathBuf::from(&k.value),
    };
    if !expanded.is_absolute() || k.value.contains('"') {
        cx.err(
            key,
            k.span,
            format!("invalid key path {:?}", truncate(&k.value)),
            "an absolute path or one starting with ~/, without quotes",
        );
        return None;
    }
    Some(expanded)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_tilde_is_expanded_under_home() {
        let mut cx = Ctx::new();
        let k = Sp::new("~/.ssh/lab".to_string(), Span::default());
        let home = std::env::var("HOME").unwrap();
        assert_eq!(
            key_path("ssh.key", &k, &mut cx),
            Some(PathBuf::from(home).join(".ssh/lab"))
        );
        let k = Sp::new("keys/lab".to_string(), Span::default());
        assert_eq!(key_path("ssh.key", &k, &mut cx), None);
        assert!(
            cx.diags[0].message.contains("invalid key path"),
            "{:?}",
            cx.diags
        );
    }
}
