//! Host setup: install what a provider needs from the distribution's packages,
//! start the Docker engine where no init system does, and say what was done.
//!
//! A `docker` client on the PATH proves nothing (fresh machines here ship a
//! client without an engine), so the engine is probed with `docker info`.

pub mod libvirt;

use crate::error::{Error, Result};
use crate::exec::{Cmd, Runner};
use crate::provider::Kind;
use std::time::{Duration, Instant};

/// A tool labctl needs and the Debian package that provides it.
struct Need {
    program: &'static str,
    package: &'static str,
}

fn needs(kind: Kind) -> Vec<Need> {
    // Existing machines: no Vagrant, no machine made here; the host only
    // reaches them (labctl's own SSH, and OpenSSH for `labctl ssh`).
    if kind == Kind::Hosts {
        return vec![Need {
            program: "ssh",
            package: "openssh-client",
        }];
    }
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
        // libvirt: its own steps (libvirt.rs), packages included.
        Kind::Libvirt | Kind::Virtualbox | Kind::Hosts => {}
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
    missing_of(&needs(kind), kind == Kind::Docker, runner)
}

/// The tools of `needs` that are not on the PATH, as packages, and whether a
/// Docker engine is wanted and does not answer.
fn missing_of(needs: &[Need], engine: bool, runner: &dyn Runner) -> (Vec<&'static str>, bool) {
    let mut pkgs: Vec<&'static str> = needs
        .iter()
        .filter(|n| runner.which(n.program).is_none())
        .map(|n| n.package)
        .collect();
    let mut start_engine = false;
    if engine && !engine_answers(runner) {
        if runner.which("dockerd").is_none() {
            pkgs.push("docker.io");
        }
        start_engine = true;
    }
    pkgs.sort();
    pkgs.dedup();
    (pkgs, start_engine)
}

/// What `labctl image build --rpm-repo` runs on the host: Debian's own rpm
/// (rpm, and rpmbuild/rpmsign for making packages), dnf and createrepo_c (to
/// index a folder of packages), and a Docker engine to import the image. Not
/// part of a provider's needs: `labctl up` never runs them.
const RPM_NEEDS: &[Need] = &[
    Need {
        program: "rpm",
        package: "rpm",
    },
    Need {
        program: "dnf",
        package: "dnf",
    },
    Need {
        program: "createrepo_c",
        package: "createrepo-c",
    },
    Need {
        program: "tar",
        package: "tar",
    },
];

/// Make the host ready to build images from RPM repositories (see [`RPM_NEEDS`]).
pub fn ensure_rpm_tools(runner: &dyn Runner, install: bool) -> Result<Vec<String>> {
    let (pkgs, start_engine) = missing_of(RPM_NEEDS, true, runner);
    apply(
        "building images from RPM repositories",
        &pkgs,
        start_engine,
        runner,
        install,
    )
}

/// Make the host ready for `kind`; returns what was done (empty when nothing was).
/// Without `install` (`up --no-setup`) only check, and fail naming what is missing.
pub fn ensure(kind: Kind, runner: &dyn Runner, install: bool) -> Result<Vec<String>> {
    ensure_with(kind, runner, install, false)
}

/// [`ensure`]; `restart_libvirtd`: see [`libvirt::ensure`] (`labctl setup --restart-libvirtd`).
pub fn ensure_with(
    kind: Kind,
    runner: &dyn Runner,
    install: bool,
    restart_libvirtd: bool,
) -> Result<Vec<String>> {
    if kind == Kind::Libvirt {
        if !install {
            libvirt::check(runner)?;
            return Ok(vec![]);
        }
        let host = crate::provider::kvm::Host::system();
        return Ok(libvirt::ensure(runner, &host, restart_libvirtd)?.changes);
    }
    let (pkgs, start_engine) = missing(kind, runner);
    apply(
        &format!("the {kind} provider"),
        &pkgs,
        start_engine,
        runner,
        install,
    )
}

/// Install `pkgs` and start the Docker engine if asked, for `purpose` (what
/// the host is made ready for, named in messages).
fn apply(
    purpose: &str,
    pkgs: &[&'static str],
    start_engine: bool,
    runner: &dyn Runner,
    install: bool,
) -> Result<Vec<String>> {
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
                "the host is not ready for {purpose} (missing: {})",
                describe(pkgs, start_engine)
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
                describe(pkgs, start_engine)
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
    if start_engine && !engine_answers(runner) {
        done.push(start_docker(runner)?);
    }
    for d in &done {
        eprintln!("setup: {d}");
    }
    Ok(done)
}

/// Host changes need root on a Debian-family host; `by_hand` says what to run otherwise.
fn require_root_debian(by_hand: &str) -> Result<()> {
    if is_root() && is_debian_family() {
        return Ok(());
    }
    let why = if !is_root() {
        "labctl setup needs root"
    } else {
        "labctl setup knows Debian-family hosts only"
    };
    Err(Error::env(
        why,
        Some(format!("run as root:\n    {by_hand}")),
    ))
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
///
/// A socket *file* proves nothing: /run is not always a tmpfs, so a machine
/// restored from a snapshot keeps `containerd.sock` from a daemon long gone.
/// Only a socket that accepts a connection counts as a running daemon.
fn start_docker(runner: &dyn Runner) -> Result<String> {
    if std::path::Path::new("/run/systemd/system").is_dir() {
        runner.run(&Cmd::new("systemctl").args(["start", "docker"]))?;
        if !wait_for(Duration::from_secs(60), || engine_answers(runner)) {
            return Err(Error::env(
                "the Docker engine did not answer within 60 s after `systemctl start docker`",
                Some("see `journalctl -u docker`".into()),
            ));
        }
        return Ok("started docker with systemctl".to_string());
    }
    const CONTAINERD_SOCK: &str = "/run/containerd/containerd.sock";
    const CONTAINERD_LOG: &str = "/var/log/labctl-containerd.log";
    const DOCKERD_LOG: &str = "/var/log/labctl-dockerd.log";
    let mut how = Vec::new();
    if !socket_answers(CONTAINERD_SOCK) {
        let mut d = Daemon::spawn("containerd", &[], CONTAINERD_LOG)?;
        d.wait_until(Duration::from_secs(30), || socket_answers(CONTAINERD_SOCK))?;
        how.push("containerd");
    }
    let mut d = Daemon::spawn(
        "dockerd",
        &["--containerd=/run/containerd/containerd.sock"],
        DOCKERD_LOG,
    )?;
    d.wait_until(Duration::from_secs(60), || engine_answers(runner))?;
    how.push("dockerd");
    Ok(format!(
        "started {} (no init system; logs in {})",
        how.join(" and "),
        if how.len() == 2 {
            format!("{CONTAINERD_LOG} and {DOCKERD_LOG}")
        } else {
            DOCKERD_LOG.to_string()
        }
    ))
}

/// Does something accept connections on this Unix socket?
fn socket_answers(path: &str) -> bool {
    std::os::unix::net::UnixStream::connect(path).is_ok()
}

/// A daemon labctl started, with the part of its log written since.
struct Daemon {
    program: String,
    child: std::process::Child,
    log: String,
    log_start: u64,
}

impl Daemon {
    fn spawn(program: &str, args: &[&str], log: &str) -> Result<Daemon> {
        use std::os::unix::process::CommandExt;
        let logf = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .map_err(|e| Error::io("open", log, e))?;
        let log_start = logf.metadata().map(|m| m.len()).unwrap_or(0);
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
        let child = cmd.spawn().map_err(|e| Error::io("start", program, e))?;
        Ok(Daemon {
            program: std::iter::once(program)
                .chain(args.iter().copied())
                .collect::<Vec<_>>()
                .join(" "),
            child,
            log: log.to_string(),
            log_start,
        })
    }

    /// Wait for `ready`; fail early, with the daemon's own words, if it exits.
    fn wait_until(&mut self, limit: Duration, mut ready: impl FnMut() -> bool) -> Result<()> {
        let mut exited = None;
        let ok = wait_for(limit, || {
            if ready() {
                return true;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                exited = Some(status);
                return true;
            }
            false
        });
        let excerpt = log_excerpt(&self.log, self.log_start);
        match exited {
            Some(status) => Err(Error::Tool {
                command: self.program.clone(),
                code: status.code(),
                stderr: excerpt,
                hint: Some(format!("the whole log is {}", self.log)),
            }),
            None if ok => Ok(()),
            None => Err(Error::env(
                format!(
                    "`{}` did not become ready within {} s{}",
                    self.program,
                    limit.as_secs(),
                    indent_excerpt(&excerpt)
                ),
                Some(format!("it is still running; see {}", self.log)),
            )),
        }
    }
}

/// The lines a daemon wrote since `from`, without its info/debug chatter,
/// which buries the one line that says why it stopped.
fn log_excerpt(path: &str, from: u64) -> String {
    let text = std::fs::read(path).unwrap_or_default();
    let new = text.get(from as usize..).unwrap_or(&[]);
    let text = String::from_utf8_lossy(new);
    let kept: Vec<&str> = text
        .lines()
        .filter(|l| !l.contains("level=info") && !l.contains("level=debug"))
        .collect();
    let start = kept.len().saturating_sub(15);
    kept[start..].join("\n")
}

fn indent_excerpt(excerpt: &str) -> String {
    if excerpt.trim().is_empty() {
        return String::new();
    }
    let mut s = String::from("; its log says:");
    for l in excerpt.lines() {
        s.push_str("\n    ");
        s.push_str(l);
    }
    s
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_daemon_that_exits_is_reported_with_its_own_last_words() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("d.log");
        std::fs::write(&log, "level=fatal msg=\"from an earlier run\"\n").unwrap();
        let log = log.to_str().unwrap();
        let mut d = Daemon::spawn(
            "sh",
            &[
                "-c",
                "echo 'level=info msg=chatter'; echo 'level=error msg=\"no iptables\"' >&2; exit 3",
            ],
            log,
        )
        .unwrap();
        let err = d.wait_until(Duration::from_secs(20), || false).unwrap_err();
        let text = err.render();
        assert!(text.contains("failed with exit code 3"), "{text}");
        assert!(text.contains("no iptables"), "{text}");
        assert!(!text.contains("    level=info"), "{text}");
        assert!(!text.contains("earlier run"), "{text}");
    }

    #[test]
    fn a_daemon_that_never_gets_ready_times_out_and_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("d.log");
        let mut d = Daemon::spawn(
            "sh",
            &["-c", "echo 'level=warning msg=slow' >&2; sleep 30"],
            log.to_str().unwrap(),
        )
        .unwrap();
        // Wait until the daemon has spoken (bounded), so a slow process start
        // on a loaded machine cannot leave the excerpt empty.
        for _ in 0..200 {
            if std::fs::read_to_string(&log).is_ok_and(|t| t.contains("msg=slow")) {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let err = d
            .wait_until(Duration::from_millis(900), || false)
            .unwrap_err();
        let _ = d.child.kill();
        let text = err.render();
        assert!(text.contains("did not become ready within 0 s"), "{text}");
        assert!(text.contains("level=warning msg=slow"), "{text}");
    }

    /// Command-sequence test (recorded): what `image build --rpm-repo` asks for.
    #[test]
    fn rpm_tools_are_named_by_their_debian_packages_and_up_never_asks_for_them() {
        let r = crate::exec::Recorder::default();
        r.answer("docker info", 0, "24.0.5\n");
        *r.missing_programs.lock().unwrap() = vec!["dnf".into(), "createrepo_c".into()];
        let e = ensure_rpm_tools(&r, false).unwrap_err().render();
        assert!(
            e.contains("the host is not ready for building images from RPM repositories (missing: createrepo-c, dnf)"),
            "{e}"
        );
        assert!(
            e.contains("apt-get install -y --no-install-recommends createrepo-c dnf"),
            "{e}"
        );
        assert_eq!(
            missing(Kind::Docker, &r),
            (vec![], false),
            "up needs none of them"
        );
        r.missing_programs.lock().unwrap().clear();
        assert_eq!(ensure_rpm_tools(&r, false).unwrap(), Vec::<String>::new());
    }

    #[test]
    fn a_stale_socket_file_is_not_a_running_daemon() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("stale.sock");
        // Bind, then drop the listener: the file stays, nobody listens.
        drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
        assert!(path.exists());
        assert!(!socket_answers(path.to_str().unwrap()));
        let live = dir.path().join("live.sock");
        let _l = std::os::unix::net::UnixListener::bind(&live).unwrap();
        assert!(socket_answers(live.to_str().unwrap()));
    }
}
