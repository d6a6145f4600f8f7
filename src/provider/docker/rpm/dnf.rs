//! The one dnf run of a build, and what its refusals mean.
//!
//! Nothing of the host's dnf setup takes part: the configuration is the
//! build's own `dnf.conf`, the only repository folder is an empty one, plugins
//! are off, and the repositories are the `--rpm-repo` folders given as
//! `--repofrompath`, each with `gpgcheck=1` and the `--gpg-key` keys. dnf has a
//! `--nogpgcheck`; labctl never passes it and offers no way to.

use super::error::RpmImageError;
use super::root::Workspace;
use crate::exec::Cmd;
use std::path::PathBuf;

/// A repository as dnf is told about it: an id made from the folder's name
/// (so dnf's output names BaseOS and AppStream) and the build's link to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repo {
    pub id: String,
    pub link: PathBuf,
}

/// `repo1-BaseOS`, `repo2-AppStream`: dnf accepts letters, digits, `-_.:`.
pub fn repo_id(index: usize, folder: &std::path::Path) -> String {
    let name: String = folder
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .take(40)
        .collect();
    if name.is_empty() {
        format!("repo{index}")
    } else {
        format!("repo{index}-{name}")
    }
}

/// RHEL-family module streams name their platform `platform:elN`; dnf reads
/// it from the root's os-release, which an empty root does not have yet.
pub fn module_platform_id(releasever: &str) -> Option<String> {
    let major: String = releasever
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    (!major.is_empty()).then(|| format!("platform:el{major}"))
}

/// `dnf install` into the workspace's root.
pub fn install(
    ws: &Workspace,
    repos: &[Repo],
    keys: &[PathBuf],
    releasever: &str,
    packages: &[String],
) -> Cmd {
    let key_urls: Vec<String> = keys
        .iter()
        .map(|k| format!("file://{}", k.display()))
        .collect();
    let mut c = ws
        .cmd("dnf")
        .arg("-y")
        .arg(format!("--installroot={}", ws.root().display()))
        .arg(format!("--releasever={releasever}"))
        .arg(format!("--config={}", ws.path("dnf.conf").display()))
        .arg("--noplugins")
        .arg(format!(
            "--setopt=reposdir={}",
            ws.path("repos.d").display()
        ));
    for r in repos {
        c = c
            .arg(format!(
                "--repofrompath={},file://{}",
                r.id,
                r.link.display()
            ))
            .arg(format!("--setopt={}.gpgcheck=1", r.id))
            .arg(format!("--setopt={}.gpgkey={}", r.id, key_urls.join(",")));
    }
    c = c
        .arg("--setopt=install_weak_deps=False")
        .arg("--setopt=tsflags=nodocs");
    if let Some(p) = module_platform_id(releasever) {
        c = c.arg(format!("--setopt=module_platform_id={p}"));
    }
    c.arg("install").args(packages.iter().cloned())
}

/// The refusal dnf's output describes, if it is one labctl knows: packages
/// the repositories lack, a dependency none provides, a package unsigned or
/// signed by another key. `keys` is how many keys were given (for the message).
pub fn refusal(output: &str, keys: usize) -> Option<RpmImageError> {
    static RE: std::sync::LazyLock<[regex::Regex; 5]> = std::sync::LazyLock::new(|| {
        [
            regex::Regex::new(r"(?m)^No match for argument: (\S+)").unwrap(),
            regex::Regex::new(r"(?m)^Error: Unable to find a match: (.+)$").unwrap(),
            regex::Regex::new(r"nothing provides (.+?) needed by (\S+)").unwrap(),
            regex::Regex::new(r"(?m)^Package (\S+) is not signed").unwrap(),
            regex::Regex::new(r"(?:Failing package is: |Public key for )(\S+)").unwrap(),
        ]
    });
    let [no_match, unable, nothing, unsigned, wrong] = &*RE;
    let mut names: Vec<String> = Vec::new();
    let found = no_match
        .captures_iter(output)
        .map(|c| c[1].to_string())
        .chain(unable.captures_iter(output).flat_map(|c| {
            c[1].split_whitespace()
                .map(String::from)
                .collect::<Vec<_>>()
        }));
    for n in found {
        if !names.contains(&n) {
            names.push(n);
        }
    }
    if !names.is_empty() {
        return Some(RpmImageError::NotInRepos { names });
    }
    if let Some(c) = nothing.captures(output) {
        return Some(RpmImageError::Unresolved {
            what: c[1].to_string(),
            needed_by: c[2].to_string(),
        });
    }
    let package = |s: &str| s.trim_end_matches(".rpm").to_string();
    if let Some(c) = unsigned.captures(output) {
        return Some(RpmImageError::Unsigned {
            package: package(&c[1]),
        });
    }
    wrong.captures(output).map(|c| RpmImageError::WrongKey {
        package: package(&c[1]),
        keys,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    // dnf 4.14's own words (Debian 12), captured from real runs.
    const UNSIGNED: &str =
        "Package labctl-unsigned-1.0-1.noarch.rpm is not signed\nError: GPG check FAILED\n";
    const OTHER_KEY: &str = "The GPG keys listed for the \"repo2-b\" repository are already installed but they are not correct for this package.\nCheck that the correct key URLs are configured for this repository.. Failing package is: labctl-othersig-1.0-1.noarch\n GPG Keys are configured as: file:///var/tmp/labctl-rpm-x/keys/1.asc\nError: GPG check FAILED\n";
    const NO_KEY: &str = "warning: /var/cache/dnf/x/packages/labctl-othersig-1.0-1.noarch.rpm: Header V4 EdDSA/SHA256 Signature, key ID 91b39789: NOKEY\nPublic key for labctl-othersig-1.0-1.noarch.rpm is not installed\nError: GPG check FAILED\n";
    const MISSING: &str =
        "No match for argument: nosuch\nError: Unable to find a match: nosuch other\n";
    const UNRESOLVED: &str = "Error: \n Problem: conflicting requests\n  - nothing provides labctl-layout >= 1.0 needed by labctl-tools-2.0-3.x86_64\n";

    #[rstest]
    #[case::unsigned(
        UNSIGNED,
        "package labctl-unsigned-1.0-1.noarch is not signed; refused (GPG checks are always on)"
    )]
    #[case::other_key(OTHER_KEY, "package labctl-othersig-1.0-1.noarch is not signed by the --gpg-key key; refused (GPG checks are always on)")]
    #[case::key_not_configured(NO_KEY, "package labctl-othersig-1.0-1.noarch is not signed by the --gpg-key key; refused (GPG checks are always on)")]
    #[case::missing(MISSING, "not in the repositories: nosuch, other")]
    #[case::unresolved(
        UNRESOLVED,
        "labctl-tools-2.0-3.x86_64 needs labctl-layout >= 1.0, which no repository provides"
    )]
    fn dnf_refusals_are_named(#[case] output: &str, #[case] message: &str) {
        assert_eq!(refusal(output, 1).unwrap().to_string(), message);
    }

    #[test]
    fn other_failures_are_not_guessed_at() {
        assert!(refusal("Error: Curl error (37): Couldn't read a file:// file\n", 1).is_none());
        assert!(refusal("", 1).is_none());
    }

    #[rstest]
    #[case("/mnt/rhel9/BaseOS", 1, "repo1-BaseOS")]
    #[case("/mnt/rhel9/AppStream/", 2, "repo2-AppStream")]
    #[case("/srv/my repo,v2", 3, "repo3-my_repo_v2")]
    #[case("/", 4, "repo4")]
    fn repo_ids(#[case] dir: &str, #[case] i: usize, #[case] id: &str) {
        assert_eq!(repo_id(i, std::path::Path::new(dir)), id);
    }

    #[rstest]
    #[case("9", Some("platform:el9"))]
    #[case("8.10", Some("platform:el8"))]
    #[case("9Server", Some("platform:el9"))]
    #[case("rawhide", None)]
    fn platform_of_module_streams(#[case] rel: &str, #[case] id: Option<&str>) {
        assert_eq!(module_platform_id(rel).as_deref(), id);
    }
}
