//! `labctl lint`: insecure patterns in lab files, roles and rendered files.
//!
//! The write-ups this project reproduces turned off package signatures, piped
//! downloads into a shell and kept Vagrant's shared key; labctl refuses those
//! patterns unless a lab says `insecure = true`, and then warns on every run.

use crate::diag::{Diagnostic, Severity, SourceFile};
use crate::load::Loaded;
use regex::Regex;
use std::sync::LazyLock;

struct Rule {
    id: &'static str,
    re: Regex,
    why: &'static str,
}

static RULES: LazyLock<Vec<Rule>> = LazyLock::new(|| {
    let r = |id, pat: &str, why| Rule {
        id,
        re: Regex::new(pat).unwrap(),
        why,
    };
    vec![
        r(
            "unauthenticated-packages",
            r"(?i)AllowUnauthenticated|allow-unauthenticated",
            "package signatures are not checked: anything on the mirror path is installed as root",
        ),
        r(
            "unauthenticated-packages",
            r"(?i)\[[^\]]*trusted\s*=\s*yes[^\]]*\]|^\s*Trusted:\s*yes",
            "the source is trusted without a signature",
        ),
        r(
            "unauthenticated-packages",
            r"(?i)\bgpgcheck\s*=\s*0\b",
            "yum/dnf package signatures are not checked",
        ),
        r(
            "pipe-to-shell",
            r"(?i)\b(curl|wget)\b[^|\n]*\|\s*(sudo\s+)?(ba|z|da)?sh\b",
            "a download is run as a script without being checked",
        ),
        // A password in any URL; any user in an http/ftp/git URL (there it is a
        // credential or a token). An SSH user name in ssh:// is not a secret.
        r(
            "credentials-in-url",
            r"(?i)\b[a-z][a-z0-9+.-]*://[^\s/@:'\x22]+:[^\s/@'\x22]+@",
            "a password is embedded in a URL (it ends up in logs and process lists)",
        ),
        r(
            "credentials-in-url",
            r"(?i)\b(https?|ftp|git)://[^\s/@:'\x22]+@",
            "a user name or token is embedded in a URL (it ends up in logs and process lists)",
        ),
        r(
            "host-key-checking-off",
            r"(?i)StrictHostKeyChecking\s*=?\s*(no|off|accept-new)\b",
            "SSH host keys are not verified",
        ),
        r(
            "host-key-checking-off",
            r"(?i)UserKnownHostsFile\s*=?\s*/dev/null",
            "SSH host keys are thrown away, so a changed key is never noticed",
        ),
        r(
            "host-key-checking-off",
            r"(?i)host_key_checking\s*=\s*(false|no|0)\b",
            "Ansible does not verify SSH host keys",
        ),
        r(
            "host-key-checking-off",
            r"(?i)ANSIBLE_HOST_KEY_CHECKING\s*=\s*['\x22]?(false|no|0)",
            "Ansible does not verify SSH host keys",
        ),
        r(
            "shared-insecure-key",
            r"config\.ssh\.insert_key\s*=\s*false",
            "every machine keeps Vagrant's well-known insecure key",
        ),
    ]
});

/// A finding of the linter, located in its file.
#[derive(Debug, Clone)]
pub struct Finding {
    pub rule: &'static str,
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub text: String,
    pub why: &'static str,
}

/// Lines of text that only talk about a pattern (comments that forbid it, the
/// linter's own rules) are not findings.
fn is_exempt(line: &str) -> bool {
    line.contains("labctl-lint: allow")
}

/// Scan one text.
pub fn scan(name: &str, text: &str) -> Vec<Finding> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if is_exempt(line) {
            continue;
        }
        for rule in RULES.iter() {
            if let Some(m) = rule.re.find(line) {
                out.push(Finding {
                    rule: rule.id,
                    file: name.to_string(),
                    line: i + 1,
                    column: line[..m.start()].chars().count() + 1,
                    text: line.trim().chars().take(120).collect(),
                    why: rule.why,
                });
            }
        }
    }
    out
}

/// Scan a loaded lab: its file, the roles its nodes use, and the rendered files.
pub fn lint(loaded: &Loaded) -> crate::Result<Vec<Finding>> {
    let mut out = scan(
        &loaded.source.path.display().to_string(),
        &loaded.source.text,
    );
    for role in loaded.lab.roles() {
        if let Some(r) = loaded.roles.get(&role) {
            for (rel, bytes) in &r.files {
                if let Ok(text) = std::str::from_utf8(bytes) {
                    out.extend(scan(&format!("provision/{role}/{rel}"), text));
                }
            }
        }
    }
    for (rel, bytes) in &loaded.roles.support {
        if let Ok(text) = std::str::from_utf8(bytes) {
            out.extend(scan(&format!("provision/_labctl/{rel}"), text));
        }
    }
    let rendered = crate::render::render(loaded)?;
    for name in ["Vagrantfile", "inventory.ini"] {
        out.extend(scan(&format!("(rendered) {name}"), rendered.text(name)));
    }
    out.sort_by(|a, b| (&a.file, a.line, a.column).cmp(&(&b.file, b.line, b.column)));
    out.dedup_by(|a, b| a.file == b.file && a.line == b.line && a.rule == b.rule);
    Ok(out)
}

/// Findings as diagnostics: errors unless the lab says `insecure = true`.
pub fn diagnostics(loaded: &Loaded, findings: &[Finding]) -> Vec<(Diagnostic, Option<SourceFile>)> {
    findings
        .iter()
        .map(|f| {
            let sev = if loaded.lab.insecure { Severity::Warning } else { Severity::Error };
            let mut d = Diagnostic::error(f.rule, None, format!("insecure pattern: {}", f.why)).hint(if loaded.lab.insecure {
                "allowed because the lab sets insecure = true".to_string()
            } else {
                "fix it, or set insecure = true in the lab file to accept the risk (labctl then warns on every run)".to_string()
            });
            d.severity = sev;
            d.file = f.file.clone().into();
            d.line = f.line;
            d.column = f.column;
            d.expected = Some(format!("no {}: `{}`", f.rule, f.text));
            let src = if f.file == loaded.source.path.display().to_string() { Some(loaded.source.clone()) } else { None };
            (d, src)
        })
        .collect()
}

/// Print findings; returns the number of errors.
pub fn report(loaded: &Loaded, findings: &[Finding]) -> usize {
    let mut errors = 0;
    for (d, _) in diagnostics(loaded, findings) {
        if d.is_error() {
            errors += 1;
        }
        eprintln!("{d}");
        if let Some(h) = &d.hint {
            eprintln!("  hint: {h}");
        }
    }
    if loaded.lab.insecure {
        eprintln!(
            "warning: lab {} sets insecure = true: insecure patterns are allowed",
            loaded.lab.name.value
        );
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case("APT::Get::AllowUnauthenticated \"true\";", "unauthenticated-packages")]
    #[case(
        "deb [trusted=yes] http://192.168.0.220/x/ /",
        "unauthenticated-packages"
    )]
    #[case("gpgcheck=0", "unauthenticated-packages")]
    #[case("curl -sSL http://example.invalid/install | sh", "pipe-to-shell")]
    #[case("wget -qO- http://x/y | sudo bash", "pipe-to-shell")]
    #[case(
        "ansible-pull -U http://root@192.168.33.2/root/repo.git",
        "credentials-in-url"
    )]
    #[case(
        "git clone https://user:secret@git.example/x.git",
        "credentials-in-url"
    )]
    #[case("ssh://deploy:hunter2@host/x", "credentials-in-url")]
    #[case("ssh -o StrictHostKeyChecking=no host", "host-key-checking-off")]
    #[case("  UserKnownHostsFile /dev/null", "host-key-checking-off")]
    #[case("host_key_checking = False", "host-key-checking-off")]
    #[case("config.ssh.insert_key = false", "shared-insecure-key")]
    fn flags(#[case] line: &str, #[case] rule: &str) {
        let f = scan("x", line);
        assert_eq!(f.len(), 1, "{line}: {f:?}");
        assert_eq!(f[0].rule, rule);
    }

    #[rstest]
    #[case("deb [signed-by=/etc/apt/keyrings/lab.gpg] http://192.168.56.10/repo ./")]
    #[case("StrictHostKeyChecking yes")]
    #[case("host_key_checking = True")]
    #[case("git clone http://192.168.57.2/centraladmin_web.git")]
    #[case("curl -s http://192.168.57.11:8080/ | grep revision")]
    #[case("config.ssh.insert_key = true")]
    #[case("git push ssh://root@192.168.59.2/srv/git/x.git")]
    fn passes(#[case] line: &str) {
        assert!(scan("x", line).is_empty(), "{line}");
    }

    #[test]
    fn shipped_labs_are_clean() {
        for name in crate::assets::lab_names() {
            let l = crate::load::load(&name).unwrap();
            let f = lint(&l).unwrap();
            assert!(f.is_empty(), "{name}: {f:#?}");
        }
    }
}
