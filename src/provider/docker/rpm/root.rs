//! The build's private folder under /var/tmp and the new root inside it.
//!
//! Debian's rpm has traps for this job (the RPM section of the host notes):
//! its database path defaults to `~/.rpmdb`, so with `--root` the database
//! would land in the image's `/root/.rpmdb` where the image's own rpm and dnf
//! never look; and its `%__gpg` names a `/usr/bin/gpg2` Debian does not ship.
//! rpm, dnf (through python3-rpm) and rpmbuild all read `~/.rpmmacros`, so
//! every command of a build runs with HOME set to a folder of the build's own
//! whose `.rpmmacros` puts the database at `/var/lib/rpm`, as RHEL has it. The
//! host's own `~/.rpmmacros` and rpm database are never read or written.
//!
//! The folder is a `TempDir`: dropped on every way out of a build (success,
//! refusal, error, Ctrl-C unwinding), it takes the root with it.

use crate::error::{Error, Result};
use crate::exec::{Cmd, Runner};
use std::path::{Path, PathBuf};

const RPMMACROS: &str = "\
# Written by labctl for one image build: the rpm database where RHEL keeps it,
# and the gpg Debian has (its default %__gpg names a missing gpg2).
%_dbpath /var/lib/rpm
%__gpg /usr/bin/gpg
";

/// dnf's main configuration for the build, so the host's /etc/dnf/dnf.conf
/// (or one in the new root) is never read. RHEL's own defaults, GPG checks on.
const DNF_CONF: &str = "\
[main]
gpgcheck=1
repo_gpgcheck=0
localpkg_gpgcheck=1
installonly_limit=3
clean_requirements_on_remove=True
best=True
skip_if_unavailable=False
";

/// Where the database must be, relative to the new root.
pub const DB_DIR: &str = "var/lib/rpm";

/// The build's folder: `home/` (HOME, with `.rpmmacros`), `root/` (the new
/// root), `repos/N` (links to the repositories), `keys/N.asc` (copies of the
/// keys), `repos.d/` (empty: dnf's only repository folder), `dnf.conf`.
pub struct Workspace {
    dir: tempfile::TempDir,
}

impl Workspace {
    pub fn new() -> Result<Workspace> {
        let dir = tempfile::Builder::new()
            .prefix("labctl-rpm-")
            .tempdir_in("/var/tmp")
            .map_err(|e| Error::io("create a temp dir in", "/var/tmp", e))?;
        let ws = Workspace { dir };
        for d in ["home", "root", "repos", "keys", "repos.d"] {
            let p = ws.path(d);
            std::fs::create_dir(&p).map_err(|e| Error::io("create", &p, e))?;
        }
        ws.write("home/.rpmmacros", RPMMACROS)?;
        ws.write("dnf.conf", DNF_CONF)?;
        Ok(ws)
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn root(&self) -> PathBuf {
        self.path("root")
    }

    fn write(&self, rel: &str, text: &str) -> Result<()> {
        let p = self.path(rel);
        std::fs::write(&p, text).map_err(|e| Error::io("write", &p, e))
    }

    /// rpm or dnf with the build's HOME, and messages in English (they are read).
    pub fn cmd(&self, program: &str) -> Cmd {
        Cmd::new(program)
            .env("HOME", self.path("home").to_string_lossy())
            .env("LC_ALL", "C.UTF-8")
    }

    /// A link per repository under a name of the build's choosing, so dnf gets
    /// plain `file://` URLs whatever the folder is called (spaces, commas).
    pub fn link_repos(&self, repos: &[PathBuf]) -> Result<Vec<PathBuf>> {
        repos
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let link = self.path(&format!("repos/{}", i + 1));
                std::os::unix::fs::symlink(r, &link).map_err(|e| Error::io("link", &link, e))?;
                Ok(link)
            })
            .collect()
    }

    /// Copies of the keys, for the same reason as [`Self::link_repos`].
    pub fn copy_keys(&self, keys: &[PathBuf]) -> Result<Vec<PathBuf>> {
        keys.iter()
            .enumerate()
            .map(|(i, k)| {
                let to = self.path(&format!("keys/{}.asc", i + 1));
                std::fs::copy(k, &to).map_err(|e| Error::io("copy", k, e))?;
                Ok(to)
            })
            .collect()
    }

    /// `rpm --root ROOT ARGS`.
    pub fn rpm(&self, args: &[&str]) -> Cmd {
        self.cmd("rpm")
            .arg("--root")
            .arg(self.root().to_string_lossy())
            .args(args.iter().copied())
    }
}

/// The packages installed in the root: `NAME-VERSION-RELEASE.ARCH` and the
/// signature rpm recorded for it ("(none)" when unsigned). The keys
/// (`gpg-pubkey`) are not packages and are left out.
pub fn installed(ws: &Workspace, runner: &dyn Runner) -> Result<Vec<(String, String)>> {
    const QF: &str = "%{NAME}\\t%{NAME}-%{VERSION}-%{RELEASE}.%{ARCH}\\t%|DSAHEADER?{%{DSAHEADER:pgpsig}}:{%|RSAHEADER?{%{RSAHEADER:pgpsig}}:{(none)}|}|\\n";
    let out = runner.run(&ws.rpm(&["-qa", "--qf", QF]))?;
    let mut v: Vec<(String, String)> = out
        .stdout
        .lines()
        .filter_map(|l| {
            let mut f = l.splitn(3, '\t');
            let (name, nevra, sig) = (f.next()?, f.next()?, f.next()?);
            (name != "gpg-pubkey").then(|| (nevra.to_string(), sig.to_string()))
        })
        .collect();
    v.sort();
    Ok(v)
}

/// The database is where the image's own rpm and dnf read it, and not where
/// Debian's default would have put it.
pub fn check_database(root: &Path) -> std::result::Result<(), super::RpmImageError> {
    let db = root.join(DB_DIR);
    let stray = root.join("root/.rpmdb");
    let has_db = std::fs::read_dir(&db)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .any(|e| e.file_name().to_string_lossy().starts_with("rpmdb."))
        })
        .unwrap_or(false);
    if has_db && !stray.exists() {
        return Ok(());
    }
    Err(super::RpmImageError::DatabaseMisplaced {
        found: if stray.exists() {
            "it is in /root/.rpmdb".into()
        } else {
            "no database file in /var/lib/rpm".into()
        },
    })
}

/// dnf keeps its cache and logs inside the root; the image leaves them out
/// (its history in /var/lib/dnf stays: the image's dnf reads it).
pub fn leave_out_cache_and_logs(root: &Path) -> Result<()> {
    let cache = root.join("var/cache/dnf");
    if let Ok(rd) = std::fs::read_dir(&cache) {
        for e in rd.filter_map(|e| e.ok()) {
            let p = e.path();
            let r = if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                std::fs::remove_dir_all(&p)
            } else {
                std::fs::remove_file(&p)
            };
            r.map_err(|err| Error::io("remove", &p, err))?;
        }
    }
    let logs = root.join("var/log");
    if let Ok(rd) = std::fs::read_dir(&logs) {
        for e in rd.filter_map(|e| e.ok()) {
            let n = e.file_name().to_string_lossy().into_owned();
            if (n.starts_with("dnf") && n.contains(".log")) || n.starts_with("hawkey.log") {
                let p = e.path();
                std::fs::remove_file(&p).map_err(|err| Error::io("remove", &p, err))?;
            }
        }
    }
    Ok(())
}

/// The image's default command: the first shell the packages brought.
pub fn default_command(root: &Path) -> Option<&'static str> {
    ["/bin/bash", "/usr/bin/bash", "/bin/sh", "/usr/bin/sh"]
        .into_iter()
        .find(|p| resolve_in_root(root, p).is_some_and(|r| r.is_file()))
}

/// `path` inside `root`, following symbolic links as the image will see them
/// (an absolute target is read from the root, never the host's `/`).
pub fn resolve_in_root(root: &Path, path: &str) -> Option<PathBuf> {
    let mut todo: Vec<String> = path
        .split('/')
        .filter(|c| !c.is_empty())
        .rev()
        .map(String::from)
        .collect();
    let mut at = root.to_path_buf();
    let mut hops = 0;
    while let Some(c) = todo.pop() {
        match c.as_str() {
            "." => continue,
            ".." => {
                if at != root {
                    at.pop();
                }
                continue;
            }
            _ => {}
        }
        let next = at.join(&c);
        let meta = std::fs::symlink_metadata(&next).ok()?;
        if !meta.file_type().is_symlink() {
            at = next;
            continue;
        }
        hops += 1;
        if hops > 40 {
            return None;
        }
        let target = std::fs::read_link(&next).ok()?;
        let t = target.to_string_lossy();
        if t.starts_with('/') {
            at = root.to_path_buf();
        }
        todo.extend(
            t.split('/')
                .filter(|c| !c.is_empty())
                .rev()
                .map(String::from),
        );
    }
    Some(at)
}

/// The version of rpm the image carries, if it carries rpm.
pub fn image_rpm_version(ws: &Workspace, runner: &dyn Runner) -> Option<String> {
    let out = runner
        .output(&ws.rpm(&["-q", "--qf", "%{VERSION}", "rpm"]))
        .ok()?;
    out.success().then(|| out.stdout.trim().to_string())
}

/// Does an rpm of this version read the sqlite database Debian's rpm writes?
/// rpm reads sqlite from 4.16 on (RHEL 9); RHEL 6-8 carry older ones.
pub fn reads_sqlite(version: &str) -> bool {
    let mut parts = version.split('.').map(|p| {
        p.chars()
            .take_while(|c| c.is_ascii_digit())
            .collect::<String>()
            .parse::<u32>()
            .unwrap_or(0)
    });
    let major = parts.next().unwrap_or(0);
    let minor = parts.next().unwrap_or(0);
    (major, minor) >= (4, 16)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn links_resolve_inside_the_root_never_on_the_host() {
        let t = tempfile::tempdir().unwrap();
        let r = t.path();
        std::fs::create_dir_all(r.join("usr/bin")).unwrap();
        std::fs::write(r.join("usr/bin/busybox"), "").unwrap();
        symlink("usr/bin", r.join("bin")).unwrap();
        symlink("busybox", r.join("usr/bin/sh")).unwrap();
        // Absolute: read from the root, not from the host's /usr/bin/bash.
        symlink("/usr/bin/busybox", r.join("usr/bin/bash")).unwrap();
        assert_eq!(
            resolve_in_root(r, "/bin/sh"),
            Some(r.join("usr/bin/busybox"))
        );
        assert_eq!(
            resolve_in_root(r, "/bin/bash"),
            Some(r.join("usr/bin/busybox"))
        );
        assert_eq!(resolve_in_root(r, "/bin/../../../etc"), None);
        assert_eq!(default_command(r), Some("/bin/bash"));
        std::fs::remove_file(r.join("usr/bin/bash")).unwrap();
        assert_eq!(default_command(r), Some("/bin/sh"));
        // A link loop or a dangling link is no command.
        symlink("loop", r.join("usr/bin/loop")).unwrap();
        assert_eq!(resolve_in_root(r, "/usr/bin/loop"), None);
        std::fs::remove_file(r.join("usr/bin/busybox")).unwrap();
        assert_eq!(default_command(r), None);
    }

    #[test]
    fn sqlite_is_read_from_rpm_4_16_on() {
        for (v, ok) in [
            ("4.18.0", true),
            ("4.16.1.3", true),
            ("4.14.3", false),
            ("4.11.3", false),
            ("4.8.0", false),
            ("6.0.0", true),
        ] {
            assert_eq!(reads_sqlite(v), ok, "{v}");
        }
    }

    #[test]
    fn the_database_must_be_at_var_lib_rpm() {
        let t = tempfile::tempdir().unwrap();
        let r = t.path();
        assert!(check_database(r).is_err());
        std::fs::create_dir_all(r.join(DB_DIR)).unwrap();
        std::fs::write(r.join(DB_DIR).join("rpmdb.sqlite"), "").unwrap();
        assert!(check_database(r).is_ok());
        std::fs::create_dir_all(r.join("root/.rpmdb")).unwrap();
        let e = check_database(r).unwrap_err().to_string();
        assert!(e.contains("/root/.rpmdb"), "{e}");
    }

    #[test]
    fn cache_and_logs_are_left_out_history_stays() {
        let t = tempfile::tempdir().unwrap();
        let r = t.path();
        for d in ["var/cache/dnf/r1-abc/repodata", "var/log", "var/lib/dnf"] {
            std::fs::create_dir_all(r.join(d)).unwrap();
        }
        for f in [
            "var/cache/dnf/r1.solv",
            "var/cache/dnf/r1-abc/repodata/repomd.xml",
            "var/log/dnf.log",
            "var/log/dnf.rpm.log",
            "var/log/dnf.librepo.log",
            "var/log/hawkey.log",
            "var/log/messages",
            "var/lib/dnf/history.sqlite",
        ] {
            std::fs::write(r.join(f), "x").unwrap();
        }
        leave_out_cache_and_logs(r).unwrap();
        assert_eq!(
            std::fs::read_dir(r.join("var/cache/dnf")).unwrap().count(),
            0
        );
        let logs: Vec<String> = std::fs::read_dir(r.join("var/log"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(logs, vec!["messages".to_string()]);
        assert!(r.join("var/lib/dnf/history.sqlite").exists());
    }
}
