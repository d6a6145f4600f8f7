//! The offline package repository of a lab (`labctl repo build LAB`).
//!
//! On the host, labctl downloads the Debian packages the lab's offline nodes
//! need, with their whole dependency closure, indexes them as a flat APT
//! repository and signs it with a key of the lab's own. The `aptrepo` role
//! serves it over HTTP from a node; the `offline-apt` role makes it the only
//! package source of a node, trusted through `Signed-By` (never
//! `AllowUnauthenticated`, never `trusted=yes`).
//!
//! What goes in: every node with the role [`CONSUMER_ROLE`] is a consumer; the
//! repository holds the `role.toml` `packages` of every role of the consumers
//! (so a consumer can (re)install what its roles need without a network), plus
//! the packages named by their node variable [`PACKAGES_VAR`] (space or comma
//! separated). Role `packages` are baked into the docker node image; the
//! variable names the packages that must come from the repository itself.
//!
//! The closure is what APT itself resolves for a system with **nothing**
//! installed (an empty dpkg status, recommends and suggests off), against a
//! private APT configuration that holds only the host's Debian sources for
//! the release. Packages marked `Essential: yes` are present on every Debian
//! system and are not declared as dependencies, so they are not in the
//! closure; everything a package declares (`Depends`, `Pre-Depends`, one
//! choice per alternative, one provider per virtual package) is.
//!
//! Layout under the output folder (by default `.labctl/LAB/repo/`, see
//! [`default_dir`]):
//!
//! ```text
//! repo/
//! ├── key/          0700, never uploaded, never overwritten once made:
//! │                 private.gpg (0600), public.gpg, public.asc, fingerprint
//! ├── apt/          host-side APT configuration, lists and download area
//! └── public/       the repository that is served (RepoInfo::dir):
//!     ├── InRelease, Release, Release.gpg, Packages, Packages.gz
//!     ├── lab-repo.gpg (binary public key, for /etc/apt/keyrings/), lab-repo.asc
//!     └── pool/*.deb
//! ```
//!
//! The room: `apt` resolves the closure with a private APT configuration
//! and downloads it; `sign` holds the lab's key, the Release file and its
//! signatures; this file lays the repository out and drives the build.

mod apt;
mod sign;

use apt::{download, resolve, show, AptRoot};
pub use apt::{
    parse_inst_lines, parse_show, pool_name, resolve_error, source_for_release, ArchiveInfo, Pkg,
};
pub use sign::release_text;
use sign::{ensure_key, release_matches, sign, verify};

use crate::error::{Error, Result};
use crate::exec::{Cmd, Runner};
use crate::lab::Lab;
use crate::roles::RoleSet;
use regex::Regex;
use sha2::{Digest, Sha256, Sha512};
use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

/// Nodes with this role use the repository as their only package source.
pub const CONSUMER_ROLE: &str = "offline-apt";

/// The role that serves the repository over HTTP.
pub const SERVER_ROLE: &str = "aptrepo";

/// Node variable naming packages that must come from the repository.
pub const PACKAGES_VAR: &str = "offline_packages";

/// Folder inside the `aptrepo` role's upload that holds the repository.
pub const ROLE_SUBDIR: &str = "repo";

/// File name of the binary public key (what goes to `/etc/apt/keyrings/`).
pub const KEYRING: &str = "lab-repo.gpg";

/// The Debian release the node image is built from.
pub const DEFAULT_RELEASE: &str = "bookworm";

/// Longest path inside the role upload tar (`ROLE/…`), see `provision::upload`.
pub const MAX_UPLOAD_PATH: usize = 99;

static RELEASE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^[a-z][a-z0-9-]{1,30}$").unwrap());

/// What [`build`] made.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RepoInfo {
    /// The served folder (`…/repo/public`): copy it as the `aptrepo` role's `repo/`.
    pub dir: PathBuf,
    /// Number of `.deb` files in the repository.
    pub packages: usize,
    /// Size of every file in `dir` (what is uploaded to the repo node).
    pub bytes: u64,
    /// Fingerprint of the lab's repository key (40 hex digits).
    pub key_fingerprint: String,
}

/// Knobs of [`build_with`]; [`build`] uses the defaults.
#[derive(Debug, Clone)]
pub struct Options {
    /// Debian release (codename) of the nodes.
    pub release: String,
    /// Debian mirror; `None`: the host's sources for `release`.
    pub mirror: Option<String>,
    /// Print progress on stderr.
    pub quiet: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            release: DEFAULT_RELEASE.into(),
            mirror: None,
            quiet: false,
        }
    }
}

/// The repository folder of a lab's state dir (`.labctl/LAB/repo`).
pub fn default_dir(state: &crate::state::StateDir) -> PathBuf {
    state.root.join("repo")
}

/// The served folder below an output folder.
pub fn public_dir(out_dir: &Path) -> PathBuf {
    out_dir.join("public")
}

/// A requested package and who asked for it (for error messages).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub package: String,
    /// `role.toml of role X`, `var offline_packages of node Y`.
    pub from: Vec<String>,
}

/// The packages the lab's consumer nodes ask for, sorted by name.
pub fn requested(lab: &Lab, roles: &RoleSet) -> Result<Vec<Request>> {
    let consumers: Vec<&crate::lab::Node> = lab.nodes_with_role(CONSUMER_ROLE).collect();
    if consumers.is_empty() {
        return Err(Error::usage(format!(
            "lab {} has no node with the role `{CONSUMER_ROLE}`: nothing would use an offline repository",
            lab.name.value
        )));
    }
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for n in consumers {
        for r in &n.roles {
            if let Some(role) = roles.get(&r.value) {
                for p in &role.meta.packages {
                    out.entry(p.clone())
                        .or_default()
                        .insert(format!("role.toml of role {}", r.value));
                }
            }
        }
        if let Some(v) = n.vars.get(PACKAGES_VAR) {
            for p in v
                .value
                .split(|c: char| c.is_whitespace() || c == ',')
                .filter(|s| !s.is_empty())
            {
                if !crate::roles::PACKAGE.is_match(p) {
                    return Err(Error::usage(format!(
                        "node {}: {PACKAGES_VAR} names {p:?}, which is not a Debian package name (a-z, 0-9 first, then a-z, 0-9, +, ., -; 2 to 63 characters)",
                        n.name
                    )));
                }
                out.entry(p.to_string())
                    .or_default()
                    .insert(format!("{PACKAGES_VAR} of node {}", n.name));
            }
        }
    }
    Ok(out
        .into_iter()
        .map(|(package, from)| Request {
            package,
            from: from.into_iter().collect(),
        })
        .collect())
}

/// Build (or bring up to date) the lab's repository in `out_dir` with the
/// default [`Options`].
pub fn build(lab: &Lab, roles: &RoleSet, out_dir: &Path, runner: &dyn Runner) -> Result<RepoInfo> {
    build_with(lab, roles, out_dir, runner, &Options::default())
}

pub fn build_with(
    lab: &Lab,
    roles: &RoleSet,
    out_dir: &Path,
    runner: &dyn Runner,
    o: &Options,
) -> Result<RepoInfo> {
    let requests = requested(lab, roles)?;
    if !RELEASE.is_match(&o.release) {
        return Err(Error::usage(format!(
            "{:?} is not a Debian release codename",
            o.release
        )));
    }
    need_tools(&[
        "apt-get",
        "apt-cache",
        "dpkg",
        "dpkg-scanpackages",
        "gpg",
        "gpgconf",
        "gpgv",
        "gzip",
    ])?;
    let say = |m: String| {
        if !o.quiet {
            eprintln!("repo: {m}");
        }
    };
    mkdir(out_dir, 0o755)?;
    let out_dir = std::path::absolute(out_dir).map_err(|e| Error::io("resolve", out_dir, e))?;
    let public = public_dir(&out_dir);
    let pool = public.join("pool");
    mkdir(&public, 0o755)?;
    mkdir(&pool, 0o755)?;

    // A private APT configuration: the host's Debian sources for the release.
    let arch = runner
        .run(&Cmd::new("dpkg").arg("--print-architecture"))?
        .stdout
        .trim()
        .to_string();
    let apt = AptRoot::prepare(&out_dir.join("apt"), &o.release, o.mirror.as_deref())?;
    say(format!(
        "{} requested package(s) for {}/{arch}: {}",
        requests.len(),
        o.release,
        requests
            .iter()
            .map(|r| r.package.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    ));
    runner.run(&apt.cmd("apt-get").args(["update", "-q"])).map_err(|e| with_hint(e, "the host's Debian mirror must answer; check its apt sources (`labctl repo build` uses those naming the release)"))?;

    // The closure, as APT resolves it for an empty system.
    let closure = if requests.is_empty() {
        Vec::new()
    } else {
        resolve(&apt, runner, &requests)?
    };
    let infos = show(&apt, runner, &closure)?;

    let wanted = sync_pool(&apt, runner, &infos, &pool, &say)?;

    // The lab's key: made once, never replaced.
    let key = ensure_key(&lab.name.value, &out_dir.join("key"), runner)?;
    if key.created {
        say(format!(
            "made the lab's repository key {} (kept in {})",
            key.fingerprint,
            out_dir.join("key").display()
        ));
    }

    index_and_sign(lab, o, runner, &out_dir, &public, &arch, &key, wanted, &say)?;

    let mut bytes = 0;
    let mut count = 0;
    walk(&public, &mut |p, len| {
        bytes += len;
        if p.extension().is_some_and(|x| x == "deb") {
            count += 1;
        }
    })?;
    say(format!(
        "{}: {count} package(s), {}",
        public.display(),
        human(bytes)
    ));
    Ok(RepoInfo {
        dir: public,
        packages: count,
        bytes,
        key_fingerprint: key.fingerprint,
    })
}

/// The pool: keep what is there and intact, fetch the rest, drop the others.
/// Returns how many packages the pool holds.
fn sync_pool(
    apt: &AptRoot,
    runner: &dyn Runner,
    infos: &[ArchiveInfo],
    pool: &Path,
    say: &dyn Fn(String),
) -> Result<usize> {
    let mut wanted: BTreeMap<String, &ArchiveInfo> = BTreeMap::new();
    for i in infos {
        wanted.insert(pool_name(i), i);
    }
    let mut missing: Vec<&ArchiveInfo> = Vec::new();
    for (name, info) in &wanted {
        let p = pool.join(name);
        if !(file_size(&p) == Some(info.size) && sha256_file(&p)? == info.sha256) {
            missing.push(info);
        }
    }
    let fetch_bytes: u64 = missing.iter().map(|i| i.size).sum();
    say(format!(
        "{} package(s) in the closure; {} cached, {} to download ({})",
        wanted.len(),
        wanted.len() - missing.len(),
        missing.len(),
        human(fetch_bytes)
    ));
    if !missing.is_empty() {
        download(apt, runner, &missing, pool)?;
    }
    for e in read_dir(pool)? {
        let name = e.file_name().to_string_lossy().into_owned();
        if !wanted.contains_key(&name) {
            std::fs::remove_file(e.path()).map_err(|err| Error::io("remove", e.path(), err))?;
        }
    }

    Ok(wanted.len())
}

/// The index (Packages), the key files, the Release file and its signatures,
/// rewritten only when something changed; verified either way.
#[allow(clippy::too_many_arguments)]
fn index_and_sign(
    lab: &Lab,
    o: &Options,
    runner: &dyn Runner,
    out_dir: &Path,
    public: &Path,
    arch: &str,
    key: &sign::Key,
    wanted: usize,
    say: &dyn Fn(String),
) -> Result<()> {
    let scan = runner.run(
        &Cmd::new("dpkg-scanpackages")
            .args(["--multiversion", "pool", "/dev/null"])
            .dir(public),
    )?;
    let packages_text = scan.stdout;
    let entries = packages_text
        .lines()
        .filter(|l| l.starts_with("Package: "))
        .count();
    if entries != wanted {
        return Err(Error::env(
            format!(
                "dpkg-scanpackages indexed {entries} package(s), the pool holds {}",
                wanted
            ),
            None,
        ));
    }
    let pubkey = std::fs::read(out_dir.join("key/public.gpg"))
        .map_err(|e| Error::io("read", out_dir.join("key/public.gpg"), e))?;
    let pubkey_asc = std::fs::read(out_dir.join("key/public.asc"))
        .map_err(|e| Error::io("read", out_dir.join("key/public.asc"), e))?;
    let up_to_date = std::fs::read(public.join("Packages")).ok().as_deref()
        == Some(packages_text.as_bytes())
        && std::fs::read(public.join(KEYRING)).ok() == Some(pubkey.clone())
        && ["Packages.gz", "Release", "InRelease", "Release.gpg"]
            .iter()
            .all(|f| public.join(f).is_file())
        && release_matches(public)
        && verify(runner, public).is_ok();
    if up_to_date {
        say("index and signatures unchanged".into());
    } else {
        // Remove the signed files first: a half-written repository never verifies.
        for f in ["InRelease", "Release.gpg", "Release"] {
            let _ = std::fs::remove_file(public.join(f));
        }
        crate::state::write_atomic(&public.join("Packages"), packages_text.as_bytes())?;
        let _ = std::fs::remove_file(public.join("Packages.gz"));
        runner.run(&Cmd::new("gzip").args(["-9nk", "Packages"]).dir(public))?;
        crate::state::write_atomic(&public.join(KEYRING), &pubkey)?;
        crate::state::write_atomic(&public.join("lab-repo.asc"), &pubkey_asc)?;
        let mut files = Vec::new();
        for f in ["Packages", "Packages.gz"] {
            let p = public.join(f);
            files.push((
                f.to_string(),
                std::fs::read(&p).map_err(|e| Error::io("read", &p, e))?,
            ));
        }
        let release = release_text(
            &lab.name.value,
            &o.release,
            arch,
            time::OffsetDateTime::now_utc(),
            &files,
        );
        crate::state::write_atomic(&public.join("Release"), release.as_bytes())?;
        sign(runner, &out_dir.join("key"), &key.fingerprint, public)?;
        verify(runner, public)?;
        say(format!("indexed and signed with {}", key.fingerprint));
    }

    Ok(())
}

/// The served repository as files of the `aptrepo` role's upload:
/// `repo/REL` -> the file on the host (sent as it is read, never held whole). Fails when there is no signed repository in `dir`
/// or a path would not fit the upload.
pub fn role_files(dir: &Path) -> Result<BTreeMap<String, PathBuf>> {
    for f in ["InRelease", "Release", "Release.gpg", "Packages", KEYRING] {
        if !dir.join(f).is_file() {
            return Err(Error::env(
                format!("no signed repository in {} ({f} is missing)", dir.display()),
                Some("run `labctl repo build LAB` first".into()),
            ));
        }
    }
    let mut out = BTreeMap::new();
    let mut paths = Vec::new();
    walk(dir, &mut |p, _| paths.push(p.to_path_buf()))?;
    for p in paths {
        let rel = p.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
        let key = format!("{ROLE_SUBDIR}/{rel}");
        if SERVER_ROLE.len() + 1 + key.len() > MAX_UPLOAD_PATH {
            return Err(Error::env(
                format!(
                    "{} is too long a path for the role upload ({SERVER_ROLE}/{key})",
                    p.display()
                ),
                Some("run `labctl repo build LAB` again".into()),
            ));
        }
        out.insert(key, p);
    }
    Ok(out)
}

// ------------------------------------------------------------------ key

fn need_tools(tools: &[&str]) -> Result<()> {
    let missing: Vec<&str> = tools
        .iter()
        .copied()
        .filter(|t| crate::exec::which(t).is_none())
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(Error::env(
        format!(
            "`labctl repo build` needs {} on the host",
            missing.join(", ")
        ),
        Some("apt-get install apt dpkg-dev gnupg gpgv gzip".into()),
    ))
}

fn with_hint(e: Error, h: &str) -> Error {
    match e {
        Error::Tool {
            command,
            code,
            stderr,
            hint: None,
        } => Error::Tool {
            command,
            code,
            stderr,
            hint: Some(h.to_string()),
        },
        other => other,
    }
}

fn mkdir(p: &Path, mode: u32) -> Result<()> {
    if !p.is_dir() {
        std::fs::create_dir_all(p).map_err(|e| Error::io("create", p, e))?;
        set_mode(p, mode)?;
    }
    Ok(())
}

fn set_mode(p: &Path, mode: u32) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode))
        .map_err(|e| Error::io("set the mode of", p, e))
}

fn read_dir(p: &Path) -> Result<Vec<std::fs::DirEntry>> {
    let mut v: Vec<std::fs::DirEntry> = std::fs::read_dir(p)
        .map_err(|e| Error::io("read", p, e))?
        .filter_map(|e| e.ok())
        .collect();
    v.sort_by_key(|e| e.file_name());
    Ok(v)
}

/// Every regular file below `dir` (sorted), with its size; temp files skipped.
fn walk(dir: &Path, f: &mut dyn FnMut(&Path, u64)) -> Result<()> {
    for e in read_dir(dir)? {
        let md =
            std::fs::symlink_metadata(e.path()).map_err(|err| Error::io("read", e.path(), err))?;
        if md.is_dir() {
            walk(&e.path(), f)?;
        } else if md.is_file() && !e.file_name().to_string_lossy().starts_with('.') {
            f(&e.path(), md.len());
        }
    }
    Ok(())
}

fn file_size(p: &Path) -> Option<u64> {
    std::fs::metadata(p)
        .ok()
        .filter(|m| m.is_file())
        .map(|m| m.len())
}

fn sha256_file(p: &Path) -> Result<String> {
    let mut f = std::fs::File::open(p).map_err(|e| Error::io("read", p, e))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buf).map_err(|e| Error::io("read", p, e))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}

/// KiB or MiB, as the repository's messages give sizes.
fn human(b: u64) -> String {
    crate::text::human_bytes_in(b, 1, 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(name: &str, version: &str, arch: &str) -> ArchiveInfo {
        ArchiveInfo {
            pkg: Pkg {
                name: name.into(),
                version: version.into(),
                arch: arch.into(),
            },
            size: 1,
            sha256: "ab".repeat(32),
        }
    }

    #[test]
    fn release_lists_hashes_and_sizes_of_the_indexes() {
        let date = time::macros::datetime!(2017-06-28 10:20:30 UTC);
        let files = vec![
            ("Packages".to_string(), b"Package: tree\n".to_vec()),
            ("Packages.gz".to_string(), vec![1, 2, 3]),
        ];
        let r = release_text("testnodes", "bookworm", "amd64", date, &files);
        assert!(r.starts_with("Origin: labctl\nLabel: labctl lab testnodes\nSuite: testnodes\nCodename: testnodes\n"), "{r}");
        assert!(r.contains("\nDate: Wed, 28 Jun 2017 10:20:30 UTC\n"), "{r}");
        assert!(r.contains("\nArchitectures: amd64\n"), "{r}");
        let sha = hex::encode(Sha256::digest(b"Package: tree\n"));
        assert!(
            r.contains(&format!("SHA256:\n {sha}               14 Packages\n")),
            "{r}"
        );
        let sha3 = hex::encode(Sha256::digest([1u8, 2, 3]));
        assert!(
            r.contains(&format!(" {sha3}                3 Packages.gz\n")),
            "{r}"
        );
        let sha512 = hex::encode(Sha512::digest(b"Package: tree\n"));
        assert!(
            r.contains(&format!("SHA512:\n {sha512}               14 Packages\n")),
            "{r}"
        );
        // No Valid-Until: the repository lives as long as the lab.
        assert!(!r.contains("Valid-Until"));
        // Every field line is `Key: value`; every hash line starts with a space.
        for l in r.lines() {
            assert!(
                l.starts_with(' ') || l.contains(": ") || l.ends_with(':'),
                "{l}"
            );
        }
    }

    #[test]
    fn inst_lines_give_the_closure() {
        let out = "Reading package lists...\nInst gcc-12-base (12.2.0-14+deb12u1 Debian:12.15/oldstable [amd64])\n\
                   Inst libgcc-s1 (12.2.0-14+deb12u1 Debian:12.15/oldstable [amd64]) []\n\
                   Inst libc6 [2.36-9] (2.36-9+deb12u14 Debian:12.15/oldstable [amd64])\n\
                   Inst python3-six:amd64 (1.16.0-4 Debian:12.15/oldstable [all])\n\
                   Conf tree (2.1.0-1 Debian:12.15/oldstable [amd64])\n";
        let v = parse_inst_lines(out);
        assert_eq!(
            v.iter()
                .map(|p| format!("{} {} {}", p.name, p.version, p.arch))
                .collect::<Vec<_>>(),
            vec![
                "gcc-12-base 12.2.0-14+deb12u1 amd64",
                "libc6 2.36-9+deb12u14 amd64",
                "libgcc-s1 12.2.0-14+deb12u1 amd64",
                "python3-six 1.16.0-4 all"
            ]
        );
    }

    #[test]
    fn show_stanzas_parse() {
        let text = "Package: tree\nVersion: 2.1.0-1\nArchitecture: amd64\nDescription: x\n y: z\nSize: 52464\nSHA256: 4C0D\n\n\
                    Package: nohash\nVersion: 1\nArchitecture: all\nSize: 3\n\n";
        let v = parse_show(text);
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].pkg.name, "tree");
        assert_eq!(v[0].size, 52464);
        assert_eq!(v[0].sha256, "4c0d");
    }

    #[test]
    fn pool_names_drop_the_epoch_and_fit_the_upload() {
        assert_eq!(
            pool_name(&info("tree", "2.1.0-1", "amd64")),
            "tree_2.1.0-1_amd64.deb"
        );
        assert_eq!(
            pool_name(&info("python3-apt", "1:2.6.0", "amd64")),
            "python3-apt_2.6.0_amd64.deb"
        );
        let long = info(&"x".repeat(70), "1.0-1", "amd64");
        assert_eq!(
            pool_name(&info(&"y".repeat(65), "1.0-1", "amd64")).len(),
            81,
            "fits: kept"
        );
        let n = pool_name(&long);
        assert_eq!(n, format!("{}.deb", "ab".repeat(20)));
        assert!(format!("{SERVER_ROLE}/{ROLE_SUBDIR}/pool/{n}").len() <= MAX_UPLOAD_PATH);
    }

    #[test]
    fn missing_packages_are_named_with_their_origin() {
        let reqs = vec![
            Request {
                package: "tree".into(),
                from: vec!["offline_packages of node testnode1".into()],
            },
            Request {
                package: "no-such-pkg".into(),
                from: vec!["offline_packages of node testnode2".into()],
            },
        ];
        let e = resolve_error(
            &reqs,
            "",
            "Reading package lists...\nE: Unable to locate package no-such-pkg\n",
        );
        let msg = e.to_string();
        assert!(
            msg.contains("`no-such-pkg` (asked for by offline_packages of node testnode2)"),
            "{msg}"
        );
        assert!(!msg.contains("tree"), "{msg}");
        let e = resolve_error(
            &reqs,
            "",
            "E: Package 'tree' has no installation candidate\n",
        );
        assert!(e.to_string().contains("`tree`"), "{e}");
    }

    #[test]
    fn host_sources_are_kept_only_for_the_release() {
        let deb822 = "Types: deb\n# http://snapshot.debian.org/archive/debian/20250520T000000Z\nURIs: http://deb.debian.org/debian\nSuites: bookworm bookworm-updates\nComponents: main\n";
        assert!(source_for_release(
            Path::new("/etc/apt/sources.list.d/debian.sources"),
            deb822,
            "bookworm"
        )
        .is_some());
        assert!(source_for_release(Path::new("/x/debian.sources"), deb822, "trixie").is_none());
        let other = "deb https://packages.cloud.google.com/apt cloud-sdk-bookworm main\n";
        assert!(source_for_release(Path::new("/x/google.list"), other, "bookworm").is_none());
        let commented = "# deb http://deb.debian.org/debian bookworm main\n";
        assert!(source_for_release(Path::new("/x/a.list"), commented, "bookworm").is_none());
        let missing_key = "Types: deb\nURIs: http://x/\nSuites: bookworm\nComponents: main\nSigned-By: /nonexistent/key.gpg\n";
        assert!(source_for_release(Path::new("/x/b.sources"), missing_key, "bookworm").is_none());
        let (name, _) = source_for_release(
            Path::new("/etc/apt/sources.list"),
            "deb http://deb.debian.org/debian bookworm main\n",
            "bookworm",
        )
        .unwrap();
        assert_eq!(name, "host-sources.list");
    }

    fn lab(text: &str) -> Lab {
        let roles = RoleSet::load(None).unwrap();
        crate::load::load_source(crate::diag::SourceFile::new("t.toml", text), None, roles)
            .unwrap()
            .lab
    }

    #[test]
    fn requested_packages_come_from_consumers_only() {
        let roles = RoleSet::load(None).unwrap();
        let l = lab(r#"
name = "t"
[network]
subnet = "192.168.60.0/24"
[[node]]
name = "repo"
ip = "192.168.60.10"
roles = ["aptrepo"]
vars = { offline_packages = "ignored-here" }
[[node]]
name = "n"
count = 2
ip = "192.168.60.31"
roles = ["offline-apt"]
vars = { offline_packages = "tree, hello" }
"#);
        let r = requested(&l, &roles).unwrap();
        let names: Vec<&str> = r.iter().map(|x| x.package.as_str()).collect();
        let mut want: Vec<String> = vec!["hello".into(), "tree".into()];
        want.extend(
            roles
                .get(CONSUMER_ROLE)
                .unwrap()
                .meta
                .packages
                .iter()
                .cloned(),
        );
        want.sort();
        want.dedup();
        assert_eq!(names, want.iter().map(|s| s.as_str()).collect::<Vec<_>>());
        let tree = r.iter().find(|x| x.package == "tree").unwrap();
        assert_eq!(
            tree.from,
            vec!["offline_packages of node n1", "offline_packages of node n2"]
        );
    }

    #[test]
    // Alike on purpose (duplicates): each test writes its own lab file in full.
    fn bad_package_names_and_labs_without_consumers_are_refused() {
        let roles = RoleSet::load(None).unwrap();
        let l = lab("name = \"t\"\n[network]\nsubnet = \"192.168.60.0/24\"\n[[node]]\nname = \"a\"\nip = \"192.168.60.5\"\n");
        assert!(requested(&l, &roles)
            .unwrap_err()
            .to_string()
            .contains("no node with the role `offline-apt`"));
        let l = lab(r#"
name = "t"
[network]
subnet = "192.168.60.0/24"
[[node]]
name = "repo"
ip = "192.168.60.10"
roles = ["aptrepo"]
[[node]]
name = "n"
ip = "192.168.60.31"
roles = ["offline-apt"]
vars = { offline_packages = "tree;rm" }
"#);
        let e = requested(&l, &roles).unwrap_err().to_string();
        assert!(
            e.contains("node n: offline_packages names \"tree;rm\""),
            "{e}"
        );
    }
}
