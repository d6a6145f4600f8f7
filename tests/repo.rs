//! `labctl::repo::build` for real on this host: the testnodes lab's offline
//! repository is downloaded from the host's Debian mirror, indexed and signed;
//! then APT in a private root (no host configuration) trusts it through
//! `Signed-By` alone, resolves and fetches the whole closure from it, and
//! refuses it with the wrong key or a tampered index. A second build downloads
//! nothing and re-signs nothing.
//!
//! Needs root-free tools only: apt, dpkg-dev, gnupg, gpgv, gzip, and the host's
//! Debian mirror. `LABCTL_REPO_TEST_KEEP=DIR` builds into DIR and keeps it (to
//! serve it from a node by hand).

use labctl::exec::{Cmd, Output, Runner, System};
use labctl::repo;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The real runner, recording every command line.
#[derive(Default)]
struct Recording {
    calls: Mutex<Vec<String>>,
}

impl Runner for Recording {
    fn output(&self, cmd: &Cmd) -> labctl::Result<Output> {
        self.calls.lock().unwrap().push(cmd.display());
        System.output(cmd)
    }
}

impl Recording {
    fn ran(&self, prefix: &str) -> Vec<String> {
        self.calls
            .lock()
            .unwrap()
            .iter()
            .filter(|c| c.starts_with(prefix))
            .cloned()
            .collect()
    }
}

fn run(cmd: &mut std::process::Command) -> std::process::Output {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    eprintln!(
        "$ {cmd:?}\n--- exit {:?}\n{}{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn text(o: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// A private APT root whose only source is `uri` (a flat repository) signed
/// by `keyring`. Nothing of the host's APT configuration is read.
struct Apt {
    config: PathBuf,
    root: PathBuf,
}

impl Apt {
    fn new(root: &Path, uri: &str, keyring: &Path) -> Apt {
        for d in [
            "etc/sources.list.d",
            "etc/apt.conf.d",
            "etc/preferences.d",
            "lists/partial",
            "cache/archives/partial",
        ] {
            std::fs::create_dir_all(root.join(d)).unwrap();
        }
        std::fs::write(root.join("status"), "").unwrap();
        std::fs::write(
            root.join("etc/sources.list.d/lab.sources"),
            format!(
                "Types: deb\nURIs: {uri}\nSuites: ./\nSigned-By: {}\n",
                keyring.display()
            ),
        )
        .unwrap();
        let r = root.display();
        let config = root.join("apt.conf");
        std::fs::write(
            &config,
            format!(
                "Dir::Etc \"{r}/etc\";\nDir::Etc::main \"apt.conf\";\nDir::Etc::parts \"apt.conf.d\";\n\
                 Dir::Etc::sourcelist \"sources.list\";\nDir::Etc::sourceparts \"sources.list.d\";\n\
                 Dir::Etc::trusted \"{r}/etc/trusted.gpg\";\nDir::Etc::trustedparts \"{r}/etc/trusted.gpg.d\";\n\
                 Dir::Etc::preferences \"preferences\";\nDir::Etc::preferencesparts \"preferences.d\";\n\
                 Dir::State \"{r}\";\nDir::State::lists \"lists\";\nDir::State::status \"{r}/status\";\n\
                 Dir::Cache \"{r}/cache\";\nDir::Log \"{r}/log\";\nDebug::NoLocking \"true\";\n\
                 APT::Sandbox::User \"root\";\nAcquire::Languages \"none\";\n"
            ),
        )
        .unwrap();
        Apt {
            config,
            root: root.to_path_buf(),
        }
    }

    fn cmd(&self, program: &str) -> std::process::Command {
        let mut c = std::process::Command::new(program);
        c.env("APT_CONFIG", &self.config).env("LC_ALL", "C");
        c
    }
}

fn sha256_hex(b: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(b))
}

/// The gpg-agents labctl started that are still alive, after giving them up
/// to 5 s to exit: `gpgconf --kill` asks the agent to stop, and on a loaded
/// machine it can still be in /proc for a moment afterwards.
fn lingering_gpg_agents(prefix: &str) -> Vec<String> {
    let mut left = live_gpg_agents(prefix);
    for _ in 0..50 {
        if left.is_empty() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
        left = live_gpg_agents(prefix);
    }
    left
}

fn live_gpg_agents(prefix: &str) -> Vec<String> {
    let mut v = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().filter_map(|e| e.ok()) {
        let cmd =
            String::from_utf8_lossy(&std::fs::read(e.path().join("cmdline")).unwrap_or_default())
                .replace('\0', " ");
        let stat = std::fs::read_to_string(e.path().join("stat")).unwrap_or_default();
        let zombie = stat
            .rsplit(')')
            .next()
            .is_some_and(|r| r.trim_start().starts_with('Z'));
        if cmd.contains("gpg-agent") && cmd.contains(prefix) && !zombie {
            v.push(cmd);
        }
    }
    v
}

#[test]
fn testnodes_repository_is_complete_signed_and_trusted_by_apt() {
    let tmp = tempfile::Builder::new()
        .prefix("labctl-repo-test-")
        .tempdir()
        .unwrap();
    let out_dir = match std::env::var_os("LABCTL_REPO_TEST_KEEP") {
        Some(d) => PathBuf::from(d),
        None => tmp.path().join("repo"),
    };
    let loaded = labctl::load::load("testnodes").unwrap();
    let lab = &loaded.lab;
    let wanted: Vec<String> = repo::requested(lab, &loaded.roles)
        .unwrap()
        .into_iter()
        .map(|r| r.package)
        .collect();
    assert!(
        wanted.contains(&"tree".to_string()),
        "offline_packages of the test nodes: {wanted:?}"
    );

    // ---- first build (a kept folder from an earlier run is brought up to date)
    let fresh = !out_dir.exists();
    let r1 = Recording::default();
    let info = repo::build(lab, &loaded.roles, &out_dir, &r1).unwrap();
    let public = out_dir.join("public").canonicalize().unwrap();
    assert_eq!(info.dir.canonicalize().unwrap(), public);
    for f in [
        "InRelease",
        "Release",
        "Release.gpg",
        "Packages",
        "Packages.gz",
        "lab-repo.gpg",
        "lab-repo.asc",
    ] {
        assert!(public.join(f).is_file(), "{f} missing");
    }
    let debs: Vec<String> = std::fs::read_dir(public.join("pool"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(info.packages, debs.len());
    for p in &wanted {
        assert!(
            debs.iter().any(|d| d.starts_with(&format!("{p}_"))),
            "{p} not in the pool: {debs:?}"
        );
    }
    // The dependency closure: tree needs libc6, which needs libgcc-s1.
    for dep in ["libc6_", "libgcc-s1_"] {
        assert!(
            debs.iter().any(|d| d.starts_with(dep)),
            "{dep} not in the pool: {debs:?}"
        );
    }
    assert!(
        !debs.iter().any(|d| d.contains("%3a") || d.contains(':')),
        "epochs stay out of file names: {debs:?}"
    );
    let total: u64 = walk_sizes(&public);
    assert_eq!(info.bytes, total);
    eprintln!(
        "repository: {} packages, {} bytes, key {}",
        info.packages, info.bytes, info.key_fingerprint
    );

    // The key: made once, private part private, fingerprint recorded.
    let key = out_dir.join("key");
    assert_eq!(
        std::fs::read_to_string(key.join("fingerprint"))
            .unwrap()
            .trim(),
        info.key_fingerprint
    );
    assert!(
        info.key_fingerprint.len() == 40
            && info.key_fingerprint.chars().all(|c| c.is_ascii_hexdigit())
    );
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
        0o700
    );
    assert_eq!(
        std::fs::metadata(key.join("private.gpg"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o600
    );
    assert!(
        !walk_names(&public).iter().any(|n| n.contains("private")),
        "no private key in the served folder"
    );
    assert_eq!(
        std::fs::read(key.join("public.gpg")).unwrap(),
        std::fs::read(public.join("lab-repo.gpg")).unwrap()
    );
    assert_eq!(
        r1.ran("gpg --batch --no-tty --pinentry-mode loopback --passphrase '' --quick-gen-key")
            .len(),
        usize::from(fresh)
    );
    let left = lingering_gpg_agents("labctl-gpg-");
    assert!(left.is_empty(), "gpg-agent left running: {left:?}");

    // Release names the indexes with their hashes.
    let release = std::fs::read_to_string(public.join("Release")).unwrap();
    for f in ["Packages", "Packages.gz"] {
        let b = std::fs::read(public.join(f)).unwrap();
        let line = format!(" {} {:>16} {f}\n", sha256_hex(&b), b.len());
        assert!(
            release.contains(&line),
            "Release lacks {line:?}:\n{release}"
        );
    }
    let packages = std::fs::read_to_string(public.join("Packages")).unwrap();
    assert_eq!(
        packages.matches("\nFilename: pool/").count()
            + usize::from(packages.starts_with("Filename: pool/")),
        info.packages
    );

    // ---- signatures verify with the lab key, and only with it
    let keyring = public.join("lab-repo.gpg");
    let o = run(std::process::Command::new("gpgv")
        .arg("--keyring")
        .arg(&keyring)
        .arg(public.join("InRelease")));
    assert!(o.status.success(), "InRelease: {}", text(&o));
    assert!(
        text(&o).contains("Good signature from \"labctl lab testnodes package repository"),
        "{}",
        text(&o)
    );
    let o = run(std::process::Command::new("gpgv")
        .arg("--keyring")
        .arg(&keyring)
        .arg(public.join("Release.gpg"))
        .arg(public.join("Release")));
    assert!(o.status.success(), "Release.gpg: {}", text(&o));
    let o = run(std::process::Command::new("gpgv")
        .arg("--keyring")
        .arg("/usr/share/keyrings/debian-archive-keyring.gpg")
        .arg(public.join("InRelease")));
    assert!(!o.status.success(), "verifies with another key");

    // ---- APT trusts it through Signed-By alone
    // copy: (not file:) so APT copies every file and checks it against the index.
    let uri = format!("copy:{}/", public.display());
    let apt = Apt::new(&tmp.path().join("apt-ok"), &uri, &keyring);
    let o = run(apt.cmd("apt-get").arg("update"));
    let t = text(&o);
    assert!(o.status.success(), "apt-get update: {t}");
    assert!(
        !t.lines()
            .any(|l| l.starts_with("W:") || l.starts_with("E:") || l.starts_with("Err:")),
        "apt-get update warned: {t}"
    );
    let o = run(apt.cmd("apt-cache").args(["policy", "tree"]));
    let t = text(&o);
    assert!(
        t.contains(&format!("500 copy:{} ./ Packages", public.display())),
        "policy: {t}"
    );
    let o = run(apt.cmd("apt-cache").arg("policy"));
    let t = text(&o);
    assert!(
        t.contains("release o=labctl,a=testnodes,n=testnodes,l=labctl lab testnodes"),
        "policy: {t}"
    );
    // The closure is complete: an empty system installs the packages from the
    // repository alone (Essential packages aside, which every system has).
    let o = run(apt
        .cmd("apt-get")
        .args(["install", "--simulate", "--no-install-recommends"])
        .args(&wanted));
    assert!(o.status.success(), "closure incomplete: {}", text(&o));
    // ... and every file it needs downloads and matches the signed index.
    let o = run(apt
        .cmd("apt-get")
        .args([
            "install",
            "--download-only",
            "-y",
            "--no-install-recommends",
        ])
        .args(&wanted));
    assert!(
        o.status.success(),
        "download from the repository: {}",
        text(&o)
    );
    let fetched = std::fs::read_dir(apt.root.join("cache/archives"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .ends_with(".deb")
        })
        .count();
    assert_eq!(
        fetched, info.packages,
        "every package of the repository is in the closure of the requested ones"
    );

    // ---- wrong key: refused
    let apt = Apt::new(
        &tmp.path().join("apt-wrong-key"),
        &uri,
        Path::new("/usr/share/keyrings/debian-archive-keyring.gpg"),
    );
    let o = run(apt.cmd("apt-get").arg("update"));
    let t = text(&o);
    assert!(
        !o.status.success() && (t.contains("NO_PUBKEY") || t.contains("not signed")),
        "a wrong key was accepted: {t}"
    );
    let o = run(apt.cmd("apt-get").args(["install", "--simulate", "tree"]));
    assert!(
        !o.status.success(),
        "packages usable without the key: {}",
        text(&o)
    );

    // ---- tampered index: refused
    let copy = tmp.path().join("tampered");
    copy_tree(&public, &copy);
    let mut p = std::fs::read_to_string(copy.join("Packages")).unwrap();
    p = p.replacen("Package: tree\n", "Package: tree\nDepends: evil\n", 1);
    std::fs::write(copy.join("Packages"), p).unwrap();
    std::fs::remove_file(copy.join("Packages.gz")).unwrap();
    let apt = Apt::new(
        &tmp.path().join("apt-tampered"),
        &format!("copy:{}/", copy.display()),
        &copy.join("lab-repo.gpg"),
    );
    let o = run(apt.cmd("apt-get").arg("update"));
    let t = text(&o);
    assert!(
        !o.status.success()
            || t.lines()
                .any(|l| l.starts_with("E:") || l.starts_with("W:") || l.starts_with("Err:")),
        "a tampered index was accepted: {t}"
    );
    let o = run(apt.cmd("apt-cache").args(["show", "tree"]));
    assert!(
        !String::from_utf8_lossy(&o.stdout).contains("Depends: evil"),
        "tampered record visible"
    );

    // ---- the role upload
    let files = repo::role_files(&public).unwrap();
    assert!(files.contains_key("repo/InRelease") && files.contains_key("repo/lab-repo.gpg"));
    assert_eq!(
        files.keys().filter(|k| k.starts_with("repo/pool/")).count(),
        info.packages
    );
    assert!(files.keys().all(|k| format!("aptrepo/{k}").len() <= 99));

    // ---- second build: cached, nothing downloaded, nothing re-signed
    let before = std::fs::read(public.join("InRelease")).unwrap();
    let r2 = Recording::default();
    let again = repo::build(lab, &loaded.roles, &out_dir, &r2).unwrap();
    assert_eq!(again, info);
    assert!(
        r2.ran("apt-get download").is_empty(),
        "downloaded again: {:?}",
        r2.ran("apt-get download")
    );
    assert!(
        r2.calls
            .lock()
            .unwrap()
            .iter()
            .all(|c| !c.contains("--quick-gen-key") && !c.contains("--clearsign")),
        "re-keyed or re-signed"
    );
    assert_eq!(
        std::fs::read(public.join("InRelease")).unwrap(),
        before,
        "InRelease changed without a change"
    );

    // ---- a damaged .deb in the pool is fetched again
    let victim = public
        .join("pool")
        .join(debs.iter().find(|d| d.starts_with("tree_")).unwrap());
    std::fs::write(&victim, b"not a package").unwrap();
    let r3 = Recording::default();
    let fixed = repo::build(lab, &loaded.roles, &out_dir, &r3).unwrap();
    assert_eq!(fixed, info);
    assert_eq!(r3.ran("apt-get download").len(), 1);
    assert_eq!(
        std::fs::read(public.join("InRelease")).unwrap(),
        before,
        "same content, same signature"
    );

    // ---- a damaged index is written and signed again (with the same key)
    std::fs::write(public.join("Packages.gz"), b"junk").unwrap();
    let r4 = Recording::default();
    assert_eq!(
        repo::build(lab, &loaded.roles, &out_dir, &r4).unwrap(),
        info
    );
    assert_eq!(
        r4.calls
            .lock()
            .unwrap()
            .iter()
            .filter(|c| c.contains("--clearsign"))
            .count(),
        1
    );
    assert!(r4
        .calls
        .lock()
        .unwrap()
        .iter()
        .all(|c| !c.contains("--quick-gen-key")));
    let gz = std::fs::read(public.join("Packages.gz")).unwrap();
    assert!(std::fs::read_to_string(public.join("Release"))
        .unwrap()
        .contains(&sha256_hex(&gz)));
    let o = run(std::process::Command::new("gpgv")
        .arg("--keyring")
        .arg(&keyring)
        .arg(public.join("InRelease")));
    assert!(o.status.success());
    let left = lingering_gpg_agents("labctl-gpg-");
    assert!(left.is_empty(), "gpg-agent left running: {left:?}");
}

#[test]
fn a_package_that_does_not_exist_is_named() {
    let roles = labctl::roles::RoleSet::load(None).unwrap();
    let src = labctl::diag::SourceFile::new(
        "bad.toml",
        r#"
name = "badrepo"
[network]
subnet = "192.168.156.0/24"
[[node]]
name = "repo"
ip = "192.168.156.10"
roles = ["aptrepo"]
[[node]]
name = "n"
count = 2
ip = "192.168.156.31"
roles = ["offline-apt"]
vars = { offline_packages = "tree labctl-no-such-package" }
"#,
    );
    let loaded = labctl::load::load_source(src, None, roles).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let err = repo::build(
        &loaded.lab,
        &loaded.roles,
        &tmp.path().join("repo"),
        &System,
    )
    .unwrap_err();
    let msg = err.render();
    eprintln!("{msg}");
    assert!(msg.contains("`labctl-no-such-package` (asked for by offline_packages of node n1, offline_packages of node n2)"), "{msg}");
    assert!(!msg.contains("`tree`"), "{msg}");
    // Nothing was downloaded.
    assert_eq!(
        std::fs::read_dir(tmp.path().join("repo/public/pool"))
            .unwrap()
            .count(),
        0
    );
}

fn walk_sizes(d: &Path) -> u64 {
    let mut n = 0;
    for e in std::fs::read_dir(d).unwrap() {
        let e = e.unwrap();
        let m = e.metadata().unwrap();
        if m.is_dir() {
            n += walk_sizes(&e.path());
        } else {
            n += m.len();
        }
    }
    n
}

fn walk_names(d: &Path) -> Vec<String> {
    let mut v = Vec::new();
    for e in std::fs::read_dir(d).unwrap() {
        let e = e.unwrap();
        v.push(e.file_name().to_string_lossy().into_owned());
        if e.metadata().unwrap().is_dir() {
            v.extend(walk_names(&e.path()));
        }
    }
    v
}

fn copy_tree(src: &Path, dst: &Path) {
    std::fs::create_dir_all(dst).unwrap();
    for e in std::fs::read_dir(src).unwrap() {
        let e = e.unwrap();
        if e.metadata().unwrap().is_dir() {
            copy_tree(&e.path(), &dst.join(e.file_name()));
        } else {
            std::fs::copy(e.path(), dst.join(e.file_name())).unwrap();
        }
    }
}
