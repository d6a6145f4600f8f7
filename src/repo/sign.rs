//! The lab's repository key (made once, never replaced), the Release file
//! with its hashes, and its signatures (InRelease, Release.gpg), verified.

use super::*;

pub(super) static FPR: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^[0-9A-F]{40}$").unwrap());

pub(super) struct Key {
    pub(super) fingerprint: String,
    pub(super) created: bool,
}

/// A GnuPG home in a temp folder; its agent is stopped when dropped.
pub(super) struct GpgHome<'a> {
    pub(super) dir: tempfile::TempDir,
    pub(super) runner: &'a dyn Runner,
}

impl<'a> GpgHome<'a> {
    pub(super) fn new(runner: &'a dyn Runner) -> Result<Self> {
        // Short path under /tmp: the agent's socket path must fit in sun_path.
        let dir = tempfile::Builder::new()
            .prefix("labctl-gpg-")
            .tempdir_in(std::env::temp_dir())
            .map_err(|e| Error::io("create a temp dir in", std::env::temp_dir(), e))?;
        set_mode(dir.path(), 0o700)?;
        Ok(GpgHome { dir, runner })
    }
    pub(super) fn gpg(&self) -> Cmd {
        Cmd::new("gpg")
            .env("GNUPGHOME", self.dir.path().to_string_lossy())
            .args([
                "--batch",
                "--no-tty",
                "--pinentry-mode",
                "loopback",
                "--passphrase",
                "",
            ])
    }
}

impl Drop for GpgHome<'_> {
    fn drop(&mut self) {
        let _ = self.runner.output(
            &Cmd::new("gpgconf")
                .env("GNUPGHOME", self.dir.path().to_string_lossy())
                .args(["--kill", "all"]),
        );
    }
}

/// Make the lab's key once (`key/`), atomically; an existing key is only read.
pub(super) fn ensure_key(lab: &str, dir: &Path, runner: &dyn Runner) -> Result<Key> {
    if dir.exists() {
        let fpr_file = dir.join("fingerprint");
        let fpr = std::fs::read_to_string(&fpr_file)
            .map(|s| s.trim().to_string())
            .unwrap_or_default();
        let complete = FPR.is_match(&fpr)
            && ["private.gpg", "public.gpg", "public.asc"]
                .iter()
                .all(|f| dir.join(f).is_file());
        if !complete {
            return Err(Error::env(
                format!("the repository key folder {} is incomplete; labctl never overwrites a key", dir.display()),
                Some(format!(
                    "remove {} to make a new key, then `labctl repo build LAB` and provision the lab again (nodes trust the old key until then)",
                    dir.display()
                )),
            ));
        }
        return Ok(Key {
            fingerprint: fpr,
            created: false,
        });
    }
    let parent = dir.parent().unwrap();
    let tmp = tempfile::Builder::new()
        .prefix(".key-")
        .tempdir_in(parent)
        .map_err(|e| Error::io("create a temp dir in", parent, e))?;
    set_mode(tmp.path(), 0o700)?;
    let home = GpgHome::new(runner)?;
    let uid = format!("labctl lab {lab} package repository <labctl-{lab}@lab.invalid>");
    runner.run(
        &home
            .gpg()
            .args(["--quick-gen-key", &uid, "rsa3072", "sign", "never"]),
    )?;
    let list = runner
        .run(&home.gpg().args(["--with-colons", "--list-secret-keys"]))?
        .stdout;
    let fpr = list
        .lines()
        .filter(|l| l.starts_with("fpr:"))
        .filter_map(|l| l.split(':').nth(9))
        .next()
        .filter(|f| FPR.is_match(f))
        .map(str::to_string)
        .ok_or_else(|| Error::env(format!("gpg made no key (listing: {})", list.trim()), None))?;
    let p = |f: &str| tmp.path().join(f).to_string_lossy().into_owned();
    runner.run(
        &home
            .gpg()
            .args(["--output", &p("private.gpg"), "--export-secret-keys", &fpr]),
    )?;
    runner.run(
        &home
            .gpg()
            .args(["--output", &p("public.gpg"), "--export", &fpr]),
    )?;
    runner.run(
        &home
            .gpg()
            .args(["--armor", "--output", &p("public.asc"), "--export", &fpr]),
    )?;
    set_mode(&tmp.path().join("private.gpg"), 0o600)?;
    std::fs::write(tmp.path().join("fingerprint"), format!("{fpr}\n"))
        .map_err(|e| Error::io("write", tmp.path().join("fingerprint"), e))?;
    drop(home);
    let tmp = tmp.keep();
    // rename(2) onto an existing folder fails: a key made meanwhile by another run wins.
    if let Err(e) = std::fs::rename(&tmp, dir) {
        let _ = std::fs::remove_dir_all(&tmp);
        if dir.exists() {
            return ensure_key(lab, dir, runner);
        }
        return Err(Error::io("create", dir, e));
    }
    Ok(Key {
        fingerprint: fpr,
        created: true,
    })
}

/// InRelease (clearsigned) and Release.gpg (detached, armored) for `public/Release`.
pub(super) fn sign(runner: &dyn Runner, key_dir: &Path, fpr: &str, public: &Path) -> Result<()> {
    let home = GpgHome::new(runner)?;
    runner.run(
        &home
            .gpg()
            .args(["--import", &key_dir.join("private.gpg").to_string_lossy()]),
    )?;
    let release = public.join("Release").to_string_lossy().into_owned();
    for (args, out) in [
        (vec!["--clearsign"], "InRelease"),
        (vec!["--armor", "--detach-sign"], "Release.gpg"),
    ] {
        let tmp = public.join(format!(".{out}.tmp"));
        let _ = std::fs::remove_file(&tmp);
        runner.run(
            &home
                .gpg()
                .args([
                    "--yes",
                    "--local-user",
                    fpr,
                    "--digest-algo",
                    "SHA512",
                    "--output",
                    &tmp.to_string_lossy(),
                ])
                .args(args)
                .arg(&release),
        )?;
        std::fs::rename(&tmp, public.join(out))
            .map_err(|e| Error::io("write", public.join(out), e))?;
    }
    Ok(())
}

/// `Release` names the index files as they are now (size and SHA256).
pub(super) fn release_matches(public: &Path) -> bool {
    let Ok(release) = std::fs::read_to_string(public.join("Release")) else {
        return false;
    };
    ["Packages", "Packages.gz"].iter().all(|f| {
        std::fs::read(public.join(f)).is_ok_and(|b| {
            release.contains(&format!(
                " {} {:>16} {f}\n",
                hex::encode(Sha256::digest(&b)),
                b.len()
            ))
        })
    })
}

/// Both signatures verify with the repository's own public key (as APT will).
pub(super) fn verify(runner: &dyn Runner, public: &Path) -> Result<()> {
    let keyring = public.join(KEYRING).to_string_lossy().into_owned();
    let p = |f: &str| public.join(f).to_string_lossy().into_owned();
    runner.run(&Cmd::new("gpgv").args(["--keyring", &keyring, &p("InRelease")]))?;
    runner.run(&Cmd::new("gpgv").args([
        "--keyring",
        &keyring,
        &p("Release.gpg"),
        &p("Release"),
    ]))?;
    Ok(())
}

// ------------------------------------------------------------------ APT on the host

/// The `Release` file of the flat repository: fields, then SHA256 and SHA512
/// of each index file (`files`: name, contents).
pub fn release_text(
    lab: &str,
    release: &str,
    arch: &str,
    date: time::OffsetDateTime,
    files: &[(String, Vec<u8>)],
) -> String {
    let fmt = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] UTC"
    );
    let date = date
        .to_offset(time::UtcOffset::UTC)
        .format(&fmt)
        .expect("date formats");
    let mut s = String::new();
    s.push_str("Origin: labctl\n");
    s.push_str(&format!("Label: labctl lab {lab}\n"));
    s.push_str(&format!("Suite: {lab}\n"));
    s.push_str(&format!("Codename: {lab}\n"));
    s.push_str(&format!("Date: {date}\n"));
    s.push_str(&format!("Architectures: {arch}\n"));
    s.push_str(&format!("Description: offline package repository of the labctl lab {lab} (Debian {release}, {arch})\n"));
    s.push_str("SHA256:\n");
    for (name, b) in files {
        s.push_str(&format!(
            " {} {:>16} {name}\n",
            hex::encode(Sha256::digest(b)),
            b.len()
        ));
    }
    s.push_str("SHA512:\n");
    for (name, b) in files {
        s.push_str(&format!(
            " {} {:>16} {name}\n",
            hex::encode(Sha512::digest(b)),
            b.len()
        ));
    }
    s
}

// ------------------------------------------------------------------ helpers
