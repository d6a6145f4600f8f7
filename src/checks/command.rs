//! `command`: a shell command of the lab file on a node, its exit code and stdout.

use super::engine::*;
use crate::lab::Lab;
use crate::remote::NodeShell;
use crate::text::*;
use regex::Regex;
use std::time::Duration;

pub(super) fn attempt(
    lab: &Lab,
    node: &str,
    run: &str,
    exit: i32,
    stdout_re: Option<&Regex>,
    budget: Duration,
    shell: &dyn NodeShell,
) -> Attempt {
    if let Err(a) = node_ip(lab, node) {
        return a;
    }
    let r = match run_on(shell, node, run, budget) {
        Ok(r) => r,
        Err(a) => return a,
    };
    let output = format!(
        "exit {}\nstdout:\n{}\nstderr:\n{}",
        r.code,
        tail(&r.stdout, MAX_OUTPUT),
        tail(&r.stderr, MAX_OUTPUT / 2)
    );
    if r.code != exit {
        let detail = last_line(&r.stderr)
            .or_else(|| last_line(&r.stdout))
            .map(|l| format!(": {l}"))
            .unwrap_or_default();
        return Attempt::fail(format!("exit {} (expected {exit}){detail}", r.code), output);
    }
    match stdout_re {
        Some(re) if !re.is_match(&r.stdout) => Attempt::fail(
            format!(
                "exit {} but stdout does not match /{}/ (stdout: \"{}\")",
                r.code,
                re.as_str(),
                one_line(&r.stdout, 80)
            ),
            output,
        ),
        Some(re) => Attempt::pass(
            format!("exit {}, stdout matches /{}/", r.code, re.as_str()),
            output,
        ),
        None => Attempt::pass(format!("exit {}", r.code), output),
    }
}

#[cfg(test)]
mod tests {
    use crate::checks::testing::*;

    #[test]
    fn command_exit_and_stdout() {
        let shell = Fake::new().on(
            "mgmt",
            "ansible",
            vec![ok(0, "gitlab | SUCCESS\nlb | SUCCESS\n")],
        );
        let (r, _) = run(
            &check(command(
                "ansible all -m ping -o",
                0,
                Some("(?s)gitlab.*SUCCESS"),
            )),
            &shell,
            &NoHttp,
        );
        assert!(r.passed);
        assert_eq!(r.message, "exit 0, stdout matches /(?s)gitlab.*SUCCESS/");
        assert_eq!(
            shell.calls()[0].1,
            "ansible all -m ping -o",
            "run is sent as written"
        );

        let shell = Fake::new().on(
            "mgmt",
            "false",
            vec![with_err(1, "", "boom\nreally boom\n")],
        );
        let (r, _) = run(&check(command("false", 0, None)), &shell, &NoHttp);
        assert_eq!(r.message, "exit 1 (expected 0): really boom");
        assert!(r.output.contains("stderr:\nboom"));

        let shell = Fake::new().on("mgmt", "grep", vec![ok(1, "")]);
        assert!(
            run(
                &check(command("grep -q x /etc/hosts", 1, None)),
                &shell,
                &NoHttp
            )
            .0
            .passed,
            "a non-zero exit can be expected"
        );

        let shell = Fake::new().on("mgmt", "echo", vec![ok(0, "FAILED\n")]);
        let (r, _) = run(
            &check(command("echo FAILED", 0, Some("SUCCESS"))),
            &shell,
            &NoHttp,
        );
        assert_eq!(
            r.message,
            "exit 0 but stdout does not match /SUCCESS/ (stdout: \"FAILED\")"
        );
    }

    #[test]
    fn command_retry_then_pass_and_timeout() {
        let shell = Fake::new().on("mgmt", "x", vec![ok(2, ""), ok(0, "")]);
        let (r, _) = run(&patient(command("x", 0, None)), &shell, &NoHttp);
        assert!(r.passed && r.attempts == 2);

        let shell = Fake::new().on("mgmt", "x", vec![ok(2, "")]);
        let c = Check {
            timeout: ms(1000),
            interval: ms(50),
            ..check(command("x", 0, None))
        };
        let (r, _) = run(&c, &shell, &NoHttp);
        assert!(!r.passed);
        assert!(
            (2..=21).contains(&r.attempts),
            "about timeout/interval attempts: {}",
            r.attempts
        );
        // It gives up near its timeout, not after some unrelated wait.
        assert!(r.seconds < 10.0);
    }

    #[test]
    fn invalid_regex_fails_without_retrying() {
        let shell = Fake::new();
        let (r, _) = run(&patient(command("x", 0, Some("("))), &shell, &NoHttp);
        assert!(!r.passed && r.attempts == 1);
        assert!(
            r.message.starts_with("invalid stdout regex /(/"),
            "{}",
            r.message
        );
        assert!(shell.calls().is_empty());
    }

    #[test]
    fn unknown_node_fails_without_retrying() {
        let (r, _) = run(
            &patient(CheckKind::Service {
                node: sp("nope"),
                service: "x".into(),
            }),
            &Fake::new(),
            &NoHttp,
        );
        assert_eq!(
            (r.passed, r.attempts, r.message.as_str()),
            (false, 1, "unknown node `nope`")
        );
    }
}
