//! The command line: argument parsing with clap and dispatch to the library.

use crate::error::{Error, Exit, Result};
use crate::lifecycle::{self, LabArgs};
use crate::load;
use crate::provider::Choice;
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(
    name = "labctl",
    version,
    about = "Turn one lab file into a running, provisioned and tested multi-machine lab",
    long_about = "labctl renders a Vagrantfile from a lab file, drives Vagrant to bring the machines up, \
provisions them over SSH and runs end-to-end checks and bandwidth benchmarks.\n\n\
A LAB is the name of a shipped lab (see `labctl list`) or a path to a lab file.",
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
        /// Labs by name or path; all shipped labs when none is given
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
        /// Labs by name or path; all shipped labs when none is given
        labs: Vec<String>,
    },

    /// Render a lab's Vagrantfile, Ansible inventory, summary and role folders
    #[command(
        after_help = "Examples:\n  labctl render workflow\n  labctl render workflow --out /tmp/wf && (cd /tmp/wf && vagrant validate)\n\n\
The output is deterministic: two renders of the same lab are byte-identical."
    )]
    Render {
        /// Lab name or path
        lab: String,
        /// Output folder (default: the lab's state dir, .labctl/NAME/)
        #[arg(long)]
        out: Option<PathBuf>,
    },

    /// Install and start what a provider needs on this host (Debian family, as root)
    #[command(
        after_help = "Examples:\n  labctl setup\n  labctl setup --provider docker\n\n\
Installs from the distribution's packages (vagrant, a Docker engine when none answers, debootstrap, iperf3, ...)\n\
and starts containerd and dockerd where no init system does. Idempotent."
    )]
    Setup {
        #[arg(long, value_enum, default_value = "auto")]
        provider: Choice,
    },

    /// Node images for the docker provider
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
        lab: LabOpt,
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
    },

    /// Run roles again on a running lab (all, or some nodes/roles)
    #[command(
        after_help = "Examples:\n  labctl provision workflow\n  labctl provision workflow --node web2 --role ansible-pull\n\n\
Roles report changed, unchanged or skipped honestly."
    )]
    Provision {
        #[command(flatten)]
        lab: LabOpt,
        /// Only this node (repeatable)
        #[arg(long)]
        node: Vec<String>,
        /// Only this role (repeatable)
        #[arg(long)]
        role: Vec<String>,
        /// Print the per-role results as JSON on stdout
        #[arg(long)]
        json: bool,
    },

    /// Show a lab's nodes: state, IP, provider, SSH address
    #[command(after_help = "Examples:\n  labctl status workflow\n  labctl status workflow --json")]
    Status {
        #[command(flatten)]
        lab: LabOpt,
        #[arg(long)]
        json: bool,
    },

    /// Open an interactive SSH session on a node (host key verified)
    #[command(after_help = "Examples:\n  labctl ssh workflow web1")]
    Ssh {
        #[command(flatten)]
        lab: LabOpt,
        node: String,
    },

    /// Run a command on a node; its exit code is passed through
    #[command(
        after_help = "Examples:\n  labctl exec workflow web1 -- cat /etc/hostname\n  labctl exec workflow mgmt -- ansible all -m ping"
    )]
    Exec {
        #[command(flatten)]
        lab: LabOpt,
        node: String,
        #[arg(last = true, required = true)]
        command: Vec<String>,
    },

    /// Stop a lab's machines (keeps them)
    #[command(after_help = "Examples:\n  labctl halt workflow")]
    Halt {
        #[command(flatten)]
        lab: LabOpt,
    },

    /// Restart a lab's machines, or one node, without re-provisioning
    #[command(after_help = "Examples:\n  labctl restart workflow\n  labctl restart workflow web2")]
    Restart {
        #[command(flatten)]
        lab: LabOpt,
        node: Option<String>,
    },

    /// Bring labs up if needed and run their checks; reports for CI
    #[command(
        after_help = "Examples:\n  labctl test workflow\n  labctl test workflow --report junit:out.xml --report json:out.json\n  labctl test --all --report junit:nightly.xml\n\n\
Exit codes: 0 every check of every lab passed, 1 a check failed, 2 bad lab file or a lab without checks,\n\
3 labctl could not do its job (provider, tool, network safety)."
    )]
    Test {
        /// Labs by name or path
        labs: Vec<String>,
        /// Every shipped lab, one after the other
        #[arg(long)]
        all: bool,
        /// Write a report: json:PATH or junit:PATH (repeatable)
        #[arg(long = "report", value_name = "FORMAT:PATH")]
        reports: Vec<crate::testrun::ReportSpec>,
        /// Destroy each lab after its run (default: never for named labs, always with --all)
        #[arg(long, value_enum)]
        destroy: Option<crate::testrun::Destroy>,
        #[arg(long, value_enum, default_value = "auto")]
        provider: Choice,
        #[arg(long)]
        no_setup: bool,
        /// Run checks one at a time
        #[arg(long)]
        serial: bool,
        /// Leave out checks whose name matches this regex (repeatable)
        #[arg(long, value_name = "REGEX")]
        skip: Vec<String>,
        /// Bench rounds for labs with ratio bounds (default: the lab's)
        #[arg(long)]
        bench_rounds: Option<u32>,
        /// Seconds per iperf3 run for labs with ratio bounds
        #[arg(long)]
        bench_duration: Option<u32>,
        /// Run a copy of the lab under this name (one lab only)
        #[arg(long)]
        name: Option<String>,
        /// ... on this subnet
        #[arg(long)]
        subnet: Option<ipnet::Ipv4Net>,
    },

    /// Run a lab's iperf3 scenarios and print the bandwidth table with ratio verdicts
    #[command(
        after_help = "Examples:\n  labctl bench bench\n  labctl bench bench --rounds 3 --duration 2 --report json:run.json --csv run.csv --chart run.svg\n  labctl bench --compare before.json after.json\n\n\
Exit codes: 0 every ratio within its bounds, 1 a ratio out of bounds, 3 iperf3 could not run."
    )]
    Bench {
        /// Lab name or path (not needed with --compare)
        #[arg(required_unless_present = "compare")]
        lab: Option<String>,
        /// Interleaved rounds (default: the lab's [bench] rounds)
        #[arg(long)]
        rounds: Option<u32>,
        /// Seconds per iperf3 run, overriding each scenario's duration
        #[arg(long)]
        duration: Option<u32>,
        /// Write the run record: json:PATH
        #[arg(long = "report", value_name = "json:PATH")]
        report: Option<crate::testrun::ReportSpec>,
        #[arg(long, value_name = "PATH")]
        csv: Option<PathBuf>,
        /// SVG bar chart
        #[arg(long, value_name = "PATH")]
        chart: Option<PathBuf>,
        /// Print the change per scenario between two run records
        #[arg(long, num_args = 2, value_names = ["A.json", "B.json"])]
        compare: Option<Vec<PathBuf>>,
        #[arg(long, value_enum, default_value = "auto")]
        provider: Choice,
        #[arg(long)]
        no_setup: bool,
    },

    /// Destroy a lab and everything it owns (network, containers, volumes, disks)
    #[command(
        after_help = "Examples:\n  labctl down workflow\n  labctl down workflow --force   # state file unreadable: remove by label\n\n\
Idempotent: `down` on a lab that is already gone succeeds."
    )]
    Down {
        #[command(flatten)]
        lab: LabOpt,
        /// Proceed even if the state file is unreadable (removes by label)
        #[arg(long)]
        force: bool,
    },
}

/// Which lab, and which copy of it.
#[derive(Args, Debug, Clone)]
pub struct LabOpt {
    /// Lab name (see `labctl list`) or path to a lab file
    pub lab: String,
    /// Run a second copy of the lab under this name
    #[arg(long)]
    pub name: Option<String>,
    /// Put the copy on this subnet (same prefix length; host numbers are kept)
    #[arg(long)]
    pub subnet: Option<ipnet::Ipv4Net>,
    /// State dir (default: .labctl/NAME beside the lab file, or in the current dir for shipped labs)
    #[arg(long)]
    pub state_dir: Option<PathBuf>,
}

impl LabOpt {
    fn args(&self) -> LabArgs {
        LabArgs {
            lab: self.lab.clone(),
            name: self.name.clone(),
            subnet: self.subnet,
            state_dir: self.state_dir.clone(),
        }
    }
}

#[derive(Subcommand, Debug)]
pub enum ImageCommand {
    /// Build the docker provider's node image (cached by a hash of its inputs)
    #[command(
        after_help = "Examples:\n  labctl image build\n  labctl image build --rebuild\n  labctl image build --mirror http://deb.debian.org/debian\n  labctl image build --release bookworm --packages tree vim --output rootfs.tar.gz --import my-debian:bookworm"
    )]
    Build {
        /// Build even if an image with the same inputs exists
        #[arg(long)]
        rebuild: bool,
        /// Debian mirror (default: the host's configured one)
        #[arg(long)]
        mirror: Option<String>,
        /// Debian release
        #[arg(long, default_value = "bookworm")]
        release: String,
        /// Extra Debian packages (with --output/--import: a root file system of your own)
        #[arg(long, num_args = 1.., value_name = "PKG")]
        packages: Vec<String>,
        /// Write the root file system as a tarball (.tar or .tar.gz) instead of making the node image
        #[arg(long, value_name = "FILE")]
        output: Option<PathBuf>,
        /// Import the root file system as a Docker image of this name (docker import)
        #[arg(long, value_name = "NAME")]
        import: Option<String>,
    },
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
        lab: LabOpt,
        /// Print what was built as JSON
        #[arg(long)]
        json: bool,
    },
}

pub fn main() -> ExitCode {
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
        Command::List => list(),
        Command::Validate { labs } => validate(labs),
        Command::Lint { labs } => lint(labs),
        Command::Render { lab, out } => render(&lab, out),
        Command::Setup { provider } => {
            let r = crate::exec::System;
            let (kind, why) = crate::provider::choose(provider, &r);
            eprintln!("provider: {kind} ({why})");
            let done = crate::setup::ensure(kind, &r, true)?;
            if done.is_empty() {
                eprintln!("setup: everything the {kind} provider needs is present");
            }
            Ok(Exit::Ok)
        }
        Command::Image {
            command:
                ImageCommand::Build {
                    rebuild: _,
                    mirror,
                    release,
                    packages,
                    output,
                    import,
                },
        } if output.is_some() || import.is_some() => {
            let r = crate::exec::System;
            crate::setup::ensure(crate::provider::Kind::Docker, &r, true)?;
            let spec = crate::provider::docker::image::Spec {
                release,
                mirror,
                packages,
            };
            let b = crate::provider::docker::image::build_rootfs_tar(
                &spec,
                output.as_deref(),
                import.as_deref(),
                &r,
            )?;
            if let (Some(o), Some(n)) = (&b.output, b.bytes) {
                println!("{} ({} MiB)", o.display(), n >> 20);
            }
            if let Some(i) = &b.imported {
                println!("{i}");
            }
            Ok(Exit::Ok)
        }
        Command::Repo {
            command: RepoCommand::Build { lab, json },
        } => {
            let op = lifecycle::open(&lab.args())?;
            let _lock = crate::state::LabLock::acquire(&op.dir, &op.lab().name.value)?;
            let info = crate::repo::build(
                op.lab(),
                &op.loaded.roles,
                &crate::repo::default_dir(&op.dir),
                &crate::exec::System,
            )?;
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&info).unwrap_or_default()
                );
            } else {
                println!(
                    "{} ({} packages, {} KiB, key {})",
                    info.dir.display(),
                    info.packages,
                    info.bytes / 1024,
                    info.key_fingerprint
                );
            }
            Ok(Exit::Ok)
        }
        Command::Image {
            command:
                ImageCommand::Build {
                    rebuild,
                    mirror,
                    release,
                    packages,
                    ..
                },
        } => {
            let r = crate::exec::System;
            crate::setup::ensure(crate::provider::Kind::Docker, &r, true)?;
            if !packages.is_empty() {
                return Err(Error::usage("--packages builds a root file system of your own: add --output FILE or --import NAME"));
            }
            let roles = crate::roles::RoleSet::load(None)?;
            let spec = crate::provider::docker::image::Spec {
                release,
                mirror,
                packages: roles.packages(roles.roles.keys().map(|s| s.as_str())),
            };
            let tag = crate::provider::docker::image::ensure(&spec, &r, rebuild)?;
            println!("{tag}");
            Ok(Exit::Ok)
        }
        Command::Up {
            lab,
            provider,
            no_setup,
            rebuild_image,
            no_provision,
            keep_on_failure,
        } => lifecycle::up(
            &lab.args(),
            &lifecycle::UpOptions {
                provider,
                no_setup,
                rebuild_image,
                provision: !no_provision,
                keep_on_failure,
            },
        ),
        Command::Provision {
            lab,
            node,
            role,
            json,
        } => lifecycle::provision(&lab.args(), node, role, json),
        Command::Status { lab, json } => lifecycle::status(&lab.args(), json),
        Command::Ssh { lab, node } => lifecycle::ssh(&lab.args(), &node),
        Command::Exec { lab, node, command } => lifecycle::exec(&lab.args(), &node, &command),
        Command::Halt { lab } => lifecycle::halt(&lab.args()),
        Command::Restart { lab, node } => lifecycle::restart(&lab.args(), node.as_deref()),
        Command::Down { lab, force } => lifecycle::down(&lab.args(), force),
        Command::Bench {
            lab,
            rounds,
            duration,
            report,
            csv,
            chart,
            compare,
            provider,
            no_setup,
        } => {
            if let Some(c) = compare {
                return crate::bench::cmd::compare(&c[0], &c[1]);
            }
            let json = match report {
                Some(crate::testrun::ReportSpec::Json(p)) => Some(p),
                Some(_) => {
                    return Err(Error::usage(
                        "bench writes json:PATH reports (JUnit comes from `labctl test`)",
                    ))
                }
                None => None,
            };
            let lab = LabArgs {
                lab: lab.unwrap_or_default(),
                name: None,
                subnet: None,
                state_dir: None,
            };
            crate::bench::cmd::bench(
                &lab,
                &lifecycle::UpOptions {
                    provider,
                    no_setup,
                    rebuild_image: false,
                    provision: true,
                    keep_on_failure: false,
                },
                rounds,
                duration,
                &crate::bench::cmd::Outputs { json, csv, chart },
            )
        }
        Command::Test {
            labs,
            all,
            reports,
            destroy,
            provider,
            no_setup,
            serial,
            skip,
            bench_rounds,
            bench_duration,
            name,
            subnet,
        } => {
            let skip = skip
                .iter()
                .map(|s| {
                    regex::Regex::new(s)
                        .map_err(|e| Error::usage(format!("--skip {s:?} is not a regex: {e}")))
                })
                .collect::<Result<Vec<_>>>()?;
            let names = if all {
                crate::assets::lab_names()
            } else {
                labs
            };
            if names.is_empty() {
                return Err(Error::usage("name a lab to test, or --all"));
            }
            if names.len() > 1 && (name.is_some() || subnet.is_some()) {
                return Err(Error::usage("--name and --subnet apply to one lab"));
            }
            let args: Vec<LabArgs> = names
                .into_iter()
                .map(|l| LabArgs {
                    lab: l,
                    name: name.clone(),
                    subnet,
                    state_dir: None,
                })
                .collect();
            let destroy = destroy.unwrap_or(if all {
                crate::testrun::Destroy::Always
            } else {
                crate::testrun::Destroy::Never
            });
            crate::testrun::test(
                &args,
                &crate::testrun::TestOptions {
                    up: lifecycle::UpOptions {
                        provider,
                        no_setup,
                        rebuild_image: false,
                        provision: true,
                        keep_on_failure: false,
                    },
                    reports,
                    destroy,
                    parallel: !serial,
                    skip,
                    bench_rounds,
                    bench_duration,
                },
            )
        }
    }
}

fn list() -> Result<Exit> {
    let mut rows = vec![vec![
        "LAB".to_string(),
        "NODES".into(),
        "SUBNET".into(),
        "DESCRIPTION".into(),
    ]];
    for name in crate::assets::lab_names() {
        let l = load::load(&name)?;
        rows.push(vec![
            name,
            l.lab.nodes.len().to_string(),
            l.lab.network.subnet.value.to_string(),
            l.lab.description.clone(),
        ]);
    }
    print!("{}", crate::text::table(&rows));
    Ok(Exit::Ok)
}

fn lint(labs: Vec<String>) -> Result<Exit> {
    let labs = if labs.is_empty() {
        crate::assets::lab_names()
    } else {
        labs
    };
    let mut errors = 0;
    for arg in &labs {
        let l = load::load(arg)?;
        let f = crate::lint::lint(&l)?;
        errors += crate::lint::report(&l, &f);
        if f.is_empty() {
            println!("{}: no insecure patterns", l.source.path.display());
        }
    }
    Ok(if errors > 0 { Exit::Usage } else { Exit::Ok })
}

fn validate(labs: Vec<String>) -> Result<Exit> {
    let labs = if labs.is_empty() {
        crate::assets::lab_names()
    } else {
        labs
    };
    let mut failed = 0;
    for arg in &labs {
        match load::load(arg) {
            Ok(l) => {
                eprint!("{}", l.render_warnings());
                let findings = crate::lint::lint(&l)?;
                if crate::lint::report(&l, &findings) > 0 {
                    failed += 1;
                    continue;
                }
                let w = l.warnings.len();
                println!(
                    "{}: ok ({} nodes, {} checks{})",
                    l.source.path.display(),
                    l.lab.nodes.len(),
                    l.lab.checks.len(),
                    if w > 0 {
                        format!(", {w} warning{}", if w == 1 { "" } else { "s" })
                    } else {
                        String::new()
                    }
                );
            }
            Err(e @ (Error::Invalid { .. } | Error::UnknownLab { .. })) => {
                eprint!("{}", e.render());
                failed += 1;
            }
            Err(e) => return Err(e),
        }
    }
    if failed > 0 {
        eprintln!(
            "{failed} of {} lab{} invalid",
            labs.len(),
            if labs.len() == 1 { "" } else { "s" }
        );
        return Ok(Exit::Usage);
    }
    Ok(Exit::Ok)
}

fn render(arg: &str, out: Option<PathBuf>) -> Result<Exit> {
    let l = load::load(arg)?;
    eprint!("{}", l.render_warnings());
    let dir = match out {
        Some(dir) => dir,
        None => {
            // The default folder is the lab's state dir, which `up` and `down` use too.
            let dir = crate::state::default_state_dir(&l.lab);
            crate::state::StateDir::new(&dir).claim(&l.lab.name.value)?;
            dir
        }
    };
    let r = crate::render::render(&l)?;
    let dir = r.write_to(&dir)?;
    println!(
        "rendered lab {} into {} ({} files)",
        l.lab.name.value,
        dir.display(),
        r.files.len()
    );
    Ok(Exit::Ok)
}
