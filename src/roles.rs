//! Roles: `provision/ROLE/` folders holding `provision.sh`, the files it installs
//! and `role.toml` metadata (ordering and the packages the node image needs).
//!
//! Shipped roles are built into the binary; a `provision/` folder beside a user's
//! lab file adds roles or overrides shipped ones of the same name.

use crate::assets;
use crate::diag::{Diagnostic, SourceFile, Span};
use crate::error::{Error, Result};
use crate::lab::parse::{check_text, HOST_LABEL, ROLE_NAME};
use crate::lab::reader::{Ctx, Obj};
use regex::Regex;
use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};
use std::sync::LazyLock;
use toml_span::value::ValueInner;

/// Name of the folder holding the provisioning wrapper and shell library; it is
/// not a valid role name, so it can never collide with one.
pub const SUPPORT_DIR: &str = "_labctl";

/// The file beside provision.sh that undoes a role on existing machines.
pub const UNDO_SCRIPT: &str = "undo.sh";

/// A Debian package name (Debian policy 5.6.1: lower-case letters, digits,
/// `+ . -`, a letter or digit first, at least two characters). Role metadata
/// and the offline repository's package lists both check names with it.
pub static PACKAGE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[a-z0-9][a-z0-9+.-]{1,62}$").unwrap());
const META_KEYS: &[&str] = &["description", "after", "packages", "services"];

/// An ordering constraint from `after`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum After {
    /// `ROLE`: that role, if this node has it, runs first.
    Local(String),
    /// `NODE:ROLE`: barrier on that role finishing on that node.
    Node(String, String),
    /// `*:ROLE`: barrier on that role finishing on every node that has it.
    All(String),
}

impl std::fmt::Display for After {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            After::Local(r) => write!(f, "{r}"),
            After::Node(n, r) => write!(f, "{n}:{r}"),
            After::All(r) => write!(f, "*:{r}"),
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct RoleMeta {
    pub description: String,
    pub after: Vec<(After, Span)>,
    pub packages: Vec<String>,
    pub services: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    Builtin,
    Dir(PathBuf),
}

#[derive(Debug, Clone)]
pub struct Role {
    pub name: String,
    pub meta: RoleMeta,
    /// Relative path -> contents, every file of the role folder.
    pub files: BTreeMap<String, Vec<u8>>,
    pub origin: Origin,
}

impl Role {
    pub fn script(&self) -> &[u8] {
        self.files
            .get("provision.sh")
            .map(|v| v.as_slice())
            .unwrap_or(b"")
    }

    /// The node-side script that undoes what provision.sh did (`undo.sh`):
    /// what makes a role usable on existing machines (docs/hosts.md).
    pub fn undo_script(&self) -> Option<&[u8]> {
        self.files.get(UNDO_SCRIPT).map(|v| v.as_slice())
    }

    /// Number of `step "..."` lines in provision.sh; used for `step N/M` messages.
    pub fn step_count(&self) -> usize {
        String::from_utf8_lossy(self.script())
            .lines()
            .filter(|l| l.trim_start().starts_with("step "))
            .count()
    }
}

impl Role {
    /// A role from its files; its metadata is `role.toml` among them (none
    /// means no metadata), reported as `meta_path` in errors.
    fn new(
        name: String,
        files: BTreeMap<String, Vec<u8>>,
        meta_path: &Path,
        origin: Origin,
    ) -> Result<Role> {
        let meta_text = files
            .get("role.toml")
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .unwrap_or_default();
        let meta = parse_meta(&SourceFile::new(meta_path, meta_text))?;
        Ok(Role {
            name,
            meta,
            files,
            origin,
        })
    }
}

#[derive(Debug, Clone, Default)]
pub struct RoleSet {
    pub roles: BTreeMap<String, Role>,
    /// Files of the provisioning support folder (wrapper and shell library).
    pub support: BTreeMap<String, Vec<u8>>,
}

impl RoleSet {
    pub fn get(&self, name: &str) -> Option<&Role> {
        self.roles.get(name)
    }

    /// The shipped roles, optionally overlaid by `dir/provision/`.
    pub fn load(user_dir: Option<&Path>) -> Result<RoleSet> {
        let mut set = RoleSet::default();
        for d in assets::ROLES.dirs() {
            let name = d.path().file_name().unwrap().to_string_lossy().into_owned();
            let mut files = BTreeMap::new();
            collect_embedded(d, d.path(), &mut files);
            if name == SUPPORT_DIR {
                set.support = files;
                continue;
            }
            let meta_path = PathBuf::from(format!("<builtin>/provision/{name}/role.toml"));
            let role = Role::new(name, files, &meta_path, Origin::Builtin)?;
            set.roles.insert(role.name.clone(), role);
        }
        if let Some(dir) = user_dir {
            let pdir = dir.join("provision");
            if pdir.is_dir() {
                let entries = std::fs::read_dir(&pdir).map_err(|e| Error::io("read", &pdir, e))?;
                let mut names: Vec<PathBuf> =
                    entries.filter_map(|e| e.ok()).map(|e| e.path()).collect();
                names.sort();
                for path in names {
                    let name = path.file_name().unwrap().to_string_lossy().into_owned();
                    let meta_md = std::fs::symlink_metadata(&path)
                        .map_err(|e| Error::io("read", &path, e))?;
                    if meta_md.file_type().is_symlink() {
                        return Err(Error::usage(format!(
                            "role folder {} is a symbolic link; roles must live inside the lab's folder",
                            path.display()
                        )));
                    }
                    if !meta_md.is_dir() {
                        continue;
                    }
                    if !ROLE_NAME.is_match(&name) {
                        return Err(Error::usage(format!(
                            "{}: `{name}` is not a valid role name (a-z first, then a-z, 0-9, _, -)",
                            path.display()
                        )));
                    }
                    let mut files = BTreeMap::new();
                    collect_dir(&path, &path, &mut files)?;
                    if !files.contains_key("provision.sh") {
                        return Err(Error::usage(format!(
                            "role folder {} has no provision.sh",
                            path.display()
                        )));
                    }
                    let meta_path = path.join("role.toml");
                    let role = Role::new(name, files, &meta_path, Origin::Dir(path.clone()))?;
                    set.roles.insert(role.name.clone(), role);
                }
            }
        }
        Ok(set)
    }

    /// Debian packages every role of `roles` needs in the node image, sorted.
    pub fn packages<'a>(&self, roles: impl IntoIterator<Item = &'a str>) -> Vec<String> {
        let mut out: Vec<String> = roles
            .into_iter()
            .filter_map(|r| self.roles.get(r))
            .flat_map(|r| r.meta.packages.iter().cloned())
            .collect();
        out.sort();
        out.dedup();
        out
    }
}

fn collect_embedded(
    d: &include_dir::Dir<'static>,
    base: &Path,
    out: &mut BTreeMap<String, Vec<u8>>,
) {
    for f in d.files() {
        let rel = f
            .path()
            .strip_prefix(base)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        out.insert(rel, f.contents().to_vec());
    }
    for sub in d.dirs() {
        collect_embedded(sub, base, out);
    }
}

/// Read a user role folder; symbolic links are refused so nothing outside the
/// lab's folder is uploaded to a node.
fn collect_dir(dir: &Path, base: &Path, out: &mut BTreeMap<String, Vec<u8>>) -> Result<()> {
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io("read", dir, e))?;
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok()).map(|e| e.path()).collect();
    paths.sort();
    for p in paths {
        let md = std::fs::symlink_metadata(&p).map_err(|e| Error::io("read", &p, e))?;
        if md.file_type().is_symlink() {
            return Err(Error::usage(format!(
                "{} is a symbolic link; files of a role must live inside its folder",
                p.display()
            )));
        }
        if md.is_dir() {
            collect_dir(&p, base, out)?;
        } else if md.is_file() {
            let rel = p.strip_prefix(base).unwrap();
            if rel.components().any(|c| !matches!(c, Component::Normal(_))) {
                return Err(Error::usage(format!(
                    "{} escapes its role folder",
                    p.display()
                )));
            }
            let bytes = std::fs::read(&p).map_err(|e| Error::io("read", &p, e))?;
            out.insert(rel.to_string_lossy().into_owned(), bytes);
        }
    }
    Ok(())
}

/// Parse `role.toml`. An absent file means no constraints and no packages.
pub fn parse_meta(src: &SourceFile) -> Result<RoleMeta> {
    let mut cx = Ctx::new();
    let meta = parse_meta_inner(&src.text, &mut cx);
    let errors: Vec<Diagnostic> = cx
        .diags
        .into_iter()
        .filter(|d| d.is_error())
        .map(|d| src.locate(d))
        .collect();
    if !errors.is_empty() {
        let rendered: String = errors.iter().map(|d| src.render(d)).collect();
        return Err(Error::Invalid {
            file: src.path.clone(),
            count: errors.len(),
            rendered,
        });
    }
    Ok(meta.unwrap_or_default())
}

fn parse_meta_inner(text: &str, cx: &mut Ctx) -> Option<RoleMeta> {
    let mut root = match toml_span::parse(text) {
        Ok(v) => v,
        Err(e) => {
            cx.push(
                Diagnostic::error("", Some(e.span.into()), format!("invalid TOML: {e}"))
                    .expected("valid TOML syntax"),
            );
            return None;
        }
    };
    let span: Span = root.span.into();
    let ValueInner::Table(map) = root.take() else {
        return None;
    };
    let mut o = Obj::root(map, span, META_KEYS);
    let mut meta = RoleMeta::default();
    if let Some(d) = o.string("description", cx) {
        check_text("description", &d, 1024, cx);
        meta.description = d.value;
    }
    for (i, a) in o
        .strings("after", cx)
        .unwrap_or_default()
        .into_iter()
        .enumerate()
    {
        let key = format!("after[{i}]");
        let parsed = match a.value.split_once(':') {
            None => ROLE_NAME
                .is_match(&a.value)
                .then(|| After::Local(a.value.clone())),
            Some(("*", r)) => ROLE_NAME.is_match(r).then(|| After::All(r.to_string())),
            Some((n, r)) => (HOST_LABEL.is_match(n) && ROLE_NAME.is_match(r))
                .then(|| After::Node(n.to_string(), r.to_string())),
        };
        match parsed {
            Some(p) => meta.after.push((p, a.span)),
            None => cx.err(
                &key,
                a.span,
                format!("invalid ordering {:?}", a.value),
                "ROLE, NODE:ROLE or *:ROLE",
            ),
        }
    }
    meta.packages = names(
        &mut o,
        "packages",
        &PACKAGE,
        "package",
        "a Debian package name",
        cx,
    );
    meta.services = names(
        &mut o,
        "services",
        &ROLE_NAME,
        "service",
        "a service name",
        cx,
    );
    o.finish(cx);
    Some(meta)
}

/// The strings under `key` that match `re`; each one that does not is an
/// error naming its index, e.g. `invalid package name "x y"`.
fn names(
    o: &mut Obj<'_>,
    key: &str,
    re: &Regex,
    noun: &str,
    expected: &str,
    cx: &mut Ctx,
) -> Vec<String> {
    let mut ok = Vec::new();
    for (i, s) in o
        .strings(key, cx)
        .unwrap_or_default()
        .into_iter()
        .enumerate()
    {
        if re.is_match(&s.value) {
            ok.push(s.value);
        } else {
            cx.err(
                &format!("{key}[{i}]"),
                s.span,
                format!("invalid {noun} name {:?}", s.value),
                expected,
            );
        }
    }
    ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_roles_load() {
        let set = RoleSet::load(None).unwrap();
        assert!(!set.roles.is_empty());
        assert!(set.support.contains_key("wrapper.sh"));
        for r in set.roles.values() {
            assert!(
                r.files.contains_key("provision.sh"),
                "{} has no provision.sh",
                r.name
            );
        }
    }

    #[test]
    fn meta_errors_have_locations() {
        let src = SourceFile::new(
            "x/role.toml",
            "after = [\"a:b:c\"]\npackages = [\"Bad Name\"]\nbogus = 1\n",
        );
        let err = parse_meta(&src).unwrap_err();
        let Error::Invalid {
            rendered, count, ..
        } = err
        else {
            panic!()
        };
        assert_eq!(count, 3, "{rendered}");
        assert!(rendered.contains("x/role.toml:1:10"), "{rendered}");
        assert!(rendered.contains("x/role.toml:2:13"), "{rendered}");
        assert!(rendered.contains("x/role.toml:3:1"), "{rendered}");
        assert!(
            rendered.contains("packages[0]: invalid package name \"Bad Name\""),
            "{rendered}"
        );
        assert!(
            rendered.contains("expected a Debian package name"),
            "{rendered}"
        );

        let src = SourceFile::new(
            "y/role.toml",
            "packages = [\"nginx\", \"-x\"]\nservices = [\"nginx\", \"Web Server\"]\n",
        );
        let Error::Invalid {
            rendered, count, ..
        } = parse_meta(&src).unwrap_err()
        else {
            panic!()
        };
        assert_eq!(count, 2, "{rendered}");
        assert!(rendered.contains("y/role.toml:1:22"), "{rendered}");
        assert!(
            rendered.contains("packages[1]: invalid package name \"-x\""),
            "{rendered}"
        );
        assert!(rendered.contains("y/role.toml:2:22"), "{rendered}");
        assert!(
            rendered.contains("services[1]: invalid service name \"Web Server\""),
            "{rendered}"
        );
        assert!(rendered.contains("expected a service name"), "{rendered}");
    }
}
