//! Refusals before anything runs (rstest table), and the command sequence of
//! the install step recorded with `exec::Recorder` (command-sequence tests:
//! the real runs are in tests/rpm_image.rs).

use super::*;
use crate::exec::Recorder;
use rstest::rstest;

const KEY: &str =
    "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmDMEZ...\n-----END PGP PUBLIC KEY BLOCK-----\n";

/// A folder with two "repositories" (repodata/repomd.xml only), a folder
/// that is none, an armored key and a binary one.
struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        for r in ["BaseOS", "AppStream"] {
            std::fs::create_dir_all(dir.path().join(r).join("repodata")).unwrap();
            std::fs::write(dir.path().join(r).join("repodata/repomd.xml"), "<repomd/>").unwrap();
        }
        std::fs::create_dir_all(dir.path().join("Packages")).unwrap();
        std::fs::write(dir.path().join("RPM-GPG-KEY-test"), KEY).unwrap();
        std::fs::write(dir.path().join("key.gpg"), [0x99u8, 0x01, 0x0d]).unwrap();
        Fixture { dir }
    }

    fn p(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn spec(&self) -> Spec {
        Spec {
            repos: vec![self.p("BaseOS"), self.p("AppStream")],
            keys: vec![self.p("RPM-GPG-KEY-test")],
            releasever: "9".into(),
            packages: vec!["bash".into(), "coreutils-single".into()],
            tag: "my-rhel:9".into(),
            output: None,
        }
    }
}

#[rstest]
#[case::repo_without_repodata(|s: &mut Spec, f: &Fixture| s.repos.push(f.p("Packages")), "--rpm-repo", "not an RPM repository (no repodata/repomd.xml in it)")]
#[case::repo_missing(|s: &mut Spec, f: &Fixture| s.repos = vec![f.p("nope")], "--rpm-repo", "no such folder")]
#[case::repo_twice(|s: &mut Spec, f: &Fixture| s.repos.push(f.p("BaseOS/../BaseOS")), "--rpm-repo", "is given twice")]
#[case::key_missing(|s: &mut Spec, f: &Fixture| s.keys = vec![f.p("RPM-GPG-KEY-nope")], "--gpg-key", "no such file")]
#[case::key_binary(|s: &mut Spec, f: &Fixture| s.keys = vec![f.p("key.gpg")], "--gpg-key", "not an ASCII-armored OpenPGP public key")]
#[case::key_folder(|s: &mut Spec, f: &Fixture| s.keys = vec![f.p("BaseOS")], "--gpg-key", "no such file")]
#[case::no_packages(|s: &mut Spec, _: &Fixture| s.packages.clear(), "--packages", "at least one package")]
#[case::package_option(|s: &mut Spec, _: &Fixture| s.packages.push("--nogpgcheck".into()), "--packages \"--nogpgcheck\"", "expected a package name")]
#[case::package_space(|s: &mut Spec, _: &Fixture| s.packages.push("bash vim".into()), "--packages \"bash vim\"", "expected a package name")]
#[case::package_quote(|s: &mut Spec, _: &Fixture| s.packages.push("a'b".into()), "--packages", "expected a package name")]
#[case::package_empty(|s: &mut Spec, _: &Fixture| s.packages.push(String::new()), "--packages \"\"", "expected a package name")]
#[case::releasever_empty(|s: &mut Spec, _: &Fixture| s.releasever.clear(), "--releasever \"\"", "expected a release version")]
#[case::releasever_path(|s: &mut Spec, _: &Fixture| s.releasever = "../9".into(), "--releasever \"../9\"", "expected a release version")]
#[case::releasever_option(|s: &mut Spec, _: &Fixture| s.releasever = "-9".into(), "--releasever \"-9\"", "expected a release version")]
#[case::tag_upper(|s: &mut Spec, _: &Fixture| s.tag = "My-RHEL".into(), "--import/--tag \"My-RHEL\"", "is not a Docker image name")]
#[case::tag_node_image(|s: &mut Spec, _: &Fixture| s.tag = "labctl-node:rhel".into(), "--import/--tag labctl-node:rhel", "labctl's node images")]
#[case::output_folder(|s: &mut Spec, f: &Fixture| s.output = Some(f.p("BaseOS")), "--output", "is a folder")]
#[case::output_nowhere(|s: &mut Spec, f: &Fixture| s.output = Some(f.p("no/such/x.tar")), "--output", "does not exist")]
fn refused_before_anything_runs(
    #[case] change: fn(&mut Spec, &Fixture),
    #[case] names: &str,
    #[case] says: &str,
) {
    let f = Fixture::new();
    let mut spec = f.spec();
    spec.check().expect("the fixture's spec is good");
    change(&mut spec, &f);
    let e = spec.check().unwrap_err();
    let text = e.render();
    assert!(text.contains(names), "{text}");
    assert!(text.contains(says), "{text}");
    assert_eq!(e.exit(), crate::error::Exit::Usage, "{text}");
}

#[test]
fn every_refusal_says_what_to_do_and_bad_repositories_exit_3() {
    use RpmImageError::*;
    let all = [
        RepoMissing("x".into()),
        NoRepodata("x".into()),
        RepoTwice("x".into()),
        KeyMissing("x".into()),
        KeyNotArmored("x".into()),
        KeyRefused {
            path: "x".into(),
            message: "m".into(),
        },
        BadReleasever("x".into()),
        BadPackage("x".into()),
        NoPackages,
        NotInRepos {
            names: vec!["x".into()],
        },
        Unresolved {
            what: "x".into(),
            needed_by: "y".into(),
        },
        Unsigned {
            package: "x".into(),
        },
        WrongKey {
            package: "x".into(),
            keys: 2,
        },
        NotRoot,
    ];
    for e in all {
        assert!(e.hint().is_some(), "{e}");
        let untrusted = matches!(
            e,
            Unsigned { .. } | WrongKey { .. } | KeyRefused { .. } | NotRoot
        );
        let err: Error = e.into();
        let want = if untrusted {
            crate::error::Exit::Environment
        } else {
            crate::error::Exit::Usage
        };
        assert_eq!(err.exit(), want, "{}", err.render());
    }
}

/// The rpm and dnf commands of the install step, recorded (they need root and
/// real repositories; tests/rpm_image.rs runs them for real).
#[test]
fn install_runs_rpm_and_dnf_with_the_builds_own_settings_only() {
    let f = Fixture::new();
    let mut spec = f.spec();
    // Given relative to the working directory, as a user types it.
    let up = "../".repeat(std::env::current_dir().unwrap().components().count() - 1);
    spec.repos[0] = PathBuf::from(format!(
        "{up}{}",
        f.p("BaseOS").display().to_string().trim_start_matches('/')
    ));
    assert!(spec.repos[0].is_relative() && spec.repos[0].is_dir());
    let ws = root::Workspace::new().unwrap();
    let r = Recorder::default();
    r.answer(
        "rpm --root",
        0,
        "bash\tbash-5.1.8-9.el9.x86_64\tRSA/SHA256, Mon 01 Jan 2024, Key ID 199e2f91fd431d51\n\
         gpg-pubkey\tgpg-pubkey-fd431d51-4ae0493b.(none)\t(none)\n",
    );
    let installed = install(&spec, &ws, &r).unwrap();
    assert_eq!(installed, vec!["bash-5.1.8-9.el9.x86_64".to_string()]);
    let calls = r.calls.lock().unwrap().clone();
    let home = ws.path("home").to_string_lossy().into_owned();
    for c in &calls {
        assert!(
            c.env.contains(&("HOME".into(), home.clone())),
            "every rpm/dnf run reads the build's .rpmmacros: {}",
            c.display()
        );
    }
    let root = ws.root().display().to_string();
    let w = ws.path("").display().to_string();
    let lines: Vec<String> = calls
        .iter()
        .map(|c| c.display().replace(&w, "WORK/"))
        .collect();
    assert_eq!(
        lines[..2],
        [
            format!("rpm --root {} --initdb", root.replace(&w, "WORK/")),
            format!(
                "rpm --root {} --import WORK/keys/1.asc",
                root.replace(&w, "WORK/")
            ),
        ]
    );
    assert_eq!(
        lines[2],
        "dnf -y --installroot=WORK/root --releasever=9 --config=WORK/dnf.conf --noplugins \
         --setopt=reposdir=WORK/repos.d \
         --repofrompath=repo1-BaseOS,file://WORK/repos/1 --setopt=repo1-BaseOS.gpgcheck=1 \
         --setopt=repo1-BaseOS.gpgkey=file://WORK/keys/1.asc \
         --repofrompath=repo2-AppStream,file://WORK/repos/2 --setopt=repo2-AppStream.gpgcheck=1 \
         --setopt=repo2-AppStream.gpgkey=file://WORK/keys/1.asc \
         --setopt=install_weak_deps=False --setopt=tsflags=nodocs \
         --setopt=module_platform_id=platform:el9 install bash coreutils-single"
    );
    assert!(
        lines[3].starts_with("rpm --root WORK/root -qa --qf"),
        "{}",
        lines[3]
    );
    assert_eq!(lines.len(), 4);
    assert!(!lines
        .iter()
        .any(|l| l.contains("nogpgcheck") || l.contains("gpgcheck=0")));
    assert_eq!(
        std::fs::read_link(ws.path("repos/1")).unwrap(),
        std::fs::canonicalize(f.p("BaseOS")).unwrap(),
        "the link points at the folder, not into the build's own"
    );
    assert_eq!(std::fs::read_to_string(ws.path("keys/1.asc")).unwrap(), KEY);
}

#[test]
fn a_package_recorded_without_a_signature_is_refused() {
    let f = Fixture::new();
    let ws = root::Workspace::new().unwrap();
    let r = Recorder::default();
    r.answer("rpm --root", 0, "evil\tevil-1-1.noarch\t(none)\n");
    let e = install(&f.spec(), &ws, &r).unwrap_err().render();
    assert!(e.contains("package evil-1-1.noarch is not signed"), "{e}");
}

#[test]
fn a_key_rpm_refuses_is_named_by_its_given_path() {
    let f = Fixture::new();
    let ws = root::Workspace::new().unwrap();
    let r = Recorder::default();
    r.answer("rpm --root", 0, "");
    // The first `rpm --root` answer wins; make the import fail instead.
    r.answers.lock().unwrap().insert(
        0,
        (
            format!("rpm --root {} --import", ws.root().display()),
            crate::exec::Output {
                code: Some(1),
                stdout: String::new(),
                stderr: format!(
                    "error: {}: key 1 not an armored public key.\n",
                    ws.path("keys/1.asc").display()
                ),
            },
        ),
    );
    let e = install(&f.spec(), &ws, &r).unwrap_err().render();
    assert!(
        e.contains(&format!(
            "rpm refused the key {}",
            f.p("RPM-GPG-KEY-test").display()
        )),
        "{e}"
    );
    assert!(
        e.contains("error: key: key 1 not an armored public key."),
        "{e}"
    );
    assert!(
        !e.contains("labctl-rpm-"),
        "the build's folder is no name for the user: {e}"
    );
}

#[test]
fn the_build_folder_goes_with_the_workspace() {
    let ws = root::Workspace::new().unwrap();
    let p = ws.path("");
    std::fs::create_dir_all(ws.root().join("var/lib/rpm")).unwrap();
    assert!(p.is_dir());
    drop(ws);
    assert!(!p.exists());
}
