//! `labctl graph`: a picture of a lab as people would draw it. [`model`]
//! takes what to show from the lab and its roles (nodes with address, roles
//! and forwarded ports, the network, barriers across nodes, check and bench
//! paths); [`mermaid`], [`dot`] and [`svg`] draw that one model, the SVG
//! without Graphviz.

pub mod dot;
pub mod mermaid;
pub mod model;
pub mod svg;

pub use model::{Barrier, End, Graph, GraphNode, Path, PathKind, PortForward};

/// The formats of `labctl graph`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Mermaid flowchart, for Markdown pages (GitHub, GitLab)
    Mermaid,
    /// Graphviz DOT
    Dot,
    /// SVG drawn by labctl (no Graphviz needed)
    Svg,
}

impl Format {
    /// The format a file name asks for: .svg, .dot/.gv, .mmd/.mermaid.
    pub fn from_path(p: &std::path::Path) -> Option<Format> {
        match p.extension()?.to_str()? {
            "svg" => Some(Format::Svg),
            "dot" | "gv" => Some(Format::Dot),
            "mmd" | "mermaid" => Some(Format::Mermaid),
            _ => None,
        }
    }
}

pub fn render(g: &Graph, format: Format) -> String {
    match format {
        Format::Mermaid => mermaid::render(g),
        Format::Dot => dot::render(g),
        Format::Svg => svg::render(g),
    }
}
