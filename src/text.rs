//! Text for people: one-line summaries, heads and tails of long output, byte
//! sizes, and the one table renderer every command prints its tables with.

/// One line of at most `max` characters: control characters become spaces.
pub fn one_line(s: &str, max: usize) -> String {
    let mut out = String::new();
    let mut last_space = false;
    for c in s.trim().chars() {
        let c = if c.is_control() { ' ' } else { c };
        if c == ' ' && last_space {
            continue;
        }
        last_space = c == ' ';
        out.push(c);
    }
    if out.chars().count() > max {
        out = out.chars().take(max.saturating_sub(1)).collect::<String>() + "…";
    }
    out
}

/// The first non-blank line, as [`one_line`] of 200 characters ("" when none).
pub fn first_line(s: &str) -> String {
    s.lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .map(|l| one_line(l, 200))
        .unwrap_or_default()
}

/// The last non-blank line, as [`one_line`] of 200 characters.
pub fn last_line(s: &str) -> Option<String> {
    s.lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty())
        .map(|l| one_line(l, 200))
}

/// The first `max` characters.
pub fn head(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        s.chars().take(max).collect::<String>() + "\n[… cut]"
    }
}

/// The last `max` characters.
pub fn tail(s: &str, max: usize) -> String {
    let n = s.chars().count();
    if n <= max {
        s.to_string()
    } else {
        "[cut …]\n".to_string() + &s.chars().skip(n - max).collect::<String>()
    }
}

/// Binary byte units, smallest first.
pub const BYTE_UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];

/// A byte count in the largest unit that keeps the number at least 1 (`8.0 GiB`,
/// `512 B`).
pub fn human_bytes(b: u64) -> String {
    human_bytes_in(b, 0, BYTE_UNITS.len() - 1)
}

/// A byte count in units from `BYTE_UNITS[min]` to `BYTE_UNITS[max]`: the
/// largest that keeps the number at least 1, but never below `min` (`0.5 KiB`)
/// or above `max` (`3072.0 MiB`). Bytes are written whole, other units with
/// one decimal.
pub fn human_bytes_in(b: u64, min: usize, max: usize) -> String {
    let mut v = b as f64;
    let mut i = 0;
    while i < min {
        v /= 1024.0;
        i += 1;
    }
    while v >= 1024.0 && i < max {
        v /= 1024.0;
        i += 1;
    }
    if i == 0 {
        format!("{b} B")
    } else {
        format!("{v:.1} {}", BYTE_UNITS[i])
    }
}

/// How a table column is aligned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    Left,
    Right,
}

/// Left-aligned columns separated by two spaces; the last column is not padded.
pub fn table(rows: &[Vec<String>]) -> String {
    table_aligned(rows, &[])
}

/// Columns separated by two spaces, each aligned as `aligns` says (left where
/// it says nothing); the last cell of a row is not padded, so lines carry no
/// trailing blanks. Rows may have different lengths.
pub fn table_aligned(rows: &[Vec<String>], aligns: &[Align]) -> String {
    let cols = rows.iter().map(|r| r.len()).max().unwrap_or(0);
    let mut widths = vec![0; cols];
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            widths[i] = widths[i].max(c.chars().count());
        }
    }
    let mut out = String::new();
    for r in rows {
        let mut line = String::new();
        for (i, c) in r.iter().enumerate() {
            let pad = " ".repeat(widths[i] - c.chars().count());
            let last = i + 1 == r.len();
            match aligns.get(i).copied().unwrap_or(Align::Left) {
                Align::Right => {
                    line.push_str(&pad);
                    line.push_str(c);
                }
                Align::Left => {
                    line.push_str(c);
                    if !last {
                        line.push_str(&pad);
                    }
                }
            }
            if !last {
                line.push_str("  ");
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_aligns_columns() {
        let t = table(&[
            vec!["a".into(), "bb".into(), "c".into()],
            vec!["ddd".into(), "e".into(), "".into()],
        ]);
        assert_eq!(t, "a    bb  c\nddd  e\n");
    }
}
