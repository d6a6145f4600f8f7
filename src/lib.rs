//! labctl: one lab file in, a running, provisioned and tested multi-machine lab out.
//!
//! The library holds everything; `main.rs` only calls [`cli::main`].

pub mod assets;
pub mod bench;
pub mod checks;
pub mod cli;
pub mod diag;
pub mod error;
pub mod exec;
pub mod graph;
pub mod history;
pub mod interrupt;
pub mod lab;
pub mod lifecycle;
pub mod lint;
pub mod load;
pub mod plan;
pub mod provider;
pub mod provision;
pub mod remote;
pub mod render;
pub mod repo;
pub mod report;
pub mod roles;
pub mod setup;
pub mod shell;
pub mod state;
pub mod testrun;
pub mod text;
pub mod validate;

pub use error::{Error, Exit, Result};
