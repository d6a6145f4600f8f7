//! The one in-band protocol of node-side output: a line of its own,
//!
//! ```text
//! ::labctl:: KIND ARGS
//! ```
//!
//! that labctl's node-side scripts (and the role library's `step` and `skip`)
//! print among other output. Every reader of node output finds markers here:
//! [`parse`] for a line, [`split`] for a whole output with text between.

/// What every marker line starts with.
pub const PREFIX: &str = "::labctl:: ";

/// One marker: its kind (`step`, `http`, `rc`, ...) and the rest of its line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Marker<'a> {
    pub kind: &'a str,
    pub args: &'a str,
}

/// The marker on a line, if the line is one.
pub fn parse(line: &str) -> Option<Marker<'_>> {
    let rest = line.strip_prefix(PREFIX)?;
    let (kind, args) = rest.split_once(' ').unwrap_or((rest, ""));
    (!kind.is_empty()).then_some(Marker { kind, args })
}

/// Output cut at its markers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Piece<'a> {
    Text(&'a str),
    Marker(Marker<'a>),
}

/// Output as text and markers, in order. Every marker is preceded by a text
/// piece (empty when nothing came before it), and the newline that ends the
/// line before a marker belongs to the marker: a body a script printed
/// without a final newline comes back as it was. Text after the last marker
/// follows it when there is any.
pub fn split(out: &str) -> Vec<Piece<'_>> {
    let mut pieces = Vec::new();
    let mut start = 0;
    let mut at = 0;
    while let Some(i) = out[at..].find(PREFIX).map(|i| at + i) {
        if i != 0 && !out[..i].ends_with('\n') {
            at = i + PREFIX.len();
            continue;
        }
        let text_end = if i > start { i - 1 } else { start };
        let line_end = out[i..].find('\n').map_or(out.len(), |j| i + j);
        let Some(m) = parse(&out[i..line_end]) else {
            at = i + PREFIX.len();
            continue;
        };
        pieces.push(Piece::Text(&out[start..text_end.max(start)]));
        pieces.push(Piece::Marker(m));
        start = (line_end + 1).min(out.len());
        at = start;
    }
    if start < out.len() {
        pieces.push(Piece::Text(&out[start..]));
    }
    pieces
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_marker_line_has_a_kind_and_arguments() {
        assert_eq!(
            parse("::labctl:: step 3/5 configure nginx"),
            Some(Marker {
                kind: "step",
                args: "3/5 configure nginx"
            })
        );
        assert_eq!(
            parse("::labctl:: crontab"),
            Some(Marker {
                kind: "crontab",
                args: ""
            })
        );
        assert_eq!(parse("step 3/5"), None);
        assert_eq!(parse("::labctl:: "), None);
    }

    #[test]
    fn output_splits_at_markers_with_bodies_as_printed() {
        let out = "a\n::x\n::labctl:: http 200\n\n::labctl:: http 0\nb::labctl:: no\n::labctl:: http 404\ntail";
        assert_eq!(
            split(out),
            vec![
                Piece::Text("a\n::x"),
                Piece::Marker(Marker {
                    kind: "http",
                    args: "200"
                }),
                Piece::Text(""),
                Piece::Marker(Marker {
                    kind: "http",
                    args: "0"
                }),
                Piece::Text("b::labctl:: no"),
                Piece::Marker(Marker {
                    kind: "http",
                    args: "404"
                }),
                Piece::Text("tail"),
            ]
        );
        assert_eq!(split(""), vec![]);
    }
}
