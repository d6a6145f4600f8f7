//! Processes of the host, read from /proc: the process groups of the tools a
//! labctl run started, so that `down` can end those a killed labctl left.

use std::path::Path;

/// The process group of the process at `/proc/PID`: the 5th field of its
/// `stat`, counted after the command name (which may hold spaces and parens).
fn process_group_of(proc_pid: &Path) -> Option<i32> {
    let stat = std::fs::read_to_string(proc_pid.join("stat")).ok()?;
    stat.rsplit(')')
        .next()?
        .split_whitespace()
        .nth(2)?
        .parse()
        .ok()
}

/// Process groups of processes whose working directory is `dir` (never our own).
pub fn groups_working_in(dir: &Path) -> Vec<i32> {
    let Ok(dir) = dir.canonicalize() else {
        return vec![];
    };
    let me = std::process::id();
    let my_group = nix::unistd::getpgrp().as_raw();
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return out;
    };
    for e in rd.filter_map(|e| e.ok()) {
        let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        if pid == me || std::fs::read_link(e.path().join("cwd")).ok().as_deref() != Some(&dir) {
            continue;
        }
        if let Some(pg) = process_group_of(&e.path()) {
            if pg != my_group && pg > 1 && !out.contains(&pg) {
                out.push(pg);
            }
        }
    }
    out
}

/// Is process group `pg` still led by a tool labctl starts (vagrant/ruby, docker)?
pub fn group_is_ours(pg: i32) -> bool {
    let Ok(cmd) = std::fs::read(format!("/proc/{pg}/cmdline")) else {
        // Leader gone; members may live on. Accept only if some member is vagrant.
        return std::fs::read_dir("/proc")
            .map(|rd| {
                rd.filter_map(|e| e.ok()).any(|e| {
                    let p = e.path();
                    process_group_of(&p) == Some(pg)
                        && String::from_utf8_lossy(
                            &std::fs::read(p.join("cmdline")).unwrap_or_default(),
                        )
                        .contains("vagrant")
                })
            })
            .unwrap_or(false);
    };
    let cmd = String::from_utf8_lossy(&cmd);
    cmd.contains("vagrant") || cmd.contains("ruby") || cmd.contains("docker")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::CommandExt;

    #[test]
    fn a_tool_running_in_the_state_dir_is_found_by_its_working_directory() {
        let dir = tempfile::tempdir().unwrap();
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .current_dir(dir.path())
            .process_group(0)
            .spawn()
            .unwrap();
        let found = groups_working_in(dir.path());
        let _ = child.kill();
        let _ = child.wait();
        assert_eq!(found, vec![child.id() as i32]);
        let other = tempfile::tempdir().unwrap();
        assert!(groups_working_in(other.path()).is_empty());
    }
}
