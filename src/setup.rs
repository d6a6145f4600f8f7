//! Host setup: install what a provider needs from the distribution's packages,
//! start the Docker engine where no init system does, and say what was done.
//!
//! A `docker` client on the PATH proves nothing (fresh machines here ship a
//! client without an engine), so the engine is probed with `docker info`.

use crate::error::{Error, Result};
use crate::exec::{which, Cmd, Runner};
use crate::provider::Kind;
use std::time::{Duration, Instant};

/// A tool labctl needs and the Debian package that provides it.
struct Need {
    program: &'static str,
    package: &'static str,
}

fn needs(kind: Kind) -> Vec<Need> {
    let mut v = vec![
        Need {
            program: "vagrant",
            package: "vagrant",
        },
        Need {
            program: "ruby",
            package: "ruby",
        },
        Need {
            program: "ip",
            package: "iproute2",
        },
        Need {
            program: "tar",
            package: "tar",
        },
    ];
    match kind {
        Kind::Docker => {
            v.push(Need {
                program: "debootstrap",
                package: "debootstrap",
            });
            v.push(Need {
                program: "losetup",
                package: "util-linux",
            });
            v.push(Need {
                program: "iperf3",
                package: "iperf3",
            });
            // The offline package repository: index, sign, verify.
            v.push(Need {
                program: "dpkg-scanpackages",
                package: "dpkg-dev",
            });
            v.push(Need {
                program: "gpg",
                package: "gnupg",
            });
            v.push(Need {
                program: "gpgv",
                package: "gpgv",
            });
        }
        Kind::Libvirt => v.push(Need {
            program: "virsh",
            package: "libvirt-clients",
        }),
        Kind::Virtualbox => {}
    }
    v
}

fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

fn is_debian_family() -> bool {
    let text = std::fs::read_to_string("/etc/os-release").unwrap_or_default();
    text.lines().any(|l| {
        let l = l.to_ascii_lowercase();
        (l.starts_with("id=") || l.starts_with("id_like="))
            && (l.contains("debian") || l.contains("ubuntu"))
    })
}

/// Does a Docker engine answer?
pub fn engine_answers(runner: &dyn Runner) -> bool {
    runner
        .output(&Cmd::new("docker").args(["info", "--format", "{{.ServerVersion}}"]))
        .map(|o| o.success() && !o.stdout.trim().is_empty())
        .unwrap_or(false)
}

/// What is missing for `kind`: packages to install and whether the engine must be started.
pub fn missing(kind: Kind, runner: &dyn Runner) -> (Vec<&'static str>, bool) {
    let mut pkgs: Vec<&'static str> = needs(kind)
        .iter()
        .filter(|n| which(n.program).is_none())
        .map(|n| n.package)
        .collect();
    let mut start_engine = false;
    if kind == Kind::Docker && !engine_answers(runner) {
        if which("dockerd").is_none() {
            pkgs.push("docker.io");
        }
        start_engine = true;
    }
    pkgs.sort();
    pkgs.dedup();
    (pkgs, start_engine)
}

/// Make the host ready for `kind`; returns what was done (empty when nothing was).
pub fn ensure(kind: Kind, runner: &dyn Runner, install: bool) -> Result<Vec<String>> {
    let (pkgs, start_engine) = missing(kind, runner);
    if pkgs.is_empty() && !start_engine {
        return Ok(vec![]);
    }
    let mut commands = Vec::new();
    if !pkgs.is_empty() {
        commands.push("apt-get update".to_string());
        commands.push(format!(
            "apt-get install -y --no-install-recommends {}",
            pkgs.join(" ")
        ));
    }
    if start_engine {
        commands.push("containerd & dockerd --containerd=/run/containerd/containerd.sock &   # or: systemctl start docker".into());
    }
    if !install {
        return Err(Error::env(
            format!(
                "the host is not ready for the {kind} provider (missing: {})",
                describe(&pkgs, start_engine)
            ),
            Some(format!(
                "run `labctl setup`, or by hand: {}",
                commands.join(" && ")
            )),
        ));
    }
    if !is_root() || !is_debian_family() {
        let why = if !is_root() {
            "labctl setup needs root"
        } else {
            "labctl setup knows Debian-family hosts only"
        };
        return Err(Error::env(
            format!(
                "{why}; the host is missing: {}",
                describe(&pkgs, start_engine)
            ),
            Some(format!("run as root:\n    {}", commands.join("\n    "))),
        ));
    }
    let mut done = Vec::new();
    if !pkgs.is_empty() {
        eprintln!(
            "setup: installing {} from the distribution's packages",
            pkgs.join(" ")
        );
        runner.run(
            &Cmd::new("apt-get")
                .arg("update")
                .env("DEBIAN_FRONTEND", "noninteractive"),
        )?;
        runner.run(
            &Cmd::new("apt-get")
                .args(["install", "-y", "--no-install-recommends"])
                .args(pkgs.iter().copied())
                .env("DEBIAN_FRONTEND", "noninteractive"),
        )?;
        done.push(format!("installed {}", pkgs.join(" ")));
    }
    if kind == Kind::Docker && !engine_answers(runner) {
        done.push(start_docker(runner)?);
    }
    for d in &done {
        eprintln!("setup: {d}");
    }
    Ok(done)
}

fn describe(pkgs: &[&str], engine: bool) -> String {
    let mut parts: Vec<String> = pkgs.iter().map(|p| p.to_string()).collect();
    if engine {
        parts.push("a running Docker engine".into());
    }
    parts.join(", ")
}

/// Start containerd and dockerd. With systemd, ask it; without an init system
/// (containers, CI sandboxes) start both detached, logging under /var/log.
fn start_docker(runner: &dyn Runner) -> Result<String> {
    let how;
    if std::path::Path::new("/run/systemd/system").is_dir() {
        runner.run(&Cmd::new("systemctl").args(["start", "docker"]))?;
        how = "started docker with systemctl".to_string();
    } else {
        if !std::path::Path::new("/run/containerd/containerd.sock").exists() {
            spawn_daemon("containerd", &[], "/var/log/labctl-containerd.log")?;
            wait_for(Duration::from_secs(20), || {
                std::path::Path::new("/run/containerd/containerd.sock").exists()
            });
        }
        spawn_daemon(
            "dockerd",
            &["--containerd=/run/containerd/containerd.sock"],
            "/var/log/labctl-dockerd.log",
        )?;
        how =
            "started containerd and dockerd (no init system; logs in /var/log/labctl-dockerd.log)"
                .to_string();
    }
    if !wait_for(Duration::from_secs(60), || engine_answers(runner)) {
        return Err(Error::env(
            "the Docker engine did not answer within 60 s after starting it",
            Some("see /var/log/labctl-dockerd.log".into()),
        ));
    }
    Ok(how)
}

fn spawn_daemon(program: &str, args: &[&str], log: &str) -> Result<()> {
    use std::os::unix::process::CommandExt;
    let logf = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .map_err(|e| Error::io("open", log, e))?;
    let logf2 = logf.try_clone().map_err(|e| Error::io("open", log, e))?;
    let mut cmd = std::process::Command::new(program);
    cmd.args(args)
        .stdin(std::process::Stdio::null())
        .stdout(logf)
        .stderr(logf2);
    // Its own session: the daemon must outlive labctl and not get our Ctrl-C.
    unsafe {
        cmd.pre_exec(|| {
            nix::unistd::setsid().map_err(std::io::Error::from)?;
            Ok(())
        });
    }
    cmd.spawn().map_err(|e| Error::io("start", program, e))?;
    Ok(())
}

pub fn wait_for(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + limit;
    loop {
        if f() {
            return true;
        }
        if Instant::now() > end {
            return false;
        }
        std::thread::sleep(Duration::from_millis(300));
    }
}
