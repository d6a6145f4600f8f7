//! The lab model and the lab-file parser: what a lab file says, with spans for
//! diagnostics. Finding, validating and loading a lab is [`crate::load`].

pub mod model;
pub mod parse;
pub mod readdress;
pub mod reader;
pub mod target;
pub mod units;

pub use model::*;
