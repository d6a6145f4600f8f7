//! The command line: argument parsing with clap and dispatch to the library.

use crate::error::{Error, Exit, Result};
use crate::lab;
use clap::{Parser, Subcommand};
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
    after_help = "Examples:\n  labctl list\n  labctl validate workflow ./my-lab.toml\n  labctl render workflow --out /tmp/wf\n\n\
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
    #[command(after_help = "Examples:\n  labctl validate workflow\n  labctl validate labs/*.toml\n  labctl validate ./my-lab.toml\n\n\
Warnings are printed but never fail validation; exit code 2 means at least one error.")]
    Validate {
        /// Labs by name or path; all shipped labs when none is given
        labs: Vec<String>,
    },

    /// Render a lab's Vagrantfile, Ansible inventory, summary and role folders
    #[command(after_help = "Examples:\n  labctl render workflow\n  labctl render workflow --out /tmp/wf && (cd /tmp/wf && vagrant validate)\n\n\
The output is deterministic: two renders of the same lab are byte-identical.")]
    Render {
        /// Lab name or path
        lab: String,
        /// Output folder (default: the lab's state dir, .labctl/NAME/)
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
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
        Command::Render { lab, out } => render(&lab, out),
    }
}

fn list() -> Result<Exit> {
    let mut rows = vec![vec!["LAB".to_string(), "NODES".into(), "SUBNET".into(), "DESCRIPTION".into()]];
    for name in crate::assets::lab_names() {
        let l = lab::load(&name)?;
        rows.push(vec![name, l.lab.nodes.len().to_string(), l.lab.network.subnet.value.to_string(), l.lab.description.clone()]);
    }
    print!("{}", crate::report::table(&rows));
    Ok(Exit::Ok)
}

fn validate(labs: Vec<String>) -> Result<Exit> {
    let labs = if labs.is_empty() { crate::assets::lab_names() } else { labs };
    let mut failed = 0;
    for arg in &labs {
        match lab::load(arg) {
            Ok(l) => {
                eprint!("{}", l.render_warnings());
                let w = l.warnings.len();
                println!(
                    "{}: ok ({} nodes, {} checks{})",
                    l.source.path.display(),
                    l.lab.nodes.len(),
                    l.lab.checks.len(),
                    if w > 0 { format!(", {w} warning{}", if w == 1 { "" } else { "s" }) } else { String::new() }
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
        eprintln!("{failed} of {} lab{} invalid", labs.len(), if labs.len() == 1 { "" } else { "s" });
        return Ok(Exit::Usage);
    }
    Ok(Exit::Ok)
}

fn render(arg: &str, out: Option<PathBuf>) -> Result<Exit> {
    let l = lab::load(arg)?;
    eprint!("{}", l.render_warnings());
    let dir = out.unwrap_or_else(|| crate::state::default_state_dir(&l.lab));
    let r = crate::render::render(&l)?;
    r.write_to(&dir)?;
    println!("rendered lab {} into {} ({} files)", l.lab.name.value, dir.display(), r.files.len());
    Ok(Exit::Ok)
}
