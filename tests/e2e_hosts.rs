//! End to end: a lab of existing machines (`[provider] kind = "hosts"`).
//!
//! The "existing machines" are made here, outside labctl: a Docker network of
//! this test's own (192.168.97.0/24) and two containers of the node image
//! with sshd, a login user with a key of this test's and passwordless sudo,
//! and a second user without sudo. labctl then brings a hosts lab up on them,
//! a check passes, and `down` gives them back: their file lists, containers
//! and qdiscs are what they were before. The broken cases each fail naming
//! the node: SSH refused, no passwordless sudo, a changed host key; and a
//! role that fails half way is undone by the failed `up`.
//!
//! Run under the e2e lock: `flock /tmp/labctl-e2e.lock cargo test --test e2e_hosts`.

mod common;

use common::{labctl, stderr};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const SUBNET: &str = "192.168.97.0/24";
const IP_A: &str = "192.168.97.11";
const IP_B: &str = "192.168.97.12";
const LAB: &str = "hostse2e";

/// A test's own network for its two machines.
struct Net {
    /// In the machines' and the network's names.
    name: &'static str,
    subnet: &'static str,
    a: &'static str,
    b: &'static str,
}

const HOSTS_NET: Net = Net {
    name: "hosts",
    subnet: SUBNET,
    a: IP_A,
    b: IP_B,
};

fn docker(args: &[&str]) -> std::process::Output {
    Command::new("docker")
        .args(args)
        .output()
        .expect("run docker")
}

fn docker_ok(args: &[&str]) -> String {
    let o = docker(args);
    assert!(
        o.status.success(),
        "docker {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The two machines and their network; removed when dropped, whatever the
/// test did.
struct Machines {
    net: String,
    names: Vec<String>,
}

impl Machines {
    fn name(&self, node: &str) -> &str {
        match node {
            "a" => &self.names[0],
            _ => &self.names[1],
        }
    }

    /// Run `script` as root on machine `node` (outside labctl).
    fn root(&self, node: &str, script: &str) -> String {
        docker_ok(&["exec", self.name(node), "bash", "-c", script])
    }
}

impl Drop for Machines {
    fn drop(&mut self) {
        for n in &self.names {
            let _ = docker(&["rm", "-f", n]);
        }
        let _ = docker(&["network", "rm", &self.net]);
    }
}

/// Make the machines on `net`: network, containers, users, keys; wait for
/// sshd. The machines named in `nested` (a, b) may run their own Docker
/// engine (the privileges the docker provider gives a node with
/// `nested_containers`).
fn make_machines(pubkey: &str, nested: &[&str], net: &Net) -> Machines {
    let tag = format!(
        "labctl-e2e-{}-{}{}",
        net.name,
        std::process::id(),
        if nested.is_empty() { "" } else { "-d" }
    );
    let m = Machines {
        net: tag.clone(),
        names: vec![format!("{tag}-a"), format!("{tag}-b")],
    };
    let image = "labctl-node:latest";
    assert!(
        docker(&["image", "inspect", image]).status.success(),
        "the node image {image} is not built (`labctl image build`)"
    );
    docker_ok(&["network", "create", "--subnet", net.subnet, &m.net]);
    for (name, ip, host) in [(&m.names[0], net.a, "a"), (&m.names[1], net.b, "b")] {
        let mut args: Vec<String> = [
            "run",
            "-d",
            "--name",
            name,
            "--hostname",
            host,
            "--network",
            &m.net,
            "--ip",
            ip,
            // netshape's tc needs it, as root on a real machine has it.
            "--cap-add",
            "NET_ADMIN",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        if nested.contains(&host) {
            args.extend(labctl::provider::docker::nested_args());
        }
        args.push(image.to_string());
        docker_ok(&args.iter().map(String::as_str).collect::<Vec<_>>());
    }
    let setup = format!(
        "set -e
        for u in labadmin nosudo; do
            useradd -m -s /bin/bash \"$u\"
            usermod -p '*' \"$u\"
            install -d -m 0700 -o \"$u\" -g \"$u\" /home/$u/.ssh
            printf '%s\\n' '{pubkey}' >/home/$u/.ssh/authorized_keys
            chown \"$u:$u\" /home/$u/.ssh/authorized_keys
            chmod 0600 /home/$u/.ssh/authorized_keys
        done
        # These machines are reached only with the test's own key (the node
        # image authorizes no key for `vagrant` without LABCTL_SSH_AUTHORIZED_KEY;
        # removing the file keeps it so whatever the image holds).
        rm -f /home/vagrant/.ssh/authorized_keys
        printf 'labadmin ALL=(ALL) NOPASSWD:ALL\\n' >/etc/sudoers.d/labadmin
        chmod 0440 /etc/sudoers.d/labadmin"
    );
    for n in ["a", "b"] {
        m.root(n, &setup);
    }
    for ip in [net.a, net.b] {
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect_timeout(
            &format!("{ip}:22").parse().unwrap(),
            Duration::from_secs(2),
        )
        .is_err()
        {
            assert!(
                Instant::now() < deadline,
                "sshd on {ip} did not answer in 60 s"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    m
}

/// What `down` must leave as it was: every path outside the kernel's and
/// the runtime's own trees (/proc, /sys, /dev, /run, /tmp), the logs
/// (/var/log: sshd and sudo log each login there) and the package manager's
/// databases and caches (they keep history: the installed packages are
/// compared instead), with each file's size and mode; the packages; the
/// containers inside; the network links, qdiscs and iptables rules (a table
/// with no rule and every policy ACCEPT reads as absent: iptables loads a
/// table when first asked, so a loaded empty one is the same machine).
fn machine_state(m: &Machines, node: &str) -> String {
    m.root(
        node,
        "find / -xdev \\( -path /proc -o -path /sys -o -path /dev -o -path /run -o -path /tmp -o -path /var/log \
         -o -path /var/lib/dpkg -o -path /var/lib/apt -o -path /var/cache/apt -o -path /var/cache/debconf \\) -prune \
         -o -type d -printf 'd %p %m\\n' -o -printf 'f %p %s %m\\n' | sort; \
         echo '== packages'; dpkg-query -W -f='${db:Status-Abbrev} ${Package} ${Version}\\n'; \
         echo '== containers'; (docker ps -a --format '{{.Names}}' 2>&1 || true); \
         echo '== links'; ip -o link | awk -F': ' '{print $2}'; \
         echo '== qdiscs'; tc qdisc show; \
         echo '== iptables'; iptables-save | grep -vE '^(#|\\*|COMMIT|:[A-Z]+ ACCEPT )'",
    )
}

fn assert_same(before: &str, after: &str, node: &str) {
    if before != after {
        let b: std::collections::BTreeSet<&str> = before.lines().collect();
        let a: std::collections::BTreeSet<&str> = after.lines().collect();
        panic!(
            "machine {node} is not as before: only before: {:?}; only after: {:?}",
            b.difference(&a).take(20).collect::<Vec<_>>(),
            a.difference(&b).take(20).collect::<Vec<_>>()
        );
    }
}

struct Node<'a> {
    name: &'a str,
    ip: &'a str,
    port: u16,
    user: &'a str,
    vars: &'a str,
}

fn good(name: &'static str, ip: &'static str) -> Node<'static> {
    Node {
        name,
        ip,
        port: 22,
        user: "labadmin",
        vars: "",
    }
}

/// Write the lab file (the test fixture's role folder beside it).
fn write_lab(dir: &Path, key: &Path, nodes: &[Node]) -> PathBuf {
    let mut text = format!(
        "name = \"{LAB}\"\n\n[provider]\nkind = \"hosts\"\n\n[network]\nsubnet = \"{SUBNET}\"\n"
    );
    for n in nodes {
        text.push_str(&format!(
            "\n[[node]]\nname = \"{}\"\nip = \"{}\"\nssh = {{ address = \"{}\", user = \"{}\", key = \"{}\", port = {} }}\nroles = [\"hostsdemo\"]\n{}\n",
            n.name,
            n.ip,
            n.ip,
            n.user,
            key.display(),
            n.port,
            n.vars
        ));
    }
    text.push_str(
        "\n[[check]]\nname = \"a has its config\"\nkind = \"file\"\nnode = \"a\"\npath = \"/etc/hostsdemo.conf\"\ncontains = \"node=a\"\ntimeout = \"5s\"\n\
         \n[[check]]\nname = \"a reaches b\"\nkind = \"reach\"\nfrom = \"a\"\nto = \"b\"\n",
    );
    let lab = dir.join("lab.toml");
    std::fs::write(&lab, text).unwrap();
    lab
}

#[test]
fn a_lab_on_existing_machines_is_given_back_as_it_was() {
    let _g = common::serial();
    let work = common::workdir("labctl-e2e-hosts-");
    let dir = work.path();
    common::copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/hosts"),
        dir,
    );
    let (key, pubkey) = lab_key(dir);
    let m = make_machines(pubkey.trim(), &[], &HOSTS_NET);
    let before = [machine_state(&m, "a"), machine_state(&m, "b")];
    let unchanged = |when: &str| {
        for (i, n) in ["a", "b"].iter().enumerate() {
            assert_same(&before[i], &machine_state(&m, n), &format!("{n} ({when})"));
        }
    };
    let state_dir = dir.join(".labctl").join(LAB);

    netshape_is_undone(&m, &before[0]);

    // Broken: b refuses SSH (nothing listens on the port the lab gives).
    let lab = write_lab(
        dir,
        &key,
        &[
            good("a", IP_A),
            Node {
                port: 2222,
                ..good("b", IP_B)
            },
        ],
    );
    let lab_s = lab.to_str().unwrap();
    let o = labctl(dir, &["up", lab_s]);
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(3), "{e}");
    assert!(e.contains("node b: cannot connect"), "{e}");
    assert!(!e.contains("node a:"), "a is fine: {e}");
    unchanged("after up refused by SSH");
    assert!(!state_dir.join("state.json").exists());

    // Broken: b's user has no passwordless sudo.
    write_lab(
        dir,
        &key,
        &[
            good("a", IP_A),
            Node {
                user: "nosudo",
                ..good("b", IP_B)
            },
        ],
    );
    let o = labctl(dir, &["up", lab_s]);
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(3), "{e}");
    assert!(
        e.contains("node b: user nosudo cannot run sudo without a password"),
        "{e}"
    );
    unchanged("after up refused for sudo");

    // Broken: b's role fails half way; the failed up undoes what started.
    write_lab(
        dir,
        &key,
        &[
            good("a", IP_A),
            Node {
                vars: "vars = { fail_after = \"config\" }",
                ..good("b", IP_B)
            },
        ],
    );
    let o = labctl(dir, &["up", lab_s]);
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(3), "{e}");
    assert!(
        e.contains("node b, role hostsdemo, step 1/2: exit 7"),
        "{e}"
    );
    assert!(e.contains("down: node b: undid role hostsdemo"), "{e}");
    unchanged("after a failed up was undone");
    assert!(!state_dir.join("state.json").exists());

    // The lab comes up, its checks pass, status/exec work.
    write_lab(dir, &key, &[good("a", IP_A), good("b", IP_B)]);
    let o = labctl(dir, &["up", lab_s]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        m.root("b", "cat /etc/hostsdemo.conf /var/lib/labctl/lab"),
        format!("node=b\nlab={LAB}\n{LAB}\n")
    );
    let o = labctl(dir, &["status", lab_s]);
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        out.contains("existing, SSH answers") && out.contains("hosts"),
        "{out}"
    );
    let o = labctl(
        dir,
        &["exec", lab_s, "a", "--", "cat", "/etc/hostsdemo.conf"],
    );
    assert_eq!(String::from_utf8_lossy(&o.stdout), "node=a\nlab=hostse2e\n");
    let o = labctl(dir, &["test", lab_s]);
    assert!(o.status.success(), "{}", stderr(&o));
    // Existing machines are never powered off by labctl.
    let o = labctl(dir, &["halt", lab_s]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("does not halt existing machines"));
    // A check of a file the role did not write fails (the verdicts are real).
    let mut text = std::fs::read_to_string(&lab).unwrap();
    text.push_str("\n[[check]]\nname = \"b has the config of a\"\nkind = \"file\"\nnode = \"b\"\npath = \"/etc/hostsdemo.conf\"\ncontains = \"node=a\"\ntimeout = \"3s\"\n");
    std::fs::write(&lab, text).unwrap();
    let o = labctl(dir, &["test", lab_s]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let all = format!("{}{}", String::from_utf8_lossy(&o.stdout), stderr(&o));
    assert!(all.contains("FAIL  b has the config of a"), "{all}");

    // b's host key changes: lab traffic and `down` are refused naming b;
    // `down` gives a back and keeps the state, and runs again once b's key
    // is back.
    m.root("b", "mkdir -p /root/keys && cp -a /etc/ssh/ssh_host_* /root/keys/ && rm /etc/ssh/ssh_host_* && ssh-keygen -A >/dev/null && kill -HUP \"$(cat /run/sshd.pid)\"");
    std::thread::sleep(Duration::from_millis(500));
    let o = labctl(dir, &["test", lab_s]);
    let e = stderr(&o);
    assert_ne!(o.status.code(), Some(0), "{e}");
    assert!(e.contains("node b: its SSH host key changed"), "{e}");
    let o = labctl(dir, &["down", lab_s]);
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(3), "{e}");
    assert!(e.contains("down: node a: undid role hostsdemo"), "{e}");
    assert!(e.contains("node b: its SSH host key changed"), "{e}");
    assert!(state_dir.join("state.json").exists() && state_dir.join("known_hosts").exists());
    m.root("b", "cp -a /root/keys/ssh_host_* /etc/ssh/ && rm -rf /root/keys && kill -HUP \"$(cat /run/sshd.pid)\"");
    std::thread::sleep(Duration::from_millis(500));
    let o = labctl(dir, &["down", lab_s]);
    let e = stderr(&o);
    assert!(o.status.success(), "{e}");
    assert!(
        e.contains("down: node a: nothing of lab hostse2e there"),
        "{e}"
    );
    assert!(e.contains("down: node b: undid role hostsdemo"), "{e}");
    assert!(!state_dir.join("state.json").exists());
    unchanged("after down");
    // A second down finds nothing.
    let o = labctl(dir, &["down", lab_s]);
    assert!(o.status.success(), "{}", stderr(&o));
    unchanged("after a second down");

    // Network safety: b's lab address is one b does not hold (its SSH
    // address is right): no check runs, the refusal names b.
    write_lab(
        dir,
        &key,
        &[
            good("a", IP_A),
            Node {
                ip: "192.168.97.13",
                ..good("b", IP_B)
            },
        ],
    );
    let text = std::fs::read_to_string(&lab).unwrap().replace(
        "address = \"192.168.97.13\"",
        &format!("address = \"{IP_B}\""),
    );
    std::fs::write(&lab, text).unwrap();
    let o = labctl(dir, &["test", lab_s]);
    let e = stderr(&o);
    assert_ne!(o.status.code(), Some(0), "{e}");
    assert!(
        e.contains(
            "node b: the machine at 192.168.97.12:22 does not hold its lab address 192.168.97.13"
        ),
        "{e}"
    );
    assert!(
        !e.contains("PASS") && !String::from_utf8_lossy(&o.stdout).contains("PASS"),
        "{e}"
    );
    let o = labctl(dir, &["down", lab_s]);
    assert!(o.status.success(), "{}", stderr(&o));
    unchanged("after the lab with a wrong lab address is down");
}

/// netshape's undo.sh on a real machine (machine a, real tc): after its
/// provision.sh shaped the lab interface, and run twice, the machine is as
/// before. Run with the role library as the wrappers run it (hosts labs
/// refuse `bandwidth`, so no lab of this test shapes).
fn netshape_is_undone(m: &Machines, before: &str) {
    let name = m.name("a");
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("provision");
    docker_ok(&["exec", name, "mkdir", "-p", "/tmp/ns"]);
    for d in ["_labctl", "netshape"] {
        docker_ok(&[
            "cp",
            root.join(d).to_str().unwrap(),
            &format!("{name}:/tmp/ns/"),
        ]);
    }
    let ip = format!("LABCTL_NODE_IP={IP_A}");
    let run = |script: &str| {
        let cmd = format!("set -euo pipefail; . /tmp/ns/_labctl/lib.sh; . ./{script}");
        docker(&[
            "exec",
            "-e",
            "LABCTL_BANDWIDTH=100mbit",
            "-e",
            &ip,
            "-e",
            "LABCTL_RESULT=/tmp/ns/result",
            "-e",
            "LABCTL_STEPS=1",
            "-w",
            "/tmp/ns/netshape",
            name,
            "bash",
            "-c",
            &cmd,
        ])
    };
    let o = run("provision.sh");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let shaped = m.root("a", "tc qdisc show");
    assert!(shaped.contains("qdisc tbf"), "{shaped}");
    for _ in 0..2 {
        let o = run("undo.sh");
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    docker_ok(&["exec", name, "rm", "-rf", "/tmp/ns"]);
    assert_same(
        before,
        &machine_state(m, "a"),
        "a (after netshape and its undo twice)",
    );
}

/// docker-host on an existing machine that has no Docker: `up` installs the
/// engine from the machine's own package source (a local repository holding
/// docker.io, tests/fixtures/hosts/without-docker.sh) and starts it; the lab
/// makes a container, an image and a network in it; `down` runs the role's
/// undo.sh, and the machine's files, packages, containers, links, qdiscs and
/// iptables rules are what they were before `up`.
#[test]
fn docker_host_on_an_existing_machine_is_undone() {
    let _g = common::serial();
    let work = common::workdir("labctl-e2e-hosts-docker-");
    let dir = work.path();
    let (key, pubkey) = lab_key(dir);
    let m = make_machines(pubkey.trim(), &["a"], &HOSTS_NET);
    let setup =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/hosts/without-docker.sh");
    docker_ok(&[
        "cp",
        setup.to_str().unwrap(),
        &format!("{}:/tmp/without-docker.sh", m.name("a")),
    ]);
    m.root(
        "a",
        "bash /tmp/without-docker.sh && rm /tmp/without-docker.sh",
    );
    let before = machine_state(&m, "a");
    assert!(!before.contains("ii  docker.io "), "{before}");

    let lab = docker_host_lab(dir, &key);
    let lab_s = lab.to_str().unwrap();
    let o = labctl(dir, &["up", lab_s]);
    assert!(o.status.success(), "{}", stderr(&o));
    // The engine runs, and the lab uses it: an image, a network, a container.
    let o = labctl(
        dir,
        &[
            "exec", lab_s, "a", "--", "sh", "-c",
            "set -e; d=$(mktemp -d); touch \"$d/x\"; tar -C \"$d\" -c . | sudo docker import - labe2e:empty >/dev/null; \
             sudo docker network create labe2e >/dev/null; sudo docker create --network labe2e --name labe2e labe2e:empty /x >/dev/null; \
             rm -r \"$d\"; sudo docker info --format '{{.Driver}}'; sudo docker ps -aq | wc -l",
        ],
    );
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "vfs\n1\n",
        "{}",
        stderr(&o)
    );
    let during = machine_state(&m, "a");
    assert!(
        during.contains("ii  docker.io ") && during.contains("docker0"),
        "{during}"
    );

    let o = labctl(dir, &["down", lab_s]);
    let e = stderr(&o);
    assert!(o.status.success(), "{e}");
    assert!(e.contains("down: node a: undid role docker-host"), "{e}");
    assert_same(
        &before,
        &machine_state(&m, "a"),
        "a (after docker-host and down)",
    );
}

/// A lab of one machine, a, with the docker-host role.
fn docker_host_lab(dir: &Path, key: &Path) -> PathBuf {
    let lab = dir.join("lab.toml");
    std::fs::write(
        &lab,
        format!(
            "name = \"{LAB}\"\n\n[provider]\nkind = \"hosts\"\n\n[network]\nsubnet = \"{SUBNET}\"\n\n\
             [[node]]\nname = \"a\"\nip = \"{IP_A}\"\nssh = {{ address = \"{IP_A}\", user = \"labadmin\", key = \"{}\" }}\nroles = [\"docker-host\"]\n",
            key.display()
        ),
    )
    .unwrap();
    lab
}

/// docker-host on a machine whose own Docker engine already runs, with
/// settings of its own (a label) and a container: the lab uses that engine
/// as it is, never restarting it or changing its settings, and `down`
/// leaves it running, the same process with the same settings and container.
#[test]
fn docker_host_on_a_machine_whose_docker_already_runs_keeps_that_engine() {
    own_engine_is_kept("service docker start >/dev/null");
}

/// The same with a dockerd the admin started by hand (as Docker CE's or a
/// snap's is to Debian's init script): no `service docker status` says so.
#[test]
fn docker_host_keeps_an_engine_started_by_hand() {
    own_engine_is_kept("{ setsid dockerd </dev/null >/var/log/dockerd-admin.log 2>&1 & }");
}

/// `start`: how the admin starts their engine (a shell command, as root).
fn own_engine_is_kept(start: &str) {
    let _g = common::serial();
    let work = common::workdir("labctl-e2e-hosts-own-docker-");
    let dir = work.path();
    let (key, pubkey) = lab_key(dir);
    let m = make_machines(pubkey.trim(), &["a"], &HOSTS_NET);
    // The machine's admin runs Docker: settings of their own, their own way
    // past the init script's ulimit (this machine is a container), started
    // as `start` says, and a container of theirs.
    m.root(
        "a",
        &"set -e; printf '{\"storage-driver\": \"vfs\", \"labels\": [\"owner=admin\"]}\\n' >/etc/docker/daemon.json; \
         echo 'ulimit() { :; }' >>/etc/default/docker; START; \
         for i in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 0.5; done; \
         d=$(mktemp -d); touch \"$d/x\"; tar -C \"$d\" -c . | docker import - admin:empty >/dev/null; rm -r \"$d\"; \
         docker create --name admins admin:empty /x >/dev/null"
            .replace("START", start),
    );
    let engine = |m: &Machines| {
        m.root(
            "a",
            "echo \"pid $(pgrep -x dockerd)\"; docker info --format '{{.Labels}} {{.Driver}}'; docker ps -a --format '{{.Names}}'",
        )
    };
    let engine_before = engine(&m);
    assert!(
        engine_before.contains("[owner=admin] vfs\nadmins\n"),
        "{engine_before}"
    );
    // The engine's own folder changes while it runs: judged by what it says.
    let files = |s: String| {
        s.lines()
            .filter(|l| !l.contains(" /var/lib/docker/") && !l.contains(" /var/lib/containerd/"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let before = files(machine_state(&m, "a"));

    let lab = docker_host_lab(dir, &key);
    let lab_s = lab.to_str().unwrap();
    let o = labctl(dir, &["up", lab_s]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        engine(&m),
        engine_before,
        "the lab restarted or changed the engine"
    );

    let o = labctl(dir, &["down", lab_s]);
    let e = stderr(&o);
    assert!(o.status.success(), "{e}");
    assert!(e.contains("down: node a: undid role docker-host"), "{e}");
    assert_eq!(
        engine(&m),
        engine_before,
        "down stopped or changed the engine"
    );
    assert_same(
        &before,
        &files(machine_state(&m, "a")),
        "a (its own Docker, after docker-host and down)",
    );
}

/// A fresh ed25519 key pair for the lab's nodes in `dir`: its private key's
/// path and its public key line.
fn lab_key(dir: &Path) -> (std::path::PathBuf, String) {
    let key = dir.join("id_lab");
    let kg = Command::new("ssh-keygen")
        .args([
            "-q",
            "-t",
            "ed25519",
            "-N",
            "",
            "-C",
            "labctl-e2e-hosts",
            "-f",
        ])
        .arg(&key)
        .status()
        .unwrap();
    assert!(kg.success());
    let pubkey = std::fs::read_to_string(dir.join("id_lab.pub")).unwrap();
    (key, pubkey)
}

/// The bench's own network and lab name, used by no other test.
const BENCH_NET: Net = Net {
    name: "hostbench",
    subnet: "192.168.98.0/24",
    a: "192.168.98.11",
    b: "192.168.98.12",
};
const BENCH_LAB: &str = "hostbench";

/// The seed's bench on existing machines, without shaping (hosts labs refuse
/// `bandwidth`): client on machine a, server on b, each with `roles`. The
/// raw host-to-host baseline, a host-mode and a bridge container on the
/// server, and a bridge container on the client to a host-mode one on the
/// server (so both machines run containers). Both machines are containers on
/// one Docker bridge: a host-mode container's path is the host's own, so its
/// ratio is bounded near 1 (1.09 on 3 Dec 2026); the bridge paths add the
/// nested engines' NAT (0.87 and 0.90 then), bounded by a floor that a path
/// falling back to a slow route fails, with room for a busy 2-core host.
fn write_bench_lab(dir: &Path, key: &Path, roles: &str) -> PathBuf {
    let node = |name: &str, ip: &str| {
        format!(
            "\n[[node]]\nname = \"{name}\"\nip = \"{ip}\"\nssh = {{ address = \"{ip}\", user = \"labadmin\", key = \"{}\" }}\nroles = {roles}\n",
            key.display()
        )
    };
    let mut text = format!(
        "name = \"{BENCH_LAB}\"\n\n[provider]\nkind = \"hosts\"\n\n[network]\nsubnet = \"{}\"\n",
        BENCH_NET.subnet
    );
    text.push_str(&node("client", BENCH_NET.a));
    text.push_str(&node("server", BENCH_NET.b));
    text.push_str("\n[bench]\nrounds = 2\n");
    for (name, client, server, baseline) in [
        (
            "raw",
            "{ node = \"client\" }",
            "{ node = \"server\" }",
            true,
        ),
        (
            "cross-host-mode",
            "{ node = \"client\" }",
            "{ node = \"server\", container = \"host\" }",
            false,
        ),
        (
            "cross-bridge",
            "{ node = \"client\" }",
            "{ node = \"server\", container = \"bridge\" }",
            false,
        ),
        (
            "bridge-to-host-mode",
            "{ node = \"client\", container = \"bridge\" }",
            "{ node = \"server\", container = \"host\" }",
            false,
        ),
    ] {
        text.push_str(&format!(
            "\n[[scenario]]\nname = \"{name}\"\nclient = {client}\nserver = {server}\nbaseline = {baseline}\nduration = 2\nomit = 1\n"
        ));
    }
    text.push_str(
        "\n[[ratio]]\nscenario = \"cross-host-mode\"\nmin = 0.6\nmax = 1.6\n\
         \n[[ratio]]\nscenario = \"cross-bridge\"\nmin = 0.3\n\
         \n[[ratio]]\nscenario = \"bridge-to-host-mode\"\nmin = 0.3\n",
    );
    let lab = dir.join("lab.toml");
    std::fs::write(&lab, text).unwrap();
    lab
}

/// `labctl bench` on a hosts lab: each machine makes the iperf3 image in its
/// own Docker from its own iperf3 (no node image: existing machines have
/// none), every scenario is measured in every round and the ratios are in
/// the report; `down` removes the image (docker-host's record names it) and
/// gives both machines back as they were. Broken first: a container scenario
/// on a node without docker-host is refused before `up`, naming the
/// scenario, the node and the role.
#[test]
fn the_bench_runs_on_existing_machines_that_are_given_back() {
    let _g = common::serial();
    let work = common::workdir("labctl-e2e-hostbench-");
    let dir = work.path();
    let (key, pubkey) = lab_key(dir);
    let m = make_machines(pubkey.trim(), &["a", "b"], &BENCH_NET);
    let before = [machine_state(&m, "a"), machine_state(&m, "b")];
    let unchanged = |when: &str| {
        for (i, n) in ["a", "b"].iter().enumerate() {
            assert_same(&before[i], &machine_state(&m, n), &format!("{n} ({when})"));
        }
    };
    let state_dir = dir.join(".labctl").join(BENCH_LAB);

    // Broken: no docker-host on the machines: refused (exit 2) before `up`,
    // naming the scenario's endpoint, the node and the role it lacks.
    let lab = write_bench_lab(dir, &key, "[]");
    let lab_s = lab.to_str().unwrap();
    let o = labctl(dir, &["bench", lab_s, "--rounds", "1"]);
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{e}");
    assert!(
        e.contains("error: scenario[1].server.node: node `server` runs no containers")
            && e.contains("expected a node with the docker-host role"),
        "{e}"
    );
    assert!(!state_dir.join("state.json").exists(), "not brought up");
    unchanged("after a refused bench");

    write_bench_lab(dir, &key, "[\"docker-host\"]");
    let o = labctl(dir, &["up", lab_s]);
    assert!(o.status.success(), "{}", stderr(&o));
    let report = dir.join("bench.json");
    let o = labctl(
        dir,
        &[
            "bench",
            lab_s,
            "--report",
            &format!("json:{}", report.display()),
        ],
    );
    let e = stderr(&o);
    let table = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(o.status.success(), "{e}");
    for node in ["client", "server"] {
        assert!(
            e.contains(&format!(
                "bench: making labctl-iperf3:v2-own on {node} from its own iperf3"
            )),
            "{e}"
        );
    }
    // The image holds the machine's own iperf3, byte for byte.
    let own = m.root("b", "sha256sum </usr/bin/iperf3");
    let in_image = m.root(
        "b",
        "c=$(docker create labctl-iperf3:v2-own); docker cp \"$c:/usr/bin/iperf3\" - | tar -xO | sha256sum; docker rm \"$c\" >/dev/null",
    );
    assert_eq!(own, in_image);
    // Recorded for `down` before it was made, whether or not the engine ran
    // before the role (docker-host's undo.sh removes what the record names).
    assert_eq!(
        m.root("b", "cat /var/lib/labctl/docker-host/bench-images"),
        "labctl-iperf3:v2-own\n"
    );
    let rec: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let summaries = rec["summaries"].as_array().unwrap();
    assert_eq!(summaries.len(), 4, "{rec}");
    for s in summaries {
        // The baseline runs beside every other scenario in each round.
        let runs = if s["baseline"] == true { 2 * 3 } else { 2 };
        assert_eq!(s["runs"], runs, "{s}");
        assert_eq!(s["runs"], s["measured"], "every run measured: {s}");
        assert!(s["median_gbps"].as_f64().unwrap() > 0.0, "{s}");
        assert!(s["ratio_to_baseline"].as_f64().is_some(), "{s}");
    }
    let checks = rec["checks"].as_array().unwrap();
    assert_eq!(checks.len(), 3, "{rec}");
    for c in checks {
        assert_eq!(c["verdict"], "pass", "{c}");
        assert!(c["measured"].as_f64().is_some(), "{c}");
    }
    assert!(
        table.contains("cross-host-mode") && table.contains("bridge-to-host-mode"),
        "{table}"
    );

    let o = labctl(dir, &["down", lab_s]);
    let e = stderr(&o);
    assert!(o.status.success(), "{e}");
    for node in ["client", "server"] {
        // By its record, before the engine's own "made since" sweep.
        assert!(
            e.contains(&format!(
                "[{node} docker-host undo] docker-host: removed the bench's image labctl-iperf3:v2-own"
            )),
            "{e}"
        );
        assert!(
            e.contains(&format!("down: node {node}: undid role docker-host")),
            "{e}"
        );
    }
    unchanged("after bench and down");
}
