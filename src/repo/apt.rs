//! The package closure: a private APT configuration holding only the host's
//! Debian sources for the release, the closure APT resolves for an empty
//! system, and the download into the pool.

use super::*;

/// A private APT configuration (`APT_CONFIG`): its own sources, lists, an empty
/// dpkg status and no host hooks; only `Acquire::` settings of the host are kept.
pub(super) struct AptRoot {
    pub(super) config: PathBuf,
    pub(super) root: PathBuf,
}

impl AptRoot {
    pub(super) fn prepare(root: &Path, release: &str, mirror: Option<&str>) -> Result<AptRoot> {
        let etc = root.join("etc");
        // Configuration is rewritten each time; lists are kept (a cache).
        let _ = std::fs::remove_dir_all(&etc);
        for d in [
            "etc/sources.list.d",
            "etc/apt.conf.d",
            "etc/preferences.d",
            "lists/partial",
            "cache/archives/partial",
            "download",
        ] {
            mkdir(&root.join(d), 0o755)?;
        }
        std::fs::write(root.join("status"), "")
            .map_err(|e| Error::io("write", root.join("status"), e))?;
        let sources = match mirror {
            Some(m) => vec![("debian.sources".to_string(), generated_sources(m, release))],
            None => {
                let mut files = Vec::new();
                for (path, text) in host_source_files() {
                    if let Some(keep) = source_for_release(&path, &text, release) {
                        files.push(keep);
                    }
                }
                if files.is_empty() {
                    files.push((
                        "debian.sources".to_string(),
                        generated_sources("http://deb.debian.org/debian", release),
                    ));
                }
                files
            }
        };
        for (name, text) in &sources {
            let dest = etc.join("sources.list.d").join(name);
            std::fs::write(&dest, text).map_err(|e| Error::io("write", &dest, e))?;
        }
        for (name, text) in host_acquire_settings() {
            let dest = etc.join("apt.conf.d").join(&name);
            std::fs::write(&dest, text).map_err(|e| Error::io("write", &dest, e))?;
        }
        let q = |p: PathBuf| p.to_string_lossy().replace('"', "");
        let config = root.join("apt.conf");
        let text = format!(
            "// Written by labctl repo build: a private APT configuration (no host hooks).\n\
             Dir::Etc \"{etc}\";\nDir::Etc::main \"apt.conf\";\nDir::Etc::parts \"apt.conf.d\";\n\
             Dir::Etc::sourcelist \"sources.list\";\nDir::Etc::sourceparts \"sources.list.d\";\n\
             Dir::Etc::preferences \"preferences\";\nDir::Etc::preferencesparts \"preferences.d\";\n\
             Dir::Etc::trusted \"/etc/apt/trusted.gpg\";\nDir::Etc::trustedparts \"/etc/apt/trusted.gpg.d\";\n\
             Dir::State \"{root}\";\nDir::State::lists \"lists\";\nDir::State::status \"{status}\";\n\
             Dir::Cache \"{cache}\";\nDir::Log \"{log}\";\n\
             Debug::NoLocking \"true\";\nAPT::Install-Recommends \"false\";\nAPT::Install-Suggests \"false\";\n\
             APT::Sandbox::User \"root\";\nAcquire::Languages \"none\";\n",
            etc = q(etc.clone()),
            root = q(root.to_path_buf()),
            status = q(root.join("status")),
            cache = q(root.join("cache")),
            log = q(root.join("log")),
        );
        std::fs::write(&config, text).map_err(|e| Error::io("write", &config, e))?;
        Ok(AptRoot {
            config,
            root: root.to_path_buf(),
        })
    }

    pub(super) fn cmd(&self, program: &str) -> Cmd {
        Cmd::new(program)
            .env("APT_CONFIG", self.config.to_string_lossy())
            .env("LC_ALL", "C")
    }
}

pub(super) fn host_source_files() -> Vec<(PathBuf, String)> {
    let mut v = Vec::new();
    if let Ok(rd) = std::fs::read_dir("/etc/apt/sources.list.d") {
        let mut paths: Vec<PathBuf> = rd.filter_map(|e| e.ok()).map(|e| e.path()).collect();
        paths.sort();
        for p in paths {
            if p.extension().is_some_and(|x| x == "sources" || x == "list") {
                if let Ok(t) = std::fs::read_to_string(&p) {
                    v.push((p, t));
                }
            }
        }
    }
    if let Ok(t) = std::fs::read_to_string("/etc/apt/sources.list") {
        v.push((PathBuf::from("/etc/apt/sources.list"), t));
    }
    v
}

/// A host source file to copy when it names `release` as a suite (as the node
/// image does) and every keyring it names exists: (file name, text).
pub fn source_for_release(path: &Path, text: &str, release: &str) -> Option<(String, String)> {
    let names_release = text
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .any(|l| l.split_whitespace().any(|w| w == release));
    if !names_release {
        return None;
    }
    static SIGNED: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"(?i)(?:Signed-By:|signed-by=)\s*(/[^\]\s]+)").unwrap());
    for c in SIGNED.captures_iter(text) {
        if !Path::new(&c[1]).is_file() {
            return None;
        }
    }
    let name = path.file_name()?.to_string_lossy().into_owned();
    let name = if name == "sources.list" {
        "host-sources.list".to_string()
    } else {
        name
    };
    Some((name, text.to_string()))
}

pub(super) fn generated_sources(mirror: &str, release: &str) -> String {
    format!(
        "Types: deb\nURIs: {mirror}\nSuites: {release} {release}-updates\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n"
    )
}

/// Host `apt.conf.d` files that only tune `Acquire::` (snapshot mirrors need
/// `Check-Valid-Until`), without hooks or extra index targets.
pub(super) fn host_acquire_settings() -> Vec<(String, String)> {
    let mut v = Vec::new();
    if let Ok(rd) = std::fs::read_dir("/etc/apt/apt.conf.d") {
        let mut paths: Vec<PathBuf> = rd.filter_map(|e| e.ok()).map(|e| e.path()).collect();
        paths.sort();
        for p in paths {
            let Ok(t) = std::fs::read_to_string(&p) else {
                continue;
            };
            if t.contains("Acquire::") && !t.contains("Invoke") && !t.contains("IndexTargets") {
                v.push((p.file_name().unwrap().to_string_lossy().into_owned(), t));
            }
        }
    }
    v
}

/// One package of the closure.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Pkg {
    pub name: String,
    pub version: String,
    pub arch: String,
}

/// `Inst NAME [OLD] (VERSION ORIGIN [ARCH])` lines of `apt-get -s install`.
pub fn parse_inst_lines(text: &str) -> Vec<Pkg> {
    static INST: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"^Inst (\S+) (?:\[[^\]]*\] )?\((\S+) .*\[([^\]]+)\]\)").unwrap()
    });
    let mut v: Vec<Pkg> = text
        .lines()
        .filter_map(|l| INST.captures(l))
        .map(|c| Pkg {
            name: c[1].split(':').next().unwrap().to_string(),
            version: c[2].to_string(),
            arch: c[3].to_string(),
        })
        .collect();
    v.sort();
    v.dedup();
    v
}

pub(super) fn resolve(
    apt: &AptRoot,
    runner: &dyn Runner,
    requests: &[Request],
) -> Result<Vec<Pkg>> {
    let out = runner.output(
        &apt.cmd("apt-get")
            .args([
                "install",
                "--simulate",
                "-q",
                "--no-install-recommends",
                "--",
            ])
            .args(requests.iter().map(|r| r.package.clone())),
    )?;
    if !out.success() {
        return Err(resolve_error(requests, &out.stdout, &out.stderr));
    }
    let pkgs = parse_inst_lines(&out.stdout);
    for r in requests {
        if !pkgs.iter().any(|p| p.name == r.package) {
            // A virtual package APT satisfied with a provider is fine; say so.
            eprintln!(
                "repo: note: `{}` is provided by another package of the closure",
                r.package
            );
        }
    }
    Ok(pkgs)
}

/// A clear error naming the packages APT could not find or install.
pub fn resolve_error(requests: &[Request], stdout: &str, stderr: &str) -> Error {
    static NOT_FOUND: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"(?m)^E: (?:Unable to locate package (\S+)|Package '([^']+)' has no installation candidate)").unwrap()
    });
    let mut bad: Vec<String> = Vec::new();
    for c in NOT_FOUND.captures_iter(stderr) {
        let p = c.get(1).or(c.get(2)).unwrap().as_str().to_string();
        if !bad.contains(&p) {
            bad.push(p);
        }
    }
    let tail: String = stdout
        .lines()
        .chain(stderr.lines())
        .filter(|l| l.starts_with("E:") || l.starts_with(' '))
        .collect::<Vec<_>>()
        .join("\n");
    if bad.is_empty() {
        return Error::Tool {
            command: "apt-get install --simulate (dependency closure)".into(),
            code: Some(100),
            stderr: tail,
            hint: Some(
                "APT cannot install these packages together on the release; see its message above"
                    .into(),
            ),
        };
    }
    let from = |p: &str| {
        requests
            .iter()
            .find(|r| r.package == p)
            .map(|r| r.from.join(", "))
            .unwrap_or_default()
    };
    let list = bad
        .iter()
        .map(|p| format!("`{p}` (asked for by {})", from(p)))
        .collect::<Vec<_>>()
        .join(", ");
    Error::env(
        format!("no such package in the Debian archive for this repository: {list}"),
        Some("check the name (`apt-cache policy NAME` on a Debian host of the same release), then fix the role.toml or the node variable".into()),
    )
}

/// What the archive says about one package version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveInfo {
    pub pkg: Pkg,
    pub size: u64,
    pub sha256: String,
}

/// Stanzas of `apt-cache show`: Package, Version, Architecture, Size, SHA256.
pub fn parse_show(text: &str) -> Vec<ArchiveInfo> {
    let mut out = Vec::new();
    for stanza in text.split("\n\n") {
        let mut f: BTreeMap<&str, &str> = BTreeMap::new();
        for l in stanza.lines() {
            if let Some((k, v)) = l.split_once(": ") {
                if !l.starts_with(' ') {
                    f.insert(k, v.trim());
                }
            }
        }
        if let (Some(n), Some(v), Some(a), Some(s), Some(h)) = (
            f.get("Package"),
            f.get("Version"),
            f.get("Architecture"),
            f.get("Size"),
            f.get("SHA256"),
        ) {
            if let Ok(size) = s.parse() {
                out.push(ArchiveInfo {
                    pkg: Pkg {
                        name: n.to_string(),
                        version: v.to_string(),
                        arch: a.to_string(),
                    },
                    size,
                    sha256: h.to_lowercase(),
                });
            }
        }
    }
    out
}

pub(super) fn show(
    apt: &AptRoot,
    runner: &dyn Runner,
    closure: &[Pkg],
) -> Result<Vec<ArchiveInfo>> {
    if closure.is_empty() {
        return Ok(Vec::new());
    }
    let out = runner.run(
        &apt.cmd("apt-cache")
            .args(["show", "--"])
            .args(closure.iter().map(|p| format!("{}={}", p.name, p.version))),
    )?;
    let all = parse_show(&out.stdout);
    let mut v = Vec::new();
    for p in closure {
        match all.iter().find(|i| i.pkg == *p) {
            Some(i) => v.push(i.clone()),
            None => {
                return Err(Error::env(
                    format!(
                        "the archive has no record of {} {} ({})",
                        p.name, p.version, p.arch
                    ),
                    None,
                ))
            }
        }
    }
    Ok(v)
}

/// File name in `pool/`: Debian's `NAME_VERSION_ARCH.deb` without the epoch
/// (a `:` or `%3a` in a URL path does not survive every web server), or a
/// name made of the hash when that would not fit the role upload.
pub fn pool_name(i: &ArchiveInfo) -> String {
    let version = i
        .pkg
        .version
        .split_once(':')
        .map(|(_, v)| v)
        .unwrap_or(&i.pkg.version);
    let name = format!("{}_{}_{}.deb", i.pkg.name, version, i.pkg.arch);
    let budget = MAX_UPLOAD_PATH - format!("{SERVER_ROLE}/{ROLE_SUBDIR}/pool/").len();
    if name.len() <= budget {
        name
    } else {
        format!("{}.deb", &i.sha256[..40])
    }
}

pub(super) fn download(
    apt: &AptRoot,
    runner: &dyn Runner,
    missing: &[&ArchiveInfo],
    pool: &Path,
) -> Result<()> {
    let dl = apt.root.join("download");
    let _ = std::fs::remove_dir_all(&dl);
    mkdir(&dl, 0o755)?;
    runner
        .run(
            &apt.cmd("apt-get")
                .args(["download", "-q", "--"])
                .args(
                    missing
                        .iter()
                        .map(|i| format!("{}={}", i.pkg.name, i.pkg.version)),
                )
                .dir(&dl),
        )
        .map_err(|e| with_hint(e, "the host's Debian mirror must answer"))?;
    let mut by_hash: BTreeMap<String, PathBuf> = BTreeMap::new();
    for e in read_dir(&dl)? {
        by_hash.insert(sha256_file(&e.path())?, e.path());
    }
    for i in missing {
        let Some(src) = by_hash.get(&i.sha256) else {
            return Err(Error::env(
                format!(
                    "downloaded {} {} does not match the archive's SHA256 {}",
                    i.pkg.name, i.pkg.version, i.sha256
                ),
                None,
            ));
        };
        let dest = pool.join(pool_name(i));
        std::fs::rename(src, &dest)
            .or_else(|_| std::fs::copy(src, &dest).map(|_| ()))
            .map_err(|e| Error::io("write", &dest, e))?;
        set_mode(&dest, 0o644)?;
    }
    let _ = std::fs::remove_dir_all(&dl);
    Ok(())
}

// ------------------------------------------------------------------ Release
