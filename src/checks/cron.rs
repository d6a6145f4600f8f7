//! `cron`: a cron entry for a user, from `crontab -l` and the system crontabs that cron really reads.

use super::engine::*;
use crate::lab::Lab;
use crate::remote::marker;
use crate::remote::NodeShell;
use crate::shell::sh_root_args;
use crate::text::*;
use regex::Regex;
use std::time::Duration;

/// One cron entry for the user: where it was found and the line as written.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct CronEntry {
    source: String,
    line: String,
}

/// Whether cron reads a file in /etc/cron.d (Debian's cron skips names that are
/// not run-parts names, e.g. `job.dpkg-old`, `job.bak`).
pub(super) fn cron_d_name_ok(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or("");
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// A line that schedules something (not a comment, blank or `VAR=value` line).
pub(super) fn cron_job_line(line: &str) -> bool {
    line.trim_start()
        .starts_with(|c: char| c.is_ascii_digit() || c == '*' || c == '@')
}

/// The user field of a system crontab line (`/etc/crontab`, `/etc/cron.d/*`).
pub(super) fn cron_system_user(line: &str) -> Option<&str> {
    let f: Vec<&str> = line.split_whitespace().collect();
    if f.first()?.starts_with('@') {
        f.get(1).copied()
    } else {
        f.get(5).copied()
    }
}

/// Parse the cron script's output into the user's entries plus notes.
pub(super) fn parse_cron(out: &str, user: &str) -> (Vec<CronEntry>, Vec<String>) {
    let mut entries = Vec::new();
    let mut notes = Vec::new();
    let mut crontab_lines: Vec<&str> = Vec::new();
    let mut section: Option<String> = None; // None: crontab -l; Some(file)
    let mut in_crontab = false;
    for line in out.lines() {
        let m = marker::parse(line);
        if matches!(m, Some(m) if m.kind == "crontab") {
            in_crontab = true;
            section = None;
            continue;
        }
        if let Some(rc) = m.filter(|m| m.kind == "rc").map(|m| m.args) {
            in_crontab = false;
            if rc.trim() == "0" {
                entries.extend(crontab_lines.iter().filter(|l| cron_job_line(l)).map(|l| {
                    CronEntry {
                        source: format!("crontab -l -u {user}"),
                        line: l.trim().to_string(),
                    }
                }));
            } else {
                notes.push(format!(
                    "crontab -l -u {user} (exit {}): {}",
                    rc.trim(),
                    crontab_lines
                        .iter()
                        .map(|l| l.trim())
                        .find(|l| !l.is_empty())
                        .unwrap_or("")
                ));
            }
            continue;
        }
        if let Some(f) = m.filter(|m| m.kind == "file").map(|m| m.args) {
            section = Some(f.to_string());
            if f.starts_with("/etc/cron.d/") && !cron_d_name_ok(f) {
                notes.push(format!(
                    "{f}: ignored by cron (file name is not a run-parts name)"
                ));
            }
            continue;
        }
        if in_crontab {
            crontab_lines.push(line);
        } else if let Some(f) = &section {
            let ignored = f.starts_with("/etc/cron.d/") && !cron_d_name_ok(f);
            if !ignored && cron_job_line(line) && cron_system_user(line) == Some(user) {
                entries.push(CronEntry {
                    source: f.clone(),
                    line: line.trim().to_string(),
                });
            }
        }
    }
    (entries, notes)
}

/// The cron command for `user`, run as root (it reads other users' crontabs).
pub(super) fn cron_script(user: &str) -> String {
    sh_root_args(include_str!("scripts/cron.sh"), "labctl-cron", &[user])
}

pub(super) fn attempt(
    lab: &Lab,
    node: &str,
    user: &str,
    contains: Option<&Regex>,
    budget: Duration,
    shell: &dyn NodeShell,
) -> Attempt {
    if let Err(a) = node_ip(lab, node) {
        return a;
    }
    let r = match run_on(shell, node, &cron_script(user), budget) {
        Ok(r) => r,
        Err(a) => return a,
    };
    if !r
        .stdout
        .lines()
        .any(|l| marker::parse(l).is_some_and(|m| m.kind == "crontab"))
    {
        return Attempt::fail(
            format!(
                "cannot read cron tables on {node} (exit {}): {}",
                r.code,
                first_line(&r.stderr)
            ),
            r.stderr,
        );
    }
    let (entries, notes) = parse_cron(&r.stdout, user);
    let mut output: String = entries
        .iter()
        .map(|e| format!("{}: {}\n", e.source, e.line))
        .collect();
    for n in &notes {
        output.push_str(&format!("note: {n}\n"));
    }
    if entries.is_empty() {
        return Attempt::fail(format!("no cron entries for {user} on {node} (crontab -l -u {user}, /etc/crontab, /etc/cron.d)"), output);
    }
    match contains {
        None => Attempt::pass(
            format!(
                "{} cron entr{} for {user} on {node}",
                entries.len(),
                if entries.len() == 1 { "y" } else { "ies" }
            ),
            output,
        ),
        Some(re) => match entries.iter().find(|e| re.is_match(&e.line)) {
            Some(e) => Attempt::pass(
                format!(
                    "cron entry for {user} in {} matches /{}/",
                    e.source,
                    re.as_str()
                ),
                output,
            ),
            None => Attempt::fail(
                format!(
                    "none of {} cron entries for {user} on {node} matches /{}/",
                    entries.len(),
                    re.as_str()
                ),
                output,
            ),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::testing::*;

    const CRON_OUT: &str = "::labctl:: crontab\nno crontab for root\n\n::labctl:: rc 1\n\
        ::labctl:: file /etc/crontab\nSHELL=/bin/sh\n17 *\t* * *\troot    cd / && run-parts --report /etc/cron.hourly\n\n\
        ::labctl:: file /etc/cron.d/ansible-pull\n# pull\nPATH=/usr/bin:/bin\n*/3 * * * * root flock -n /run/ap.lock ansible-pull -U http://192.168.57.2/centraladmin_web.git local.yml >>/var/log/ansible-pull.log 2>&1\n@reboot root ansible-pull -U http://192.168.57.2/centraladmin_web.git\n\n\
        ::labctl:: file /etc/cron.d/old.dpkg-old\n* * * * * root ansible-pull centraladmin_lb\n\n\
        ::labctl:: file /etc/cron.d/other\n* * * * * www-data ansible-pull centraladmin_lb\n\n";

    #[test]
    fn cron_reads_crontab_and_cron_d_for_the_user() {
        let (entries, notes) = parse_cron(CRON_OUT, "root");
        let lines: Vec<&str> = entries.iter().map(|e| e.source.as_str()).collect();
        assert_eq!(
            lines,
            vec![
                "/etc/crontab",
                "/etc/cron.d/ansible-pull",
                "/etc/cron.d/ansible-pull"
            ]
        );
        assert!(notes.iter().any(|n| n.contains("no crontab for root")));
        assert!(notes
            .iter()
            .any(|n| n.contains("old.dpkg-old: ignored by cron")));

        let (entries, _) = parse_cron("::labctl:: crontab\n# m h dom mon dow command\n*/5 * * * * /usr/local/bin/job\n\n::labctl:: rc 0\n", "vagrant");
        assert_eq!(
            entries,
            vec![CronEntry {
                source: "crontab -l -u vagrant".into(),
                line: "*/5 * * * * /usr/local/bin/job".into()
            }]
        );
    }

    #[test]
    fn cron_check_matches_one_line() {
        let shell = Fake::new().on("web1", "crontab -l -u", vec![ok(0, CRON_OUT)]);
        let kind = CheckKind::Cron {
            node: sp("web1"),
            user: "root".into(),
            contains: Some("ansible-pull .*centraladmin_web".into()),
        };
        let (r, _) = run(&check(kind), &shell, &NoHttp);
        assert!(r.passed, "{r:?}");
        assert_eq!(r.message, "cron entry for root in /etc/cron.d/ansible-pull matches /ansible-pull .*centraladmin_web/");
        assert!(
            shell.calls()[0].1.contains("labctl-cron 'root'"),
            "user quoted: {}",
            shell.calls()[0].1
        );

        // Only in an ignored file or for another user: fails.
        let shell = Fake::new().on("web1", "crontab", vec![ok(0, CRON_OUT)]);
        let kind = CheckKind::Cron {
            node: sp("web1"),
            user: "root".into(),
            contains: Some("centraladmin_lb".into()),
        };
        let (r, _) = run(&check(kind), &shell, &NoHttp);
        assert!(!r.passed);
        assert_eq!(
            r.message,
            "none of 3 cron entries for root on web1 matches /centraladmin_lb/"
        );
        assert!(r.output.contains("ignored by cron"));

        let shell = Fake::new().on(
            "web1",
            "crontab",
            vec![
                ok(
                    0,
                    "::labctl:: crontab\nno crontab for nobody\n::labctl:: rc 1\n",
                ),
                ok(0, CRON_OUT),
            ],
        );
        let kind = CheckKind::Cron {
            node: sp("web1"),
            user: "www-data".into(),
            contains: None,
        };
        let (r, seen) = run(&patient(kind), &shell, &NoHttp);
        assert!(r.passed && r.attempts == 2);
        assert_eq!(seen[0], "no cron entries for www-data on web1 (crontab -l -u www-data, /etc/crontab, /etc/cron.d)");
        assert_eq!(r.message, "1 cron entry for www-data on web1");
    }

    #[test]
    fn cron_timeout_reports_last_failure() {
        let shell = Fake::new().on(
            "web1",
            "crontab",
            vec![with_err(1, "", "sudo: a password is required\n")],
        );
        let (r, _) = run(
            &check(CheckKind::Cron {
                node: sp("web1"),
                user: "root".into(),
                contains: None,
            }),
            &shell,
            &NoHttp,
        );
        assert!(!r.passed && r.attempts > 1);
        assert_eq!(
            r.message,
            "cannot read cron tables on web1 (exit 1): sudo: a password is required"
        );
    }
}
