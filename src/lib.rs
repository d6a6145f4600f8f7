//! labctl: one lab file in, a running, provisioned and tested multi-machine lab out.
//!
//! The library holds everything; `main.rs` only calls [`cli::main`].

pub mod assets;
pub mod cli;
pub mod diag;
pub mod error;
pub mod lab;
pub mod plan;
pub mod render;
pub mod report;
pub mod roles;
pub mod state;
pub mod validate;

pub use error::{Error, Exit, Result};
