//! The command line: argument parsing with clap and dispatch to the library.

use crate::error::{Exit, Result};
use crate::lifecycle::{self, LabArgs, UpOptions};
use crate::provider::Choice;
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

mod commands;
pub mod complete;
mod man;
mod rpm;

#[derive(Parser, Debug)]
#[command(
    name = "labctl",
    version,
    about = "Turn one lab file into a running, provisioned and tested multi-machine lab",
    long_about = "labctl renders a Vagrantfile from a lab file, drives Vagrant to bring the machines up, \
provisions them over SSH and runs end-to-end checks and bandwidth benchmarks.\n\n\
A LAB is the name of a shipped lab (see `labctl list`) or a path to a lab file. A path contains a `/` \
or ends in .toml (`./NAME` for a file in this folder); a bare name always means the shipped lab.",
    after_help = "Examples:\n  labctl up workflow\n  labctl status workflow\n  labctl ssh workflow web1\n  labctl down workflow\n  labctl validate workflow ./my-lab.toml\n\n\
Exit codes: 0 ok, 1 checks failed, 2 usage or lab-file errors, 3 provider, tool or environment errors."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// List the shipped labs: name, node count, description
    #[command(after_help = "Examples:\n  labctl list")]
    List,

    /// Check lab files and report every error with file:line:column
    #[command(
        after_help = "Examples:\n  labctl validate workflow\n  labctl validate labs/*.toml\n  labctl validate ./my-lab.toml\n\n\
Warnings are printed but never fail validation; exit code 2 means at least one error."
    )]
    Validate {
        /// Shipped lab names or lab file paths (with a `/` or ending in .toml); all shipped labs when none is given
        labs: Vec<String>,
    },

    /// Flag insecure patterns in lab files, their roles and the rendered files
    #[command(
        after_help = "Examples:\n  labctl lint workflow\n  labctl lint ./my-lab.toml\n\n\
Flags unauthenticated package sources (AllowUnauthenticated, trusted=yes, gpgcheck=0), `curl ... | sh`,\n\
credentials in URLs, SSH host key checking turned off and Vagrant's shared insecure key. They are errors\n\
(exit 2) unless the lab sets insecure = true, which turns them into warnings printed on every run.\n\
`labctl validate` runs the same checks."
    )]
    Lint {
        /// Shipped lab names or lab file paths (with a `/` or ending in .toml); all shipped labs when none is given
        labs: Vec<String>,
    },

    /// Render a lab's Vagrantfile, Ansible inventory, summary and role folders
    #[command(
        after_help = "Examples:\n  labctl render workflow\n  labctl render workflow --out /tmp/wf && (cd /tmp/wf && vagrant validate)\n\n\
The output is deterministic: two renders of the same lab are byte-identical."
    )]
    Render {
        /// Shipped lab name, or lab file path (with a `/` or ending in .toml)
        lab: String,
        /// Output folder (default: the lab's state dir, .labctl/NAME/)
        #[arg(long)]
        out: Option<PathBuf>,
    },

    /// Draw a lab: nodes, roles, ports, order, check paths
    #[command(
        after_help = "Examples:\n  labctl graph workflow                      # Mermaid, for Markdown pages\n  labctl graph workflow --format dot | dot -Tpng -o workflow.png\n  labctl graph workflow --out workflow.svg    # SVG drawn by labctl, no Graphviz needed\n\n\
Dashed arrows: a role waits for a role on another node (role.toml `after`). Solid arrows: a check or bench\n\
path from where it runs to what it probes; checks that stay on one node are listed in its box."
    )]
    Graph {
        #[command(flatten)]
        lab: LabArgs,
        /// Output format (default: from --out's extension, else mermaid)
        #[arg(long, value_enum)]
        format: Option<crate::graph::Format>,
        /// Write to this file instead of stdout (.svg, .dot/.gv, .mmd pick the format)
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },

    /// Print a shell completion script (lab names, and node names of a lab that is up)
    #[command(
        after_help = "Examples:\n  labctl completions bash > ~/.local/share/bash-completion/completions/labctl\n  labctl completions zsh > ~/.zfunc/_labctl\n  labctl completions fish > ~/.config/fish/completions/labctl.fish\n\n\
The script calls labctl back to complete: shipped lab names, and for ssh, exec, restart and\n\
provision --node the nodes of that lab that are up."
    )]
    Completions {
        #[arg(value_enum)]
        shell: complete::Shell,
    },

    /// Print the man page (or write one page per command into a folder)
    #[command(
        after_help = "Examples:\n  labctl man | man -l -\n  labctl man --out /usr/local/share/man/man1"
    )]
    Man {
        /// Write labctl.1 and labctl-COMMAND.1 pages into this folder
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },

    /// Install and start what a provider needs on this host (Debian family, as root)
    #[command(
        after_help = "Examples:\n  labctl setup\n  labctl setup --provider docker\n  labctl setup --provider docker,libvirt\n\n\
Installs from the distribution's packages (vagrant, a Docker engine when none answers, debootstrap,\n\
iperf3, ...; for docker also rpm, dnf and createrepo-c, for `labctl image build --rpm-repo`)\n\
and starts containerd and dockerd where no init system does.\n\
libvirt: vagrant-libvirt, libvirt and QEMU (qemu-utils at qemu-system-x86's version), a KVM probe that\n\
boots a kernel (cached in /var/lib/labctl/kvm-probe), virtlogd and libvirtd (TCG: with /dev/kvm hidden\n\
from libvirtd, and namespaces = [] in /etc/libvirt/qemu.conf), the storage pool `default`.\n\
Every change is printed (\"setup: change: ...\"); a second run changes nothing. Idempotent."
    )]
    Setup {
        /// The providers to set up (repeatable, or comma-separated)
        #[arg(long, value_enum, default_value = "auto", value_delimiter = ',')]
        provider: Vec<Choice>,
        /// libvirt: restart a libvirtd in the wrong mode even while it runs VMs that are not labctl's
        #[arg(long)]
        restart_libvirtd: bool,
    },

    /// Node images: the docker provider's image and the libvirt box
    Image {
        #[command(subcommand)]
        command: ImageCommand,
    },

    /// The signed offline package repository of a lab
    Repo {
        #[command(subcommand)]
        command: RepoCommand,
    },

    /// Bring a lab up and provision it (re-provisions a running lab)
    #[command(
        after_help = "Examples:\n  labctl up workflow\n  labctl up ./my-lab.toml --provider docker\n  labctl up workflow --name wf2 --subnet 192.168.60.0/24\n\n\
Runs `labctl setup` first when something is missing (unless --no-setup)."
    )]
    Up {
        #[command(flatten)]
        lab: LabArgs,
        #[arg(long, value_enum, default_value = "auto")]
        provider: Choice,
        /// Fail instead of installing what is missing on the host
        #[arg(long)]
        no_setup: bool,
        /// Rebuild the node image even if it is cached
        #[arg(long)]
        rebuild_image: bool,
        /// Bring machines up without running roles
        #[arg(long)]
        no_provision: bool,
        /// Keep what a failed first `up` created (default: remove it)
        #[arg(long)]
        keep_on_failure: bool,
        /// On a lab that is up: replace this node's machine with a new one
        /// and provision it and what depends on it (repeatable). Machines
        /// found gone are re-created without asking.
        #[arg(long, value_name = "NODE")]
        recreate: Vec<String>,
        /// Print where the run spent its time, phase by phase (also kept in its history record)
        #[arg(long)]
        timings: bool,
        /// Do not take the `provisioned` snapshot that `labctl reset` restores
        #[arg(long)]
        no_snapshot: bool,
    },

    /// Run roles again on a running lab (all, or some nodes/roles)
    #[command(
        after_help = "Examples:\n  labctl provision workflow\n  labctl provision workflow --node web2 --role ansible-pull\n\n\
Roles report changed, unchanged or skipped honestly."
    )]
    Provision {
        #[command(flatten)]
        lab: LabArgs,
        /// Only this node (repeatable)
        #[arg(long)]
        node: Vec<String>,
        /// Only this role (repeatable)
        #[arg(long)]
        role: Vec<String>,
        /// Print the per-role results as JSON on stdout
        #[arg(long)]
        json: bool,
        /// Print where the run spent its time, phase by phase (also kept in its history record)
        #[arg(long)]
        timings: bool,
        /// Do not take the `provisioned` snapshot that `labctl reset` restores
        #[arg(long)]
        no_snapshot: bool,
    },

    /// Show a lab's nodes: state, IP, provider, box (or node image), SSH address
    #[command(after_help = "Examples:\n  labctl status workflow\n  labctl status workflow --json")]
    Status {
        #[command(flatten)]
        lab: LabArgs,
        #[arg(long)]
        json: bool,
    },

    /// Open an interactive SSH session on a node (host key verified)
    #[command(after_help = "Examples:\n  labctl ssh workflow web1")]
    Ssh {
        #[command(flatten)]
        lab: LabArgs,
        node: String,
    },

    /// Run a command on a node; its exit code is passed through
    #[command(
        after_help = "Examples:\n  labctl exec workflow web1 -- cat /etc/hostname\n  labctl exec workflow mgmt -- ansible all -m ping"
    )]
    Exec {
        #[command(flatten)]
        lab: LabArgs,
        node: String,
        #[arg(last = true, required = true)]
        command: Vec<String>,
    },

    /// Stop a lab's machines (keeps them)
    #[command(after_help = "Examples:\n  labctl halt workflow")]
    Halt {
        #[command(flatten)]
        lab: LabArgs,
    },

    /// Restart a lab's machines, or one node, without re-provisioning
    #[command(after_help = "Examples:\n  labctl restart workflow\n  labctl restart workflow web2")]
    Restart {
        #[command(flatten)]
        lab: LabArgs,
        node: Option<String>,
    },

    /// Save, restore, list and delete snapshots of a running lab
    #[command(
        after_help = "Examples:\n  labctl snapshot save workflow before-upgrade\n  labctl snapshot restore workflow before-upgrade\n  labctl snapshot list workflow\n  labctl snapshot delete workflow before-upgrade\n\n\
`labctl up` and `labctl provision` take the snapshot `provisioned` after a successful run\n\
(unless --no-snapshot); `labctl reset LAB` restores it. `labctl down` removes every snapshot."
    )]
    Snapshot {
        #[command(subcommand)]
        command: SnapshotCommand,
    },

    /// Put a lab back to right after its last successful provisioning, in seconds
    #[command(
        after_help = "Examples:\n  labctl reset workflow && labctl test workflow\n\n\
Restores the snapshot `provisioned` that `up` and `provision` take (see `labctl snapshot`):\n\
same addresses, ports, disks (their contents too) and host keys; no re-provisioning."
    )]
    Reset {
        #[command(flatten)]
        lab: LabArgs,
    },

    /// Reports of `labctl test`: merge the reports of CI runners into one
    Report {
        #[command(subcommand)]
        command: ReportCommand,
    },

    /// Bring labs up if needed and run their checks; reports for CI
    #[command(
        after_help = "Examples:\n  labctl test workflow\n  labctl test workflow --report junit:out.xml --report json:out.json\n  labctl test --all --report junit:nightly.xml\n  labctl test --all --partition count:1/3 --report junit:shard-1.xml   # runner 1 of 3\n\n\
Exit codes: 0 every check of every lab passed, 1 a check failed, 2 bad lab file or a lab without checks,\n\
3 labctl could not do its job (provider, tool, network safety)."
    )]
    Test(TestArgs),

    /// Run a lab's iperf3 scenarios and print the bandwidth table with ratio verdicts
    #[command(
        after_help = "Examples:\n  labctl bench bench\n  labctl bench bench --rounds 3 --duration 2 --report json:run.json --csv run.csv --chart run.svg\n  labctl bench --compare before.json after.json\n\n\
Exit codes: 0 every ratio within its bounds, 1 a ratio out of bounds, 3 iperf3 could not run."
    )]
    Bench(BenchArgs),

    /// List a lab's recorded runs: result, duration, what changed
    #[command(
        after_help = "Examples:\n  labctl history workflow\n  labctl history workflow --json\n  labctl history workflow --history-dir /cache/labctl\n  labctl test workflow --since last   # mark what changed since the last run\n\n\
Every `labctl test` and `labctl bench` run appends a record (results, timings, tool versions, the lab\n\
file's digest) to .labctl/LAB/history/ (kept by `down`), or to DIR/LAB/ with --history-dir.\n\
Every `up`, `provision` and `down` appends one to .labctl/LAB/history/ too: its phases, timed\n\
(per node where a phase runs per node); `--timings` prints them at the end of the command."
    )]
    History {
        #[command(flatten)]
        lab: LabArgs,
        /// Read run records from DIR/LAB/ instead of the state dir's history/
        #[arg(long, value_name = "DIR")]
        history_dir: Option<PathBuf>,
        /// Print the records as JSON
        #[arg(long)]
        json: bool,
    },

    /// Destroy a lab and everything it owns (network, containers, volumes, disks)
    #[command(
        after_help = "Examples:\n  labctl down workflow\n  labctl down workflow --force   # state file unreadable: remove by label\n\n\
Idempotent: `down` on a lab that is already gone succeeds."
    )]
    Down {
        #[command(flatten)]
        lab: LabArgs,
        /// Proceed even if the state file is unreadable (removes by label)
        #[arg(long)]
        force: bool,
        /// Print where the run spent its time, phase by phase (also kept in its history record)
        #[arg(long)]
        timings: bool,
    },
}

// The arguments of `labctl test` (no doc comment: clap would take it for the command's about).
#[derive(Args, Debug)]
pub struct TestArgs {
    /// Shipped lab names or lab file paths (with a `/` or ending in .toml)
    pub labs: Vec<String>,
    /// Every shipped lab, one after the other (or side by side with --jobs)
    #[arg(long)]
    pub all: bool,
    /// Run up to N labs at once, each as its own `labctl test` with its output
    /// prefixed [LAB]; labs sharing a subnet or forwarded port wait, and a lab
    /// with bench ratios runs alone (at most 8: each running lab gets its own
    /// band of 100 SSH ports in 2200..2999)
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=8))]
    pub jobs: u16,
    /// Test only this runner's share of the labs: count:K/N or hash:K/N (share K of N)
    #[arg(long, value_name = "count:K/N|hash:K/N")]
    pub partition: Option<crate::testrun::partition::Partition>,
    /// Write a report: json:PATH or junit:PATH (repeatable)
    #[arg(long = "report", value_name = "FORMAT:PATH")]
    pub reports: Vec<crate::report::ReportSpec>,
    /// Destroy each lab after its run (default: never for named labs, always with --all)
    #[arg(long, value_enum)]
    pub destroy: Option<crate::testrun::Destroy>,
    #[arg(long, value_enum, default_value = "auto")]
    pub provider: Choice,
    #[arg(long)]
    pub no_setup: bool,
    /// Run checks one at a time
    #[arg(long)]
    pub serial: bool,
    /// Do not run checks whose name matches this regex (repeatable); reports list them as skipped
    #[arg(long, value_name = "REGEX")]
    pub skip: Vec<String>,
    /// Bench rounds for labs with ratio bounds (default: the lab's)
    #[arg(long)]
    pub bench_rounds: Option<u32>,
    /// Seconds per iperf3 run for labs with ratio bounds
    #[arg(long)]
    pub bench_duration: Option<u32>,
    /// Mark checks that newly fail or pass, and timings >20% and >2 s slower, since
    /// an earlier run: `last` (the latest recorded test run) or a run number
    #[arg(long, value_name = "last|RUN")]
    pub since: Option<crate::history::SinceArg>,
    /// Keep run records in DIR/LAB/ (e.g. a CI cache) instead of the state dir's history/
    #[arg(long, value_name = "DIR")]
    pub history_dir: Option<PathBuf>,
    /// Run a copy of the lab under this name (one lab only)
    #[arg(long)]
    pub name: Option<String>,
    /// ... on this subnet
    #[arg(long)]
    pub subnet: Option<ipnet::Ipv4Net>,
    /// Print where each lab's run spent its time, phase by phase (also kept in its history record)
    #[arg(long)]
    pub timings: bool,
}

// The arguments of `labctl bench`.
#[derive(Args, Debug)]
pub struct BenchArgs {
    /// Shipped lab name, or lab file path (with a `/` or ending in .toml); not needed with --compare
    #[arg(required_unless_present = "compare")]
    pub lab: Option<String>,
    /// Interleaved rounds (default: the lab's [bench] rounds)
    #[arg(long)]
    pub rounds: Option<u32>,
    /// Seconds per iperf3 run, overriding each scenario's duration
    #[arg(long)]
    pub duration: Option<u32>,
    /// Write the run record: json:PATH
    #[arg(long = "report", value_name = "json:PATH")]
    pub report: Option<crate::report::ReportSpec>,
    #[arg(long, value_name = "PATH")]
    pub csv: Option<PathBuf>,
    /// SVG bar chart
    #[arg(long, value_name = "PATH")]
    pub chart: Option<PathBuf>,
    /// Print the change per scenario between two run records
    #[arg(long, num_args = 2, value_names = ["A.json", "B.json"])]
    pub compare: Option<Vec<PathBuf>>,
    /// Keep run records in DIR/LAB/ (e.g. a CI cache) instead of the state dir's history/
    #[arg(long, value_name = "DIR")]
    pub history_dir: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "auto")]
    pub provider: Choice,
    #[arg(long)]
    pub no_setup: bool,
}

#[derive(Subcommand, Debug)]
pub enum ImageCommand {
    /// Build the node image (docker) and the node box (libvirt), cached by a hash of their inputs
    #[command(
        after_help = "Examples:\n  labctl image build\n  labctl image build --provider libvirt\n  labctl image build --rebuild\n  labctl image build --mirror http://deb.debian.org/debian\n  labctl image build --release bookworm --packages tree vim --output rootfs.tar.gz --import my-debian:bookworm\n  \
labctl image build --rpm-repo /mnt/rhel9/BaseOS --rpm-repo /mnt/rhel9/AppStream \\\n      \
--gpg-key /mnt/rhel9/RPM-GPG-KEY-redhat-release --releasever 9 \\\n      \
--packages bash,coreutils-single,dnf --tag my-rhel:9 --output my-rhel-9.tar\n\n\
Without --provider: the docker node image, and the libvirt box too when libvirt answers on this host\n\
(after `labctl setup --provider libvirt`). The box (labctl/node-HASH, added to Vagrant) is made from the\n\
node image's root file system plus a kernel, systemd and a bootloader; it needs no download."
    )]
    Build {
        /// Build even if an image with the same inputs exists
        #[arg(long)]
        rebuild: bool,
        /// Only this provider's node image: docker (the image) or libvirt (the box)
        #[arg(long, value_enum)]
        provider: Option<ImageFor>,
        /// Debian mirror (default: the host's configured one)
        #[arg(long)]
        mirror: Option<String>,
        /// Debian release
        #[arg(long, default_value = "bookworm")]
        release: String,
        /// Extra Debian packages (with --output/--import: a root file system of your own); with
        /// --rpm-repo the RPM packages to install
        #[arg(long, num_args = 1.., value_delimiter = ',', value_name = "PKG")]
        packages: Vec<String>,
        /// Write the root file system as a tarball (.tar or .tar.gz) instead of making the node
        /// image; with --rpm-repo the image as `docker save` writes it (for `docker load`)
        #[arg(long, value_name = "FILE")]
        output: Option<PathBuf>,
        /// Import the root file system as a Docker image of this name (docker import)
        #[arg(long, visible_alias = "tag", value_name = "NAME")]
        import: Option<String>,
        #[command(
            flatten,
            next_help_heading = "RHEL-family images from local RPM repositories"
        )]
        rpm: rpm::RpmArgs,
    },
}

/// Which node image `labctl image build` makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ImageFor {
    Docker,
    Libvirt,
}

#[derive(Subcommand, Debug)]
pub enum RepoCommand {
    /// Download the packages a lab's offline nodes need (with dependencies), index and sign them
    #[command(
        after_help = "Examples:\n  labctl repo build testnodes\n  labctl repo build ./my-lab.toml --json\n\n\
The repository is signed with a per-lab key kept in the state dir (.labctl/LAB/repo/key); nodes with the\n\
offline-apt role trust that key alone (never AllowUnauthenticated or trusted=yes)."
    )]
    Build {
        #[command(flatten)]
        lab: LabArgs,
        /// Print what was built as JSON
        #[arg(long)]
        json: bool,
    },
}

pub fn main() -> ExitCode {
    complete::answer();
    let cli = Cli::parse();
    crate::interrupt::install();
    match run(cli) {
        Ok(exit) => ExitCode::from(exit as u8),
        Err(e) => {
            eprint!("{}", e.render());
            ExitCode::from(e.exit() as u8)
        }
    }
}

pub fn run(cli: Cli) -> Result<Exit> {
    match cli.command {
        Command::List => commands::list(),
        Command::Validate { labs } => commands::validate(labs),
        Command::Lint { labs } => commands::lint(labs),
        Command::Render { lab, out } => commands::render(&lab, out),
        Command::Setup {
            provider,
            restart_libvirtd,
        } => commands::setup(provider, restart_libvirtd),
        Command::Completions { shell } => complete::script(shell),
        Command::Man { out } => man::man(out),
        Command::Graph { lab, format, out } => commands::graph(&lab, format, out),
        Command::Image {
            command:
                ImageCommand::Build {
                    rpm,
                    packages,
                    output,
                    import: Some(tag),
                    ..
                },
        } if !rpm.rpm_repo.is_empty() => rpm::build(rpm, packages, tag, output),
        Command::Image {
            command:
                ImageCommand::Build {
                    rebuild: _,
                    mirror,
                    release,
                    packages,
                    output,
                    import,
                    ..
                },
        } if output.is_some() || import.is_some() => {
            commands::image_rootfs(mirror, release, packages, output, import)
        }
        Command::Repo {
            command: RepoCommand::Build { lab, json },
        } => commands::repo_build(lab, json),
        Command::Image {
            command:
                ImageCommand::Build {
                    rebuild,
                    provider,
                    mirror,
                    release,
                    packages,
                    ..
                },
        } => commands::image_build(rebuild, provider, mirror, release, packages),
        Command::Up {
            lab,
            provider,
            no_setup,
            rebuild_image,
            no_provision,
            keep_on_failure,
            recreate,
            timings,
            no_snapshot,
        } => lifecycle::up(
            &lab,
            &UpOptions {
                rebuild_image,
                provision: !no_provision,
                keep_on_failure,
                recreate,
                timings,
                snapshot: !no_snapshot,
                ..UpOptions::new(provider, no_setup)
            },
        ),
        Command::Provision {
            lab,
            node,
            role,
            json,
            timings,
            no_snapshot,
        } => lifecycle::provision(&lab, node, role, json, timings, !no_snapshot),
        Command::Snapshot { command } => match command {
            SnapshotCommand::Save { lab, snapshot } => {
                lifecycle::snapshot_save(&lab, snapshot.as_deref())
            }
            SnapshotCommand::Restore { lab, snapshot } => {
                lifecycle::snapshot_restore(&lab, snapshot.as_deref())
            }
            SnapshotCommand::List { lab, json } => lifecycle::snapshot_list(&lab, json),
            SnapshotCommand::Delete { lab, snapshot } => {
                lifecycle::snapshot_delete(&lab, &snapshot)
            }
        },
        Command::Reset { lab } => lifecycle::reset(&lab),
        Command::Status { lab, json } => lifecycle::status(&lab, json),
        Command::Ssh { lab, node } => lifecycle::ssh(&lab, &node),
        Command::Exec { lab, node, command } => lifecycle::exec(&lab, &node, &command),
        Command::Halt { lab } => lifecycle::halt(&lab),
        Command::Restart { lab, node } => lifecycle::restart(&lab, node.as_deref()),
        Command::Down {
            lab,
            force,
            timings,
        } => lifecycle::down(&lab, force, timings),
        Command::History {
            lab,
            history_dir,
            json,
        } => commands::history(&lab, history_dir, json),
        Command::Bench(args) => commands::bench(args),
        Command::Test(args) => commands::test(args),
        Command::Report {
            command: ReportCommand::Merge { out, inputs },
        } => commands::report_merge(&out, &inputs),
    }
}

#[derive(Subcommand, Debug)]
pub enum ReportCommand {
    /// One report from the reports of a suite split over CI runners (`labctl test --partition`)
    #[command(
        after_help = "Examples:\n  labctl report merge nightly.xml shard-*.xml\n  labctl report merge nightly.json shard-1.json shard-2.json\n\n\
OUT's extension says the format (.xml JUnit, .json JSON); every input must be of that format and\n\
of one schema version. One testsuite (JSON: one report) per lab, sorted by lab; the counts and\n\
times are summed. A lab found in two inputs is refused (the shards overlapped).\n\n\
Exit codes: 0 merged, 2 an input refused (the error names it), 3 a file could not be read or written."
    )]
    Merge {
        /// The merged report: OUT.xml (JUnit XML) or OUT.json (JSON)
        #[arg(value_name = "OUT")]
        out: PathBuf,
        /// The runners' reports, all of OUT's format
        #[arg(value_name = "IN", required = true)]
        inputs: Vec<PathBuf>,
    },
}

#[derive(Subcommand, Debug)]
pub enum SnapshotCommand {
    /// Take a snapshot of every node (replaces one of the same name)
    #[command(
        after_help = "Examples:\n  labctl snapshot save workflow\n  labctl snapshot save workflow before-upgrade"
    )]
    Save {
        #[command(flatten)]
        lab: LabArgs,
        /// Snapshot name (default: saved)
        #[arg(value_name = "NAME")]
        snapshot: Option<String>,
    },
    /// Put every node back to a snapshot (default: the newest)
    #[command(
        after_help = "Examples:\n  labctl snapshot restore workflow before-upgrade\n  labctl snapshot restore workflow"
    )]
    Restore {
        #[command(flatten)]
        lab: LabArgs,
        /// Snapshot name (default: the newest)
        #[arg(value_name = "NAME")]
        snapshot: Option<String>,
    },
    /// List a lab's snapshots
    #[command(
        after_help = "Examples:\n  labctl snapshot list workflow\n  labctl snapshot list workflow --json"
    )]
    List {
        #[command(flatten)]
        lab: LabArgs,
        #[arg(long)]
        json: bool,
    },
    /// Delete a snapshot
    #[command(after_help = "Examples:\n  labctl snapshot delete workflow before-upgrade")]
    Delete {
        #[command(flatten)]
        lab: LabArgs,
        #[arg(value_name = "NAME")]
        snapshot: String,
    },
}
