//! `labctl image build --rpm-repo` for real, with the binary as a user runs it.
//!
//! The test makes its own small "installation ISO": two signing keys (A is
//! the distribution's, B a stranger's), a layout package and a busybox
//! package that requires it and has a post-install script (both signed with
//! A), an unsigned package and one signed with B, built with rpmbuild from
//! tests/fixtures/rpm/, signed with rpmsign and indexed with createrepo_c
//! into two repositories (as BaseOS and AppStream are). Then: the image
//! builds from both; `docker run` runs busybox from the packages and finds
//! the post-install script's file; `rpm --root` on the exported tree lists
//! the packages from /var/lib/rpm; the image survives `docker save`/`load`;
//! unsigned and wrongly signed packages, a package no repository has, a
//! folder without repodata/ and a missing key are refused; and no build
//! leaves anything behind (containers, temporary roots, loop devices,
//! mounts, gpg-agents, the host's own rpm database).
//!
//! Needs root, Docker, and Debian's rpm, createrepo-c, gnupg and
//! busybox-static (.ci/run and `labctl setup` install them). Run by hand under
//! the host-wide lock: `flock /tmp/labctl-e2e.lock cargo test --test rpm_image`.

mod common;
use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The test's repositories and keys, made once per run.
struct Iso {
    base: PathBuf,
    /// "BaseOS": labctl-layout (signed with A).
    repo_a: PathBuf,
    /// "AppStream": labctl-tools and a stand-in rpm 4.14.3 (A),
    /// labctl-unsigned, labctl-othersig (B).
    repo_b: PathBuf,
    key_a: PathBuf,
    /// Key A's id as rpm names it (gpg-pubkey-ID-...).
    key_a_id: String,
    /// The packages as rpmbuild left them: a folder of RPMs with no repodata/.
    loose: PathBuf,
}

fn run_ok(c: &mut Command) -> String {
    let out = c.output().unwrap_or_else(|e| panic!("{c:?}: {e}"));
    assert!(
        out.status.success(),
        "{c:?} failed ({:?}): {}{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn iso() -> &'static Iso {
    static ISO: OnceLock<Iso> = OnceLock::new();
    ISO.get_or_init(make_iso)
}

fn make_iso() -> Iso {
    for tool in [
        "rpmbuild",
        "rpmsign",
        "createrepo_c",
        "gpg",
        "gpgconf",
        "dnf",
    ] {
        assert!(
            labctl::exec::which(tool).is_some(),
            "{tool} is missing: apt-get install rpm dnf createrepo-c gnupg busybox-static (or labctl setup)"
        );
    }
    let ldd = Command::new("ldd").arg("/bin/busybox").output().unwrap();
    assert!(
        String::from_utf8_lossy(&ldd.stdout).contains("not a dynamic executable")
            || String::from_utf8_lossy(&ldd.stderr).contains("not a dynamic executable"),
        "/bin/busybox must be Debian's static one: apt-get install busybox-static"
    );
    let base = Path::new(env!("CARGO_TARGET_TMPDIR")).join("rpm-image-iso");
    let _ = std::fs::remove_dir_all(&base);
    let (home, gnupg, top) = (base.join("home"), base.join("gnupg"), base.join("rpmbuild"));
    std::fs::create_dir_all(&home).unwrap();
    std::fs::create_dir_all(&gnupg).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&gnupg, std::fs::Permissions::from_mode(0o700)).unwrap();
    // rpmbuild and rpmsign read ~/.rpmmacros: the test's own, never the host's.
    std::fs::write(
        home.join(".rpmmacros"),
        format!(
            "%_topdir {}\n%_dbpath /var/lib/rpm\n%__gpg /usr/bin/gpg\n%_gpg_path {}\n",
            top.display(),
            gnupg.display()
        ),
    )
    .unwrap();
    let cmd = |p: &str| {
        let mut c = Command::new(p);
        c.env("HOME", &home)
            .env("GNUPGHOME", &gnupg)
            .env("LC_ALL", "C.UTF-8");
        c
    };
    for who in ["a", "b"] {
        run_ok(cmd("gpg").args([
            "--batch",
            "--passphrase",
            "",
            "--quick-gen-key",
            &format!("labctl RPM test {who} <{who}@labctl.invalid>"),
            "ed25519",
            "sign",
            "never",
        ]));
        let armored =
            run_ok(cmd("gpg").args(["--armor", "--export", &format!("{who}@labctl.invalid")]));
        std::fs::write(base.join(format!("RPM-GPG-KEY-{who}")), armored).unwrap();
    }
    let fpr = run_ok(cmd("gpg").args(["--with-colons", "--fingerprint", "a@labctl.invalid"]));
    let key_a_id = fpr
        .lines()
        .find_map(|l| l.strip_prefix("fpr:"))
        .map(|l| l.trim_matches(':').to_lowercase())
        .map(|f| f[f.len() - 8..].to_string())
        .expect("key A's fingerprint");
    let specs = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/rpm");
    for s in ["labctl-layout", "labctl-tools"] {
        run_ok(
            cmd("rpmbuild")
                .args(["-bb", "--quiet"])
                .arg(specs.join(format!("{s}.spec"))),
        );
    }
    for (n, v) in [
        ("labctl-unsigned", "1.0"),
        ("labctl-othersig", "1.0"),
        ("rpm", "4.14.3"),
    ] {
        run_ok(
            cmd("rpmbuild")
                .args(["-bb", "--quiet", "--define", &format!("stray_name {n}")])
                .args(["--define", &format!("stray_version {v}")])
                .arg(specs.join("labctl-stray.spec")),
        );
    }
    let rpm = |n: &str| {
        let arch = if n == "labctl-tools" {
            "x86_64"
        } else {
            "noarch"
        };
        let dir = top.join("RPMS").join(arch);
        std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| {
                let f = p.file_name().unwrap().to_string_lossy().into_owned();
                f.strip_prefix(&format!("{n}-"))
                    .is_some_and(|v| v.starts_with(|c: char| c.is_ascii_digit()))
            })
            .unwrap_or_else(|| panic!("{n} not built in {}", dir.display()))
    };
    let (repo_a, repo_b) = (base.join("iso/BaseOS"), base.join("iso/AppStream"));
    for (repo, pkgs, signer) in [
        (&repo_a, vec!["labctl-layout"], Some("a")),
        (&repo_b, vec!["labctl-tools", "rpm"], Some("a")),
        (&repo_b, vec!["labctl-unsigned"], None),
        (&repo_b, vec!["labctl-othersig"], Some("b")),
    ] {
        std::fs::create_dir_all(repo).unwrap();
        for p in pkgs {
            let from = rpm(p);
            let to = repo.join(from.file_name().unwrap());
            std::fs::copy(&from, &to).unwrap();
            if let Some(s) = signer {
                run_ok(
                    cmd("rpmsign")
                        .args([
                            "--addsign",
                            "--define",
                            &format!("_gpg_name {s}@labctl.invalid"),
                        ])
                        .arg(&to),
                );
            }
        }
    }
    for repo in [&repo_a, &repo_b] {
        run_ok(cmd("createrepo_c").arg("-q").arg(repo));
    }
    // Signing started a gpg-agent for the test's keyring; end it, so what is
    // left afterwards is what labctl left.
    run_ok(
        cmd("gpgconf")
            .arg("--homedir")
            .arg(&gnupg)
            .args(["--kill", "gpg-agent"]),
    );
    // The agent exits a moment after gpgconf returns.
    let ours = gnupg.display().to_string();
    for _ in 0..100 {
        if !gpg_agents().iter().any(|l| l.contains(&ours)) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(
        !gpg_agents().iter().any(|l| l.contains(&ours)),
        "the test's own gpg-agent did not stop"
    );
    Iso {
        repo_a,
        repo_b,
        key_a: base.join("RPM-GPG-KEY-a"),
        key_a_id,
        loose: top.join("RPMS/noarch"),
        base,
    }
}

/// Running gpg-agents. An agent that exited but was not reaped (`<defunct>`:
/// PID 1 of a container may not reap) holds nothing and is not counted.
fn gpg_agents() -> Vec<String> {
    sh("ps -eo pid=,args= | grep '[g]pg-agent'")
        .lines()
        .map(|l| l.trim().to_string())
        .filter(|l| !l.ends_with("<defunct>"))
        .collect()
}

/// What a build could leave on the host besides what common::snapshot sees.
#[derive(Debug, PartialEq)]
struct Leftovers {
    host: HostSnapshot,
    temp_roots: Vec<String>,
    gpg_agents: Vec<String>,
    host_rpmdb: String,
}

fn leftovers() -> Leftovers {
    Leftovers {
        host: snapshot(&["labctl-rpm", "labctl-rpmtest"]),
        temp_roots: sh("ls -d /var/tmp/labctl-rpm-* 2>/dev/null")
            .lines()
            .map(String::from)
            .collect(),
        gpg_agents: gpg_agents(),
        // Debian's rpm defaults to ~/.rpmdb: the build must not write there.
        host_rpmdb: sh("ls -la --time-style=full-iso \"$HOME/.rpmdb\" 2>&1"),
    }
}

fn assert_nothing_left(before: &Leftovers, after: &Leftovers) {
    assert_clean(&before.host, &after.host);
    assert_eq!(
        before.temp_roots, after.temp_roots,
        "temporary roots left behind"
    );
    assert_eq!(
        before.gpg_agents, after.gpg_agents,
        "gpg-agents left behind"
    );
    assert_eq!(
        before.host_rpmdb, after.host_rpmdb,
        "the host's ~/.rpmdb was touched"
    );
}

fn tag(what: &str) -> String {
    format!("labctl-rpmtest-{what}:{}", std::process::id())
}

/// Removes the test's image and container on every way out of a test.
struct ImageGuard(String);

impl Drop for ImageGuard {
    fn drop(&mut self) {
        let _ = Command::new("docker")
            .args([
                "rm",
                "-f",
                &format!("labctl-rpmtest-export-{}", std::process::id()),
            ])
            .output();
        let _ = Command::new("docker").args(["rmi", "-f", &self.0]).output();
    }
}

/// Both repositories, key A, release 9, the image name and the packages.
fn args(t: &str, packages: &str) -> Vec<String> {
    let iso = iso();
    [
        "--rpm-repo",
        iso.repo_a.to_str().unwrap(),
        "--rpm-repo",
        iso.repo_b.to_str().unwrap(),
        "--gpg-key",
        iso.key_a.to_str().unwrap(),
        "--releasever",
        "9",
        "--tag",
        t,
        "--packages",
        packages,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

fn build_with(args: &[String]) -> std::process::Output {
    build(&args.iter().map(|s| s.as_str()).collect::<Vec<_>>())
}

fn build(args: &[&str]) -> std::process::Output {
    let dir = iso().base.clone();
    labctl(&dir, &[&["image", "build"], args].concat())
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn inspect(t: &str, format: &str) -> String {
    run_ok(Command::new("docker").args(["image", "inspect", "--format", format, t]))
}

fn image_exists(t: &str) -> bool {
    Command::new("docker")
        .args(["image", "inspect", t])
        .output()
        .unwrap()
        .status
        .success()
}

#[test]
fn builds_an_image_that_runs_its_packages_and_keeps_its_rpm_database() {
    let _g = serial();
    let iso = iso();
    let t = tag("ok");
    let _guard = ImageGuard(t.clone());
    let out_dir = workdir("labctl-rpmtest-out-");
    let saved = out_dir.path().join("image.tar");
    let before = leftovers();
    let started = std::time::Instant::now();
    let mut a = args(&t, "labctl-tools");
    a.extend(["--output".to_string(), saved.to_str().unwrap().to_string()]);
    let out = build_with(&a);
    let stdout = ok(&out);
    eprintln!("build took {:.1}s", started.elapsed().as_secs_f64());
    assert_nothing_left(&before, &leftovers());
    assert_eq!(stdout.lines().last(), Some(t.as_str()), "{stdout}");
    let err = stderr(&out);
    assert!(
        err.contains("2 packages installed, every one signed by the given key: labctl-layout-1.0-1.noarch labctl-tools-2.0-3.x86_64"),
        "{err}"
    );

    // The default command is the packages' shell; the release is labelled.
    let cfg = inspect(
        &t,
        "{{json .Config.Cmd}} {{index .Config.Labels \"labctl.rpm.releasever\"}}",
    );
    assert_eq!(cfg.trim(), "[\"/bin/sh\"] 9");
    run_ok(Command::new("docker").args(["run", "--rm", "--network", "none", &t]));
    // A program from the packages runs, and the post-install script ran
    // chrooted into the root at build time.
    let said = run_ok(Command::new("docker").args([
        "run",
        "--rm",
        "--network",
        "none",
        &t,
        "/bin/sh",
        "-c",
        "uname -s; cat /etc/labctl-tools.post; ls /var/cache/dnf | wc -l; ls /var/log",
    ]));
    assert_eq!(
        said, "Linux\npost-install of labctl-tools-2.0-3 ran as 0 on Linux\n0\n",
        "dnf's cache and logs are left out"
    );

    // The exported tree: rpm reads the packages from /var/lib/rpm.
    let tree = out_dir.path().join("tree");
    std::fs::create_dir(&tree).unwrap();
    let name = format!("labctl-rpmtest-export-{}", std::process::id());
    run_ok(Command::new("docker").args(["create", "--name", &name, &t]));
    run_ok(Command::new("sh").arg("-c").arg(format!(
        "docker export {name} | tar -x -C {}",
        tree.display()
    )));
    run_ok(Command::new("docker").args(["rm", &name]));
    assert!(tree.join("var/lib/rpm/rpmdb.sqlite").is_file());
    assert!(!tree.join("root/.rpmdb").exists());
    assert!(
        tree.join("var/lib/dnf/history.sqlite").is_file(),
        "dnf's history stays"
    );
    let home = out_dir.path().join("home");
    std::fs::create_dir(&home).unwrap();
    let listed = run_ok(
        Command::new("rpm")
            .env("HOME", &home)
            .arg("--root")
            .arg(&tree)
            .args([
                "--dbpath",
                "/var/lib/rpm",
                "-qa",
                "--qf",
                "%{NAME}-%{VERSION}-%{RELEASE}.%{ARCH} %|DSAHEADER?{%{DSAHEADER:pgpsig}}:{%{RSAHEADER:pgpsig}}|\\n",
            ]),
    );
    let mut lines: Vec<&str> = listed.lines().collect();
    lines.sort();
    assert_eq!(lines.len(), 3, "{listed}");
    assert!(
        lines[0].starts_with(&format!("gpg-pubkey-{}-", iso.key_a_id)),
        "{listed}"
    );
    for (l, pkg) in lines[1..]
        .iter()
        .zip(["labctl-layout-1.0-1.noarch", "labctl-tools-2.0-3.x86_64"])
    {
        assert!(l.starts_with(&format!("{pkg} ")), "{listed}");
        assert!(
            l.contains("Key ID ") && l.ends_with(&iso.key_a_id),
            "signed with A: {listed}"
        );
    }

    // --output: the image moves offline with docker save/load.
    assert!(saved.is_file());
    run_ok(Command::new("docker").args(["rmi", &t]));
    let loaded = run_ok(Command::new("docker").arg("load").arg("-i").arg(&saved));
    assert!(loaded.contains(&format!("Loaded image: {t}")), "{loaded}");
    let said = run_ok(Command::new("docker").args([
        "run",
        "--rm",
        "--network",
        "none",
        &t,
        "cat",
        "/etc/labctl-tools.post",
    ]));
    assert!(said.starts_with("post-install of labctl-tools"), "{said}");
}

#[test]
fn unsigned_and_wrongly_signed_packages_are_refused_and_nothing_turns_the_check_off() {
    let _g = serial();
    let t = tag("refused");
    let _guard = ImageGuard(t.clone());
    let before = leftovers();
    for (pkgs, says) in [
        ("labctl-tools,labctl-unsigned", "error: package labctl-unsigned-1.0-1.noarch is not signed; refused (GPG checks are always on)"),
        ("labctl-othersig", "error: package labctl-othersig-1.0-1.noarch is not signed by the --gpg-key key; refused (GPG checks are always on)"),
    ] {
        let out = build_with(&args(&t, pkgs));
        assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
        assert!(stderr(&out).contains(says), "{}", stderr(&out));
        assert!(stderr(&out).contains("hint: give the key that signed"), "{}", stderr(&out));
        assert!(!image_exists(&t), "a refused build imports nothing");
    }
    assert_nothing_left(&before, &leftovers());
    // No option turns GPG checks off, and dnf's own cannot be slipped in.
    for (extra, says) in [
        (&["--nogpgcheck"][..], "unexpected argument '--nogpgcheck'"),
        (
            &["--setopt", "gpgcheck=0"],
            "unexpected argument '--setopt'",
        ),
        (
            &["--packages=--nogpgcheck"],
            "error: --packages \"--nogpgcheck\": expected a package name",
        ),
    ] {
        let mut a = args(&t, "labctl-othersig");
        a.extend(extra.iter().map(|s| s.to_string()));
        let out = build_with(&a);
        assert_eq!(out.status.code(), Some(2), "{extra:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(says), "{extra:?}: {}", stderr(&out));
        assert!(!image_exists(&t));
    }
}

#[test]
fn missing_packages_repositories_and_keys_are_named() {
    let _g = serial();
    let iso = iso();
    let t = tag("missing");
    let _guard = ImageGuard(t.clone());
    let (a, b, k) = (
        iso.repo_a.to_str().unwrap(),
        iso.repo_b.to_str().unwrap(),
        iso.key_a.to_str().unwrap(),
    );
    let loose = iso.loose.to_str().unwrap();
    let nokey = iso.base.join("RPM-GPG-KEY-none");
    let nokey = nokey.to_str().unwrap();
    let before = leftovers();
    for (args, code, says) in [
        (
            // Relative to the working directory (the ISO's folder), as users type them.
            vec!["--rpm-repo", "iso/BaseOS", "--rpm-repo", "iso/AppStream", "--gpg-key", "RPM-GPG-KEY-a", "--packages", "labctl-tools,nosuch-pkg,also-missing"],
            2,
            "error: not in the repositories: nosuch-pkg, also-missing",
        ),
        (
            // AppStream alone: the layout package it requires is in BaseOS.
            vec!["--rpm-repo", b, "--gpg-key", k, "--packages", "labctl-tools"],
            2,
            "error: labctl-tools-2.0-3.x86_64 needs labctl-layout >= 1.0, which no repository provides",
        ),
        (
            vec!["--rpm-repo", a, "--rpm-repo", loose, "--gpg-key", k, "--packages", "labctl-tools"],
            2,
            "not an RPM repository (no repodata/repomd.xml in it)",
        ),
        (
            vec!["--rpm-repo", a, "--gpg-key", nokey, "--packages", "labctl-layout"],
            2,
            "error: --gpg-key",
        ),
    ] {
        let mut all = args.clone();
        all.extend(["--releasever", "9", "--tag", &t]);
        let out = build(&all);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(says), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains("hint: "), "{}", stderr(&out));
        assert!(!image_exists(&t));
    }
    assert_nothing_left(&before, &leftovers());
}

#[test]
fn an_image_whose_own_rpm_cannot_read_sqlite_is_built_with_a_warning() {
    let _g = serial();
    let t = tag("oldrpm");
    let _guard = ImageGuard(t.clone());
    let before = leftovers();
    // A stand-in for RHEL 8's rpm (4.14.3) and nothing else: no shell either.
    let out = build_with(&args(&t, "rpm"));
    ok(&out);
    assert_nothing_left(&before, &leftovers());
    let err = stderr(&out);
    assert!(
        err.contains("warning: the image's own rpm is 4.14.3, which cannot read the sqlite database Debian's rpm writes"),
        "{err}"
    );
    assert!(
        err.contains("command none: no shell among the packages"),
        "{err}"
    );
    let cmd = inspect(&t, "{{json .Config.Cmd}}");
    assert_eq!(cmd.trim(), "null", "no shell, no default command");
}
