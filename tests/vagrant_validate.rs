//! The rendered Vagrantfile against the real tools: `ruby -c` and `vagrant
//! validate` (under the virtualbox and the docker provider) for every shipped
//! lab, and for a lab whose free-text fields hold Ruby and shell payloads, with
//! proof that nothing in them was executed and that every value arrived intact.
//!
//! The libvirt block is validated by the vagrant-libvirt plugin itself, with
//! the runtime file `labctl up` writes on libvirt (the box labctl builds, TCG
//! or KVM, console logs, labctl's management network).
//!
//! `ruby` and `vagrant` are required (CI installs Debian's `ruby` and `vagrant`
//! packages): when they are missing these tests fail, they never skip.

use labctl::load::{self as lab, Loaded};
use labctl::render::{env_name, render};
use rstest::rstest;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The full path of a tool on PATH, or a failure that says how to get it.
fn require_tool(tool: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|d| d.join(tool))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "`{tool}` is not on PATH; these tests need the real tool. \
                 Install it first (Debian/Ubuntu: `sudo apt-get install -y ruby vagrant`, as .ci/run does)."
            )
        })
}

/// `vagrant`, with its home folder set up once before tests use it in
/// parallel: on a fresh `~/.vagrant.d`, Vagrant 2.3.4 truncates
/// `setup_version` before writing it, and a second process reading it in that
/// moment fails with "unknown version".
fn vagrant() -> PathBuf {
    static HOME_READY: std::sync::Once = std::sync::Once::new();
    let program = require_tool("vagrant");
    HOME_READY.call_once(|| {
        let dir = tempfile::tempdir().unwrap();
        let o = run(dir.path(), &program, &["box", "list"], &[]);
        assert!(o.status.success(), "vagrant box list: {}", show(&o));
    });
    program
}

fn run(dir: &Path, program: &Path, args: &[&str], envs: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(program);
    cmd.args(args)
        .current_dir(dir)
        .env("VAGRANT_CHECKPOINT_DISABLE", "1")
        .env_remove("VAGRANT_DEFAULT_PROVIDER");
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd.output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", program.display()))
}

fn show(o: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Whether Vagrant's docker provider is usable here (it runs `docker version`).
fn docker_usable() -> bool {
    Command::new("docker")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Render into `dir`, then `ruby -c` and `vagrant validate` under both template
/// branches that differ (the docker one and the others, here virtualbox).
///
/// Vagrant validates the settings of the active provider only, and only when
/// that provider is usable on this host: virtualbox is validated with
/// `--ignore-provider` (the machine, network, forwarded-port and provisioner
/// settings; VirtualBox itself is not needed), docker in full when a Docker
/// engine answers.
fn render_and_validate(loaded: &Loaded, dir: &Path) {
    let ruby = require_tool("ruby");
    let vagrant = vagrant();
    render(loaded)
        .unwrap_or_else(|e| panic!("{}", e.render()))
        .write_to(dir)
        .unwrap();

    let o = run(dir, &ruby, &["-c", "Vagrantfile"], &[]);
    assert!(
        o.status.success() && String::from_utf8_lossy(&o.stdout).contains("Syntax OK"),
        "ruby -c:\n{}",
        show(&o)
    );

    let docker_args: &[&str] = if docker_usable() {
        &["validate"]
    } else {
        eprintln!("note: no usable Docker engine; docker provider settings validated with --ignore-provider");
        &["validate", "--ignore-provider"]
    };
    for (provider, args) in [
        ("virtualbox", &["validate", "--ignore-provider"][..]),
        ("docker", docker_args),
    ] {
        let o = run(
            dir,
            &vagrant,
            args,
            &[("VAGRANT_DEFAULT_PROVIDER", provider)],
        );
        assert!(
            o.status.success(),
            "vagrant {} ({provider}) in {}:\n{}",
            args.join(" "),
            dir.display(),
            show(&o)
        );
        assert!(
            String::from_utf8_lossy(&o.stdout).contains("Vagrantfile validated successfully"),
            "{}",
            show(&o)
        );
    }
}

#[rstest]
#[case::bench("bench")]
#[case::docker_deploy("docker-deploy")]
#[case::testnodes("testnodes")]
#[case::workflow("workflow")]
fn shipped_lab_passes_vagrant_validate(#[case] name: &str) {
    let loaded = lab::load(name).unwrap_or_else(|e| panic!("{}", e.render()));
    let dir = tempfile::tempdir().unwrap();
    render_and_validate(&loaded, dir.path());
}

/// The runtime file `labctl up` writes on libvirt, for `lab`.
fn libvirt_runtime(loaded: &Loaded, dir: &Path, driver: &str) -> String {
    use labctl::state::runtime::{LibvirtRuntime, ManagementNetwork, Runtime};
    let spec = labctl::provider::node_image::Spec::node(&loaded.roles);
    Runtime {
        image: None,
        libvirt: Some(LibvirtRuntime {
            box_name: labctl::provider::boxes::name(&spec),
            driver: driver.into(),
            console_dir: dir.join("console"),
            management_network: ManagementNetwork {
                name: labctl::provider::libvirt::management_name(&loaded.lab),
                address: "192.168.150.0/24".parse().unwrap(),
            },
            owner: labctl::provider::libvirt::owner(&loaded.lab),
        }),
        nodes: Default::default(),
        provider: labctl::state::Kind::Libvirt,
    }
    .to_text()
}

/// `vagrant validate` of a rendered lab with a libvirt runtime file: the
/// provider comes from the runtime file, so vagrant-libvirt validates its
/// block (disks, serial console, CPU settings) for every machine.
fn validate_libvirt(dir: &Path) -> Output {
    let plugins = run(dir, &vagrant(), &["plugin", "list"], &[]);
    assert!(
        String::from_utf8_lossy(&plugins.stdout).contains("vagrant-libvirt"),
        "the vagrant-libvirt plugin is not installed (`labctl setup --provider libvirt` installs it):\n{}",
        show(&plugins)
    );
    run(dir, &vagrant(), &["validate"], &[])
}

#[rstest]
#[case::testnodes_tcg("testnodes", "qemu")]
#[case::testnodes_kvm("testnodes", "kvm")]
#[case::workflow_tcg("workflow", "qemu")]
fn libvirt_block_passes_vagrant_libvirts_validate(#[case] name: &str, #[case] driver: &str) {
    let loaded = lab::load(name).unwrap_or_else(|e| panic!("{}", e.render()));
    let dir = tempfile::tempdir().unwrap();
    render(&loaded)
        .unwrap_or_else(|e| panic!("{}", e.render()))
        .write_to(dir.path())
        .unwrap();
    std::fs::write(
        dir.path().join("labctl-runtime.json"),
        libvirt_runtime(&loaded, dir.path(), driver),
    )
    .unwrap();
    let o = validate_libvirt(dir.path());
    assert!(
        o.status.success()
            && String::from_utf8_lossy(&o.stdout).contains("Vagrantfile validated successfully"),
        "vagrant validate (libvirt) in {}:\n{}",
        dir.path().display(),
        show(&o)
    );
}

/// The same validation fails when the libvirt block is wrong: a second extra
/// disk on a device the node already has is refused by vagrant-libvirt.
#[test]
fn libvirt_validate_refuses_a_disk_on_a_taken_device() {
    let loaded = lab::load("testnodes").unwrap_or_else(|e| panic!("{}", e.render()));
    let dir = tempfile::tempdir().unwrap();
    render(&loaded).unwrap().write_to(dir.path()).unwrap();
    std::fs::write(
        dir.path().join("labctl-runtime.json"),
        libvirt_runtime(&loaded, dir.path(), "qemu"),
    )
    .unwrap();
    let vf = dir.path().join("Vagrantfile");
    let text = std::fs::read_to_string(&vf).unwrap();
    let start = text
        .find("      lv.storage :file")
        .expect("testnodes has extra disks");
    let line = &text[start..=start + text[start..].find('\n').unwrap()];
    std::fs::write(&vf, text.replacen(line, &format!("{line}{line}"), 1)).unwrap();
    let o = validate_libvirt(dir.path());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "{}", show(&o));
    assert!(
        err.contains("Libvirt Provider") && err.contains("duplicates :device attribute"),
        "{}",
        show(&o)
    );
}

#[test]
fn every_shipped_lab_is_validated() {
    assert_eq!(
        labctl::assets::lab_names(),
        ["bench", "docker-deploy", "testnodes", "workflow"],
        "add the new lab to the cases above"
    );
}

/// Files in `dir` whose name starts with PWNED (what the payloads would create).
fn markers(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

/// Evaluates a Vagrantfile under a stub `Vagrant.configure` that records every
/// provisioner's `env:`, and prints LAB_DESCRIPTION and those envs as JSON.
const STUB: &str = r#"
require 'json'
class LabctlRecorder
  def initialize(log)
    @log = log
  end
  def method_missing(name, *args, **kw, &blk)
    @log << kw[:env] if name == :provision && kw[:env]
    blk.call(self, self) if blk
    self
  end
  def respond_to_missing?(*)
    true
  end
end
module Vagrant
  ENVS = []
  def self.configure(_version)
    yield LabctlRecorder.new(ENVS)
  end
end
load File.expand_path('Vagrantfile')
puts JSON.generate({ 'description' => LAB_DESCRIPTION, 'envs' => Vagrant::ENVS })
"#;

#[test]
fn payload_lab_is_inert() {
    let ruby = require_tool("ruby");
    let marker_dir = tempfile::tempdir().unwrap();
    let marker = marker_dir.path().to_str().unwrap();
    let lab_dir = tempfile::tempdir().unwrap();
    let out_dir = tempfile::tempdir().unwrap();

    let template = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/payload/lab.toml"),
    )
    .unwrap();
    assert!(template.contains("@MARKER@"));
    let lab_file = lab_dir.path().join("lab.toml");
    std::fs::write(&lab_file, template.replace("@MARKER@", marker)).unwrap();

    // Validation accepts every payload: they are printable one-line text.
    let loaded = lab::load(lab_file.to_str().unwrap()).unwrap_or_else(|e| panic!("{}", e.render()));
    assert!(loaded.warnings.is_empty(), "{}", loaded.render_warnings());
    assert!(
        loaded.lab.description.contains("#{system("),
        "{}",
        loaded.lab.description
    );

    render_and_validate(&loaded, out_dir.path());
    assert_eq!(
        markers(marker_dir.path()),
        Vec::<String>::new(),
        "a payload ran during ruby -c or vagrant validate"
    );

    // Evaluate the Vagrantfile for real (not only parse it): every value must
    // come out exactly as the lab file holds it, and nothing may run.
    let stub = out_dir.path().join("stub.rb");
    std::fs::write(&stub, STUB).unwrap();
    let o = run(out_dir.path(), &ruby, &[stub.to_str().unwrap()], &[]);
    assert!(o.status.success(), "{}", show(&o));
    assert_eq!(
        markers(marker_dir.path()),
        Vec::<String>::new(),
        "a payload ran while the Vagrantfile was evaluated"
    );
    let got: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(got["description"], loaded.lab.description.as_str());

    let envs = got["envs"].as_array().unwrap();
    let mut seen = 0;
    for node in &loaded.lab.nodes {
        let env = envs
            .iter()
            .find(|e| e["LABCTL_NODE"] == node.name.as_str())
            .unwrap_or_else(|| panic!("no provisioner env for {}", node.name));
        for (k, v) in &node.vars {
            assert_eq!(
                env[env_name(k)],
                labctl::render::vagrant_env_value(&v.value).as_str(),
                "{}: var {k}",
                node.name
            );
            seen += 1;
        }
    }
    assert!(seen >= 15, "only {seen} payload vars checked");

    // The summary carries the description verbatim, too.
    let summary = std::fs::read_to_string(out_dir.path().join("summary.txt")).unwrap();
    assert!(summary.contains(&loaded.lab.description));
    assert_eq!(markers(marker_dir.path()), Vec::<String>::new());
}

/// The Vagrantfile's header comment names the lab file: a file name holding a
/// newline must not end the comment and inject Ruby that `vagrant validate`
/// runs (render.rs replaces control characters).
#[test]
fn lab_file_name_cannot_inject_ruby() {
    let vagrant = vagrant();
    let dir = tempfile::tempdir().unwrap();
    let name = "evil\nFile.write('PWNED-filename', '')\n#.toml";
    std::fs::write(
        dir.path().join(name),
        "name = \"fname\"\n\n[network]\nsubnet = \"192.168.62.0/24\"\n\n[[node]]\nname = \"a\"\nip = \"192.168.62.10\"\n",
    )
    .unwrap();
    let loaded = lab::load(dir.path().join(name).to_str().unwrap())
        .unwrap_or_else(|e| panic!("{}", e.render()));
    let out = dir.path().join("out");
    render(&loaded).unwrap().write_to(&out).unwrap();
    let o = run(&out, &vagrant, &["validate", "--ignore-provider"], &[]);
    assert!(o.status.success(), "{}", show(&o));
    assert!(
        !out.join("PWNED-filename").exists(),
        "the lab file's name ran as Ruby"
    );
}

/// What Vagrant 2.3.4's shell provisioner runs on the guest for `env:`
/// (plugins/provisioners/shell/provisioner.rb: `KEY="value"` with only `"`
/// escaped), applied to the recorded envs and run by /bin/sh.
const GUEST: &str = r##"
def quote_and_escape(text, quote = '"')
  "#{quote}#{text.gsub(/#{quote}/) { |m| "#{m}\\#{m}#{m}" }}#{quote}"
end
require 'json'
bad = []
JSON.parse(STDIN.read)['envs'].each do |env|
  line = env.map { |k, v| "#{k}=#{quote_and_escape(v.to_s)}" }.join(' ')
  out = IO.popen(['/bin/sh', '-c', "#{line} /usr/bin/env"], &:read)
  # labctl pre-escapes \\, $ and backquote for this context; what arrives must be
  # the lab file's value.
  env.each { |k, v| bad << k unless out.include?("#{k}=#{v.to_s.gsub(/\\([\\$`])/) { $1 }}\n") }
end
abort("arrived changed: #{bad.join(', ')}") unless bad.empty?
"##;

/// Role variables reach the guest through the shell provisioner's `env:`, which
/// Vagrant puts in double quotes escaping only `"`; labctl escapes `\`, `$` and
/// backquote first. This replays Vagrant 2.3.4's quoting under /bin/sh and
/// checks every payload value arrives byte for byte, with nothing executed.
#[test]
fn role_vars_are_inert_in_the_guest_shell() {
    let ruby = require_tool("ruby");
    let marker_dir = tempfile::tempdir().unwrap();
    let lab_dir = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    let template = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/payload/lab.toml"),
    )
    .unwrap();
    let lab_file = lab_dir.path().join("lab.toml");
    std::fs::write(
        &lab_file,
        template.replace("@MARKER@", marker_dir.path().to_str().unwrap()),
    )
    .unwrap();
    let loaded = lab::load(lab_file.to_str().unwrap()).unwrap_or_else(|e| panic!("{}", e.render()));
    render(&loaded).unwrap().write_to(out.path()).unwrap();
    std::fs::write(out.path().join("stub.rb"), STUB).unwrap();
    std::fs::write(out.path().join("guest.rb"), GUEST).unwrap();
    let o = Command::new("/bin/sh")
        .arg("-c")
        .arg(format!(
            "'{}' stub.rb | '{}' guest.rb",
            ruby.display(),
            ruby.display()
        ))
        .current_dir(out.path())
        .output()
        .unwrap();
    assert_eq!(
        markers(marker_dir.path()),
        Vec::<String>::new(),
        "a role variable ran in the guest shell"
    );
    assert!(o.status.success(), "{}", show(&o));
}

/// Plain `vagrant up --provider docker` of a rendered lab whose network labctl
/// has not made stops before creating any container and names the commands
/// that make what is missing (issue 10, item 3). Before, Docker created some
/// containers and failed the rest with `network labctl-LAB not found`.
#[test]
fn plain_vagrant_up_without_the_labs_network_creates_nothing() {
    let vagrant = vagrant();
    assert!(
        docker_usable(),
        "this test needs a Docker engine: run `labctl setup --provider docker` first"
    );
    let lab_dir = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    // A name and subnet no other test uses, so its network cannot exist.
    let lab_file = lab_dir.path().join("lab.toml");
    std::fs::write(
        &lab_file,
        "name = \"plainvagrant\"\n[network]\nsubnet = \"192.168.93.0/24\"\n\
         [[node]]\nname = \"n\"\ncount = 2\nip = \"192.168.93.11\"\n",
    )
    .unwrap();
    let loaded = lab::load(lab_file.to_str().unwrap()).unwrap_or_else(|e| panic!("{}", e.render()));
    render(&loaded).unwrap().write_to(out.path()).unwrap();
    let containers = || {
        let o = Command::new("docker")
            .args(["ps", "-aq", "--filter", "label=labctl.lab=plainvagrant"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&o.stdout).trim().to_string()
    };
    // Whatever happens, leave nothing behind (the old Vagrantfile did).
    struct Cleanup;
    impl Drop for Cleanup {
        fn drop(&mut self) {
            let _ = Command::new("sh")
                .args([
                    "-c",
                    "docker ps -aq --filter label=labctl.lab=plainvagrant | xargs -r docker rm -f -v",
                ])
                .output();
        }
    }
    let _cleanup = Cleanup;

    let o = run(out.path(), &vagrant, &["up", "--provider", "docker"], &[]);
    let text = show(&o);
    assert!(!o.status.success(), "{text}");
    assert!(
        text.contains("lab plainvagrant: the Docker network labctl-plainvagrant ")
            && text.contains("not exist, so no machine was created"),
        "{text}"
    );
    assert!(
        text.contains("Run `labctl up plainvagrant`")
            && text.contains(
                "docker network create --subnet 192.168.93.0/24 --label labctl.lab=plainvagrant labctl-plainvagrant"
            ),
        "names the commands to run: {text}"
    );
    assert_eq!(containers(), "", "no container was created: {text}");
    // The commands that do not create machines still work without them.
    let o = run(
        out.path(),
        &vagrant,
        &["status"],
        &[("VAGRANT_DEFAULT_PROVIDER", "docker")],
    );
    assert!(o.status.success(), "{}", show(&o));
}
