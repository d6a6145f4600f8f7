//! `labctl man`: the man pages, generated from the same clap tree as the
//! parser and the completions, so they cannot drift from the commands.

use super::Cli;
use crate::error::{Error, Exit, Result};
use clap::CommandFactory;
use std::path::PathBuf;

/// `labctl man`: labctl.1 on stdout, or a page per command into a folder.
pub fn man(out: Option<PathBuf>) -> Result<Exit> {
    let cmd = Cli::command();
    match out {
        Some(dir) => {
            std::fs::create_dir_all(&dir).map_err(|e| Error::io("create", &dir, e))?;
            clap_mangen::generate_to(cmd, &dir)
                .map_err(|e| Error::io("write man pages into", &dir, e))?;
            eprintln!("wrote man pages into {}", dir.display());
        }
        None => {
            let mut buf = Vec::new();
            clap_mangen::Man::new(cmd)
                .render(&mut buf)
                .map_err(|e| Error::io("render", PathBuf::from("labctl.1"), e))?;
            use std::io::Write;
            std::io::stdout()
                .write_all(&buf)
                .map_err(|e| Error::io("write", PathBuf::from("<stdout>"), e))?;
        }
    }
    Ok(Exit::Ok)
}
