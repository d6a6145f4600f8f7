//! Long host-side build scripts (build-rootfs.sh, build-box.sh): run with a
//! spinner showing the latest line, the whole log kept, and its tail in the
//! error when the script fails.

use crate::error::{Error, Result};
use std::io::BufRead;

/// Run `expr` (stdout and stderr merged here), showing progress; on failure an
/// [`Error::Tool`] named `what` with the last 20 lines and `hint`.
pub fn run_logged(expr: duct::Expression, what: &str, hint: &str) -> Result<()> {
    let reader = expr
        .stderr_to_stdout()
        .stdin_null()
        .unchecked()
        .reader()
        .map_err(|err| Error::io("run", what, err))?;
    let pb = indicatif::ProgressBar::new_spinner();
    pb.set_style(indicatif::ProgressStyle::with_template("{spinner} [{elapsed}] {msg}").unwrap());
    pb.enable_steady_tick(std::time::Duration::from_millis(200));
    let mut log = Vec::new();
    let mut lines = std::io::BufReader::new(&reader).lines();
    let result = loop {
        match lines.next() {
            Some(Ok(line)) => {
                pb.set_message(line.chars().take(100).collect::<String>());
                log.push(line);
            }
            Some(Err(err)) => break Err(err),
            None => break Ok(()),
        }
    };
    pb.finish_and_clear();
    let status = reader.try_wait();
    match (result, status) {
        (Ok(()), Ok(Some(o))) if o.status.success() => Ok(()),
        (r, status) => {
            let tail = log[log.len().saturating_sub(20)..].join("\n");
            let code = match (r, status) {
                (Err(_), _) => Some(-1),
                (_, Ok(Some(o))) => o.status.code(),
                _ => Some(1),
            };
            Err(Error::Tool {
                command: what.to_string(),
                code,
                stderr: tail,
                hint: Some(hint.to_string()),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failing_script_is_reported_with_its_exit_code_and_last_lines() {
        let e = run_logged(
            duct::cmd("sh", ["-c", "echo one; echo two >&2; exit 7"]),
            "x.sh",
            "look at x",
        )
        .unwrap_err()
        .render();
        assert!(e.contains("x.sh"), "{e}");
        assert!(e.contains("exit code 7"), "{e}");
        assert!(e.contains("one") && e.contains("two"), "{e}");
        assert!(e.contains("look at x"), "{e}");
        assert!(run_logged(duct::cmd("true", Vec::<String>::new()), "t", "h").is_ok());
    }
}
