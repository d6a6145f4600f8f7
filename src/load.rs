//! Loading a lab: resolve its name or path, read it, parse it, load its
//! roles and validate the whole; every error is reported at once.

use crate::assets;
use crate::diag::{Diagnostic, SourceFile};
use crate::error::{Error, Result};
use crate::lab::parse::parse_lab;
use crate::lab::reader::Ctx;
use crate::lab::Lab;
use crate::roles::RoleSet;
use std::path::{Path, PathBuf};

/// A lab that parsed and validated, with its source, warnings and roles.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub lab: Lab,
    pub source: SourceFile,
    pub warnings: Vec<Diagnostic>,
    pub roles: RoleSet,
}

impl Loaded {
    /// Warnings rendered with their source lines.
    pub fn render_warnings(&self) -> String {
        self.warnings
            .iter()
            .map(|d| self.source.render(d))
            .collect()
    }
}

/// Where a lab comes from.
#[derive(Debug, Clone)]
pub enum LabRef {
    Builtin(String),
    File(PathBuf),
}

/// A bare name (no `/`, no `.toml` suffix) is always a shipped lab, never a file
/// that happens to sit in the working directory: `workflow` means the same lab
/// wherever it is typed. A path contains a `/` or ends in `.toml`, so a file in
/// the working directory is `./NAME`.
pub fn resolve(arg: &str) -> Result<LabRef> {
    if arg.contains('/') || arg.ends_with(".toml") {
        return Ok(LabRef::File(PathBuf::from(arg)));
    }
    if assets::lab_text(arg).is_some() {
        return Ok(LabRef::Builtin(arg.to_string()));
    }
    Err(Error::UnknownLab {
        name: arg.to_string(),
        known: assets::lab_names(),
    })
}

/// Read a lab's source text. A lab file that cannot be read is a usage error
/// (exit 2), like an unknown name: the command line named something that is not
/// there.
pub fn read(r: &LabRef) -> Result<SourceFile> {
    match r {
        LabRef::Builtin(name) => {
            let text = assets::lab_text(name).expect("resolved builtin lab exists");
            Ok(SourceFile::new(format!("labs/{name}.toml"), text))
        }
        LabRef::File(p) => {
            let text = std::fs::read_to_string(p).map_err(|source| Error::UnreadableLab {
                path: p.clone(),
                source,
            })?;
            Ok(SourceFile::new(p, text))
        }
    }
}

/// Parse and validate; every error is reported at once.
pub fn load(arg: &str) -> Result<Loaded> {
    let r = resolve(arg)?;
    let source = read(&r)?;
    let dir = match &r {
        LabRef::Builtin(_) => None,
        LabRef::File(p) => Some(
            p.parent()
                .map(|d| {
                    if d.as_os_str().is_empty() {
                        Path::new(".")
                    } else {
                        d
                    }
                })
                .unwrap_or(Path::new("."))
                .to_path_buf(),
        ),
    };
    let roles = RoleSet::load(dir.as_deref())?;
    load_source(source, dir, roles)
}

/// Parse and validate a source text with a given role set (used by tests too).
pub fn load_source(source: SourceFile, dir: Option<PathBuf>, roles: RoleSet) -> Result<Loaded> {
    let mut cx = Ctx::new();
    let lab = parse_lab(&source.text, &mut cx);
    if let Some(lab) = &lab {
        crate::validate::validate(lab, &roles, &mut cx);
    }
    let mut diags: Vec<Diagnostic> = cx.diags.into_iter().map(|d| source.locate(d)).collect();
    diags.sort_by_key(|d| (d.line, d.column));
    let (errors, warnings): (Vec<_>, Vec<_>) = diags.into_iter().partition(|d| d.is_error());
    if !errors.is_empty() || lab.is_none() {
        let mut rendered: String = errors.iter().map(|d| source.render(d)).collect();
        rendered.extend(warnings.iter().map(|d| source.render(d)));
        return Err(Error::Invalid {
            file: source.path.clone(),
            count: errors.len().max(1),
            rendered,
        });
    }
    let mut lab = lab.unwrap();
    lab.file = source.path.clone();
    lab.dir = dir;
    Ok(Loaded {
        lab,
        source,
        warnings,
        roles,
    })
}

/// Errors and warnings of a source text without failing (for `validate` output
/// and tests).
pub fn diagnose(source: &SourceFile, roles: &RoleSet) -> Vec<Diagnostic> {
    let mut cx = Ctx::new();
    if let Some(lab) = parse_lab(&source.text, &mut cx) {
        crate::validate::validate(&lab, roles, &mut cx);
    }
    let mut diags: Vec<Diagnostic> = cx.diags.into_iter().map(|d| source.locate(d)).collect();
    diags.sort_by_key(|d| (d.line, d.column));
    diags
}
