//! `file`: a file exists on a node (read as root), optionally matching a regex.

use super::engine::*;
use crate::lab::Lab;
use crate::remote::NodeShell;
use crate::shell::sh_root_args;
use crate::text::*;
use regex::Regex;
use std::time::Duration;

pub(super) fn attempt(
    lab: &Lab,
    node: &str,
    path: &str,
    contains: Option<&Regex>,
    budget: Duration,
    shell: &dyn NodeShell,
) -> Attempt {
    if let Err(a) = node_ip(lab, node) {
        return a;
    }
    // Without `contains` the file is not read at all.
    let script = match contains {
        None => include_str!("scripts/file-exists.sh"),
        Some(_) => include_str!("scripts/file-read.sh"),
    };
    let r = match run_on(
        shell,
        node,
        &sh_root_args(script, "labctl-file", &[path]),
        budget,
    ) {
        Ok(r) => r,
        Err(a) => return a,
    };
    if r.code == MISSING {
        return Attempt::fail(format!("no file {path} on {node}"), r.stderr);
    }
    if r.code != 0 {
        return Attempt::fail(
            format!(
                "cannot read {path} on {node} (exit {}): {}",
                r.code,
                first_line(&r.stderr)
            ),
            r.stderr,
        );
    }
    match contains {
        None => Attempt::pass(format!("{path} exists on {node}"), ""),
        Some(re) => {
            let output = format!("{path} on {node}:\n{}", head(&r.stdout, MAX_OUTPUT));
            if re.is_match(&r.stdout) {
                Attempt::pass(
                    format!("{path} on {node} matches /{}/", re.as_str()),
                    output,
                )
            } else {
                Attempt::fail(
                    format!(
                        "{path} exists on {node} but does not match /{}/ ({} bytes)",
                        re.as_str(),
                        r.stdout.len()
                    ),
                    output,
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::testing::*;

    fn file(path: &str, contains: Option<&str>) -> CheckKind {
        CheckKind::File {
            node: sp("web2"),
            path: path.into(),
            contains: contains.map(String::from),
        }
    }

    #[test]
    fn file_exists_and_contains() {
        let shell = Fake::new().on(
            "web2",
            "test -f",
            vec![ok(0, "/var/log/ansible-pull.log {\n  weekly\n}\n")],
        );
        let (r, _) = run(
            &check(file(
                "/etc/logrotate.d/ansible-pull",
                Some("/var/log/ansible-pull\\.log"),
            )),
            &shell,
            &NoHttp,
        );
        assert!(r.passed);
        assert_eq!(
            r.message,
            "/etc/logrotate.d/ansible-pull on web2 matches //var/log/ansible-pull\\.log/"
        );
        let cmd = &shell.calls()[0].1;
        assert!(cmd.contains("sudo -n sh -c"), "read as root: {cmd}");
        assert!(!cmd.contains("grep"), "matched in Rust");

        let shell = Fake::new().on("web2", "test -f", vec![ok(0, "something else\n")]);
        let (r, _) = run(&check(file("/etc/x", Some("weekly"))), &shell, &NoHttp);
        assert_eq!(
            r.message,
            "/etc/x exists on web2 but does not match /weekly/ (15 bytes)"
        );

        let shell = Fake::new().on("web2", "test -f", vec![ok(MISSING, ""), ok(0, "")]);
        let (r, seen) = run(&patient(file("/etc/x", None)), &shell, &NoHttp);
        assert!(r.passed && r.attempts == 2);
        assert_eq!(seen[0], "no file /etc/x on web2");
        assert_eq!(r.message, "/etc/x exists on web2");
        assert!(
            !shell.calls()[0].1.contains("cat"),
            "no read without `contains`"
        );

        let shell = Fake::new().on("web2", "test -f", vec![ok(MISSING, "")]);
        let (r, _) = run(&check(file("/etc/x", None)), &shell, &NoHttp);
        assert!(!r.passed && r.attempts > 1);
        assert_eq!(r.message, "no file /etc/x on web2");
    }

    #[test]
    fn hostile_values_are_quoted() {
        let hostile = "/tmp/x'; rm -rf / #";
        let shell = Fake::new().on("web2", "test -f", vec![ok(MISSING, "")]);
        run(&check(file(hostile, None)), &shell, &NoHttp);
        let cmd = &shell.calls()[0].1;
        // The path reaches the script (a file of labctl's) as one quoted argument.
        let script = include_str!("scripts/file-exists.sh");
        assert_eq!(cmd, &sh_root_args(script, "labctl-file", &[hostile]));
        // (Executing hostile values for real, with a harmless payload, is in
        // file_check_with_hostile_path_runs_safely_in_sh.)

        for kind in [
            CheckKind::Service {
                node: sp("lb"),
                service: "x'; reboot #".into(),
            },
            CheckKind::Cron {
                node: sp("lb"),
                user: "root'$(id)".into(),
                contains: None,
            },
            CheckKind::Disk {
                node: sp("lb"),
                size_bytes: 1,
                device: Some("/dev/x'`id`".into()),
            },
        ] {
            let shell = Fake::new().on("lb", "", vec![ok(1, "")]);
            run(&check(kind), &shell, &NoHttp);
            let cmd = shell.calls()[0].1.clone();
            // Parse-only check that the command is one well-formed shell command.
            let st = std::process::Command::new("sh")
                .arg("-n")
                .arg("-c")
                .arg(&cmd)
                .status()
                .unwrap();
            assert!(st.success(), "{cmd}");
        }
    }

    #[test]
    fn file_check_with_hostile_path_runs_safely_in_sh() {
        if !is_root() {
            eprintln!("skipped: sh_root needs root or sudo");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let pwned = dir.path().join("pwned");
        let name = "x'; touch pwned #";
        let path = dir.path().join(name);
        std::fs::write(&path, "hello $(id) `id`\n").unwrap();
        let c = check(file(path.to_str().unwrap(), Some(r"hello \$\(id\) `id`")));
        let sh = LocalShell {
            path: None,
            cwd: Some(dir.path().to_path_buf()),
        };
        let (r, _) = run(&c, &sh, &NoHttp);
        assert!(r.passed, "{r:?}");
        assert!(!pwned.exists(), "the path was executed");

        let c = check(file(
            &format!(
                "{}/missing'\"$(touch pwned)`touch pwned`",
                dir.path().display()
            ),
            None,
        ));
        let (r, _) = run(&c, &sh, &NoHttp);
        assert!(
            !r.passed && r.message.starts_with("no file "),
            "{}",
            r.message
        );
        assert!(!pwned.exists());
    }
}
