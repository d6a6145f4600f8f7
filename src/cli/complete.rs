//! Shell completions from the clap tree (the man page, from the same tree: man.rs).
//!
//! Completions are clap_complete's own dynamic ones: the script that
//! `labctl completions SHELL` prints (clap_complete's registration for that
//! shell) calls labctl back with `LABCTL_COMPLETE=SHELL`, and [`answer`] lets clap
//! complete the words. Two arguments get candidates clap cannot know: a LAB
//! (the shipped lab names, or a path once the word has a `/`) and a NODE
//! (`ssh`, `exec`, `restart`, `provision --node`: the nodes of that lab that
//! are up, read from its state file, so a lab that is down offers none).

use super::Cli;
use crate::error::{Error, Exit, Result};
use crate::lifecycle::LabArgs;
use crate::state::Phase;
use clap::CommandFactory;
use clap_complete::engine::{
    ArgValueCompleter, CompletionCandidate, PathCompleter, ValueCompleter,
};
use clap_complete::env::{Bash, CompleteEnv, EnvCompleter, Fish, Zsh};
use std::ffi::{OsStr, OsString};
use std::path::PathBuf;

/// The environment variable that turns a labctl run into a completion answer.
/// Named for labctl (not clap's default `COMPLETE`): a generic name exported
/// in a user's or CI's environment would turn every labctl command into a
/// completion request.
const VAR: &str = "LABCTL_COMPLETE";

/// The shells `labctl completions` writes a script for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
}

/// The clap tree with the LAB and NODE completers attached. The derive types
/// live in rooms below `cli` (`LabArgs` in lifecycle) and must not point up
/// here, so the completers are added to the built tree by argument id.
pub fn command() -> clap::Command {
    fn attach(cmd: clap::Command) -> clap::Command {
        let ids: Vec<String> = cmd
            .get_arguments()
            .map(|a| a.get_id().to_string())
            .collect();
        let mut cmd = cmd;
        // mut_arg moves the argument to the end, and positionals are numbered
        // by order: every argument is passed through, in order, to keep it.
        for id in ids {
            cmd = cmd.mut_arg(&id, |a| match id.as_str() {
                "lab" | "labs" => a.add(ArgValueCompleter::new(labs)),
                "node" => a.add(ArgValueCompleter::new(nodes)),
                _ => a,
            });
        }
        let subs: Vec<String> = cmd
            .get_subcommands()
            .map(|s| s.get_name().to_string())
            .collect();
        for s in subs {
            cmd = cmd.mut_subcommand(&s, attach);
        }
        cmd
    }
    attach(Cli::command())
}

/// When the shell asks (`LABCTL_COMPLETE` set), print the candidates and exit;
/// otherwise return and let labctl run.
pub fn answer() {
    CompleteEnv::with_factory(command).var(VAR).complete();
}

/// `labctl completions SHELL`: the shell's registration script, calling
/// back this very binary.
pub fn script(shell: Shell) -> Result<Exit> {
    let exe = std::env::current_exe()
        .map_err(|e| Error::io("find", PathBuf::from("/proc/self/exe"), e))?;
    let exe = exe.to_string_lossy();
    let sh: &dyn EnvCompleter = match shell {
        Shell::Bash => &Bash,
        Shell::Zsh => &Zsh,
        Shell::Fish => &Fish,
    };
    let mut out = Vec::new();
    sh.write_registration(VAR, "labctl", "labctl", &exe, &mut out)
        .map_err(|e| Error::io("write", PathBuf::from("<stdout>"), e))?;
    use std::io::Write;
    std::io::stdout()
        .write_all(&out)
        .map_err(|e| Error::io("write", PathBuf::from("<stdout>"), e))?;
    Ok(Exit::Ok)
}

/// Shipped lab names starting with the word; a word with a `/` (or `.`
/// first) is a path to a lab file.
fn labs(current: &OsStr) -> Vec<CompletionCandidate> {
    let word = current.to_string_lossy();
    if word.contains('/') || word.starts_with('.') {
        return PathCompleter::any().complete(current);
    }
    crate::assets::lab_names()
        .into_iter()
        .filter(|n| n.starts_with(word.as_ref()))
        .map(CompletionCandidate::new)
        .collect()
}

/// The nodes of the lab named earlier on the line that are up (state file
/// phase up or halted), starting with the word.
fn nodes(current: &OsStr) -> Vec<CompletionCandidate> {
    let word = current.to_string_lossy();
    let Some(lab) = lab_on_line() else {
        return Vec::new();
    };
    let Ok(op) = crate::lifecycle::open(&lab) else {
        return Vec::new();
    };
    match op.dir.load() {
        Ok(Some(st)) if st.phase == Phase::Up || st.phase == Phase::Halted => op
            .lab()
            .nodes
            .iter()
            .filter(|n| st.nodes.contains_key(&n.name) && n.name.starts_with(word.as_ref()))
            .map(|n| CompletionCandidate::new(&n.name))
            .collect(),
        _ => Vec::new(),
    }
}

/// The lab (and --name, --subnet, --state-dir) of the words being completed:
/// clap_complete passes the line after `--` and the index of the word under
/// the cursor; the words before it are parsed by the same clap tree, errors
/// ignored (the line is unfinished).
fn lab_on_line() -> Option<LabArgs> {
    let args: Vec<OsString> = std::env::args_os().collect();
    let start = args.iter().position(|a| a == "--")? + 1;
    let index: usize = std::env::var("_CLAP_COMPLETE_INDEX").ok()?.parse().ok()?;
    let words = &args[start..(start + index).min(args.len())];
    let m = Cli::command()
        .ignore_errors(true)
        .try_get_matches_from(words)
        .ok()?;
    let (_, sub) = m.subcommand()?;
    let get = |id: &str| -> Option<String> {
        sub.try_get_raw(id)
            .ok()
            .flatten()
            .and_then(|mut v| v.next())
            .map(|v| v.to_string_lossy().into_owned())
    };
    Some(LabArgs {
        lab: get("lab")?,
        name: get("name"),
        subnet: get("subnet").and_then(|s| s.parse().ok()),
        state_dir: get("state_dir").map(PathBuf::from),
    })
}
