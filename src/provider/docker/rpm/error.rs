//! Why an image from RPM repositories was refused, each with what to do about
//! it. The refusals of bad input (a folder that is no repository, a key file
//! that is not there, a package no repository has) exit 2 like other usage
//! errors; a package that fails its signature check exits 3: the command was
//! right, the repository is not to be trusted.

use crate::error::Error;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum RpmImageError {
    #[error("--rpm-repo {}: no such folder", .0.display())]
    RepoMissing(PathBuf),

    #[error("--rpm-repo {}: not an RPM repository (no repodata/repomd.xml in it)", .0.display())]
    NoRepodata(PathBuf),

    #[error("--rpm-repo {} is given twice", .0.display())]
    RepoTwice(PathBuf),

    #[error("--gpg-key {}: no such file", .0.display())]
    KeyMissing(PathBuf),

    #[error("--gpg-key {}: not an ASCII-armored OpenPGP public key", .0.display())]
    KeyNotArmored(PathBuf),

    #[error("rpm refused the key {}: {message}", path.display())]
    KeyRefused { path: PathBuf, message: String },

    #[error("--releasever {0:?}: expected a release version such as 9 or 9.4")]
    BadReleasever(String),

    #[error("--packages {0:?}: expected a package name or dnf package spec (no spaces, commas, quotes, no leading `-`)")]
    BadPackage(String),

    #[error("--packages: name at least one package to install")]
    NoPackages,

    #[error("not in the repositories: {}", .names.join(", "))]
    NotInRepos { names: Vec<String> },

    #[error("{needed_by} needs {what}, which no repository provides")]
    Unresolved { what: String, needed_by: String },

    #[error("package {package} is not signed; refused (GPG checks are always on)")]
    Unsigned { package: String },

    #[error("package {package} is not signed by the --gpg-key key{}; refused (GPG checks are always on)", if *.keys == 1 { "" } else { "s" })]
    WrongKey { package: String, keys: usize },

    #[error("building an image from RPM repositories needs root (dnf runs the packages' scripts chrooted into the new root)")]
    NotRoot,

    #[error("the rpm database is not at /var/lib/rpm in the new root ({found})")]
    DatabaseMisplaced { found: String },
}

impl RpmImageError {
    /// What the user can do about it.
    pub fn hint(&self) -> Option<String> {
        use RpmImageError::*;
        Some(match self {
            RepoMissing(_) => "give the folder that holds repodata/ (a mounted ISO's BaseOS or AppStream, say)".into(),
            NoRepodata(_) => "on a RHEL 8/9-family ISO the repositories are the BaseOS and AppStream folders (one --rpm-repo each); on RHEL 6/7 the ISO's top folder; a folder of .rpm files becomes one with `createrepo_c DIR`".into(),
            RepoTwice(_) => "give each repository once".into(),
            KeyMissing(_) => "a RHEL ISO has RPM-GPG-KEY-redhat-release at its top; for Rocky and AlmaLinux see docs/images-and-repos.md (From a mounted ISO)".into(),
            KeyNotArmored(_) | KeyRefused { .. } => "rpm imports ASCII-armored public keys (-----BEGIN PGP PUBLIC KEY BLOCK-----); make one with `gpg --armor --export KEYID`".into(),
            BadReleasever(_) => "the distribution's major version: 9 for RHEL/Rocky/Alma 9".into(),
            BadPackage(_) | NoPackages => "e.g. --packages bash,coreutils-single,dnf".into(),
            NotInRepos { .. } => "see what a repository has with `dnf --releasever N --repofrompath=iso,DIR --repo=iso repoquery 'NAME*'`; RHEL 8/9 splits packages between BaseOS and AppStream: give both with --rpm-repo".into(),
            Unresolved { .. } => "add the repository that has it (RHEL 8/9: BaseOS and AppStream both) with another --rpm-repo".into(),
            Unsigned { .. } | WrongKey { .. } => "give the key that signed the repository's packages with --gpg-key (the ISO's RPM-GPG-KEY-* file); there is no way to turn the check off".into(),
            NotRoot => "run labctl as root".into(),
            DatabaseMisplaced { .. } => return None,
        })
    }

    /// Bad input (exit 2) rather than an untrustworthy repository or host (exit 3).
    fn is_usage(&self) -> bool {
        use RpmImageError::*;
        matches!(
            self,
            RepoMissing(_)
                | NoRepodata(_)
                | RepoTwice(_)
                | KeyMissing(_)
                | KeyNotArmored(_)
                | BadReleasever(_)
                | BadPackage(_)
                | NoPackages
                | NotInRepos { .. }
                | Unresolved { .. }
        )
    }
}

impl From<RpmImageError> for Error {
    fn from(e: RpmImageError) -> Error {
        let hint = e.hint();
        if e.is_usage() {
            Error::Usage {
                message: e.to_string(),
                hint,
            }
        } else {
            Error::Environment {
                message: e.to_string(),
                hint,
            }
        }
    }
}
