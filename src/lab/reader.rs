//! A strict, error-collecting reader over `toml_span` values.
//!
//! serde stops at the first error; a lab file should report every problem in one
//! run, so tables are walked by hand: each accessor records a diagnostic and
//! returns `None` on a bad value, and `finish` reports keys nobody asked for.

use crate::diag::{Diagnostic, Span};
use crate::lab::model::Sp;
use toml_span::value::{Table, Value, ValueInner};

pub struct Ctx {
    pub diags: Vec<Diagnostic>,
}

impl Ctx {
    pub fn new() -> Self {
        Ctx { diags: Vec::new() }
    }
    pub fn push(&mut self, d: Diagnostic) {
        self.diags.push(d);
    }
    pub fn err(
        &mut self,
        key: &str,
        span: Span,
        msg: impl Into<String>,
        expected: impl Into<String>,
    ) {
        self.diags
            .push(Diagnostic::error(key, Some(span), msg).expected(expected));
    }
}

impl Default for Ctx {
    fn default() -> Self {
        Ctx::new()
    }
}

fn type_of(v: &ValueInner<'_>) -> &'static str {
    v.type_str()
}

/// A table being read; keys are removed as they are read.
pub struct Obj<'de> {
    pub path: String,
    pub span: Span,
    map: Table<'de>,
    allowed: &'static [&'static str],
}

pub fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

impl<'de> Obj<'de> {
    /// Interpret `v` as a table; reports a type error otherwise.
    pub fn from_value(
        mut v: Value<'de>,
        path: &str,
        allowed: &'static [&'static str],
        cx: &mut Ctx,
    ) -> Option<Self> {
        let span: Span = v.span.into();
        match v.take() {
            ValueInner::Table(map) => Some(Obj {
                path: path.to_string(),
                span,
                map,
                allowed,
            }),
            other => {
                cx.err(
                    path,
                    span,
                    format!("wrong type: found {}", type_of(&other)),
                    "a table",
                );
                None
            }
        }
    }

    pub fn root(map: Table<'de>, span: Span, allowed: &'static [&'static str]) -> Self {
        Obj {
            path: String::new(),
            span,
            map,
            allowed,
        }
    }

    pub fn has(&self, key: &str) -> bool {
        self.map.contains_key(key)
    }

    pub fn key_path(&self, key: &str) -> String {
        join(&self.path, key)
    }

    /// Remove a raw value.
    pub fn take(&mut self, key: &str) -> Option<Value<'de>> {
        let k = self.map.keys().find(|k| k.name == key)?.clone();
        self.map.remove(&k)
    }

    pub fn string(&mut self, key: &str, cx: &mut Ctx) -> Option<Sp<String>> {
        let mut v = self.take(key)?;
        let span: Span = v.span.into();
        match v.take() {
            ValueInner::String(s) => Some(Sp::new(s.into_owned(), span)),
            other => {
                cx.err(
                    &self.key_path(key),
                    span,
                    format!("wrong type: found {}", type_of(&other)),
                    "a string",
                );
                None
            }
        }
    }

    pub fn int(&mut self, key: &str, cx: &mut Ctx) -> Option<Sp<i64>> {
        let mut v = self.take(key)?;
        let span: Span = v.span.into();
        match v.take() {
            ValueInner::Integer(i) => Some(Sp::new(i, span)),
            other => {
                cx.err(
                    &self.key_path(key),
                    span,
                    format!("wrong type: found {}", type_of(&other)),
                    "an integer",
                );
                None
            }
        }
    }

    /// An integer in `lo..=hi`.
    pub fn int_in(
        &mut self,
        key: &str,
        lo: i64,
        hi: i64,
        what: &str,
        cx: &mut Ctx,
    ) -> Option<Sp<i64>> {
        let v = self.int(key, cx)?;
        if v.value < lo || v.value > hi {
            cx.err(
                &self.key_path(key),
                v.span,
                format!("{} is out of range", v.value),
                format!("{what} between {lo} and {hi}"),
            );
            return None;
        }
        Some(v)
    }

    pub fn float(&mut self, key: &str, cx: &mut Ctx) -> Option<Sp<f64>> {
        let mut v = self.take(key)?;
        let span: Span = v.span.into();
        match v.take() {
            ValueInner::Float(f) => Some(Sp::new(f, span)),
            ValueInner::Integer(i) => Some(Sp::new(i as f64, span)),
            other => {
                cx.err(
                    &self.key_path(key),
                    span,
                    format!("wrong type: found {}", type_of(&other)),
                    "a number",
                );
                None
            }
        }
    }

    pub fn bool(&mut self, key: &str, cx: &mut Ctx) -> Option<Sp<bool>> {
        let mut v = self.take(key)?;
        let span: Span = v.span.into();
        match v.take() {
            ValueInner::Boolean(b) => Some(Sp::new(b, span)),
            other => {
                cx.err(
                    &self.key_path(key),
                    span,
                    format!("wrong type: found {}", type_of(&other)),
                    "true or false",
                );
                None
            }
        }
    }

    /// Either a string or an integer; integers are returned as their decimal text
    /// so unit-bearing values (`memory = 256` or `memory = "2G"`) share one parser.
    pub fn scalar_text(&mut self, key: &str, expected: &str, cx: &mut Ctx) -> Option<Sp<String>> {
        let mut v = self.take(key)?;
        let span: Span = v.span.into();
        match v.take() {
            ValueInner::String(s) => Some(Sp::new(s.into_owned(), span)),
            ValueInner::Integer(i) => Some(Sp::new(i.to_string(), span)),
            other => {
                cx.err(
                    &self.key_path(key),
                    span,
                    format!("wrong type: found {}", type_of(&other)),
                    expected.to_string(),
                );
                None
            }
        }
    }

    pub fn array(&mut self, key: &str, cx: &mut Ctx) -> Option<(Vec<Value<'de>>, Span)> {
        let mut v = self.take(key)?;
        let span: Span = v.span.into();
        match v.take() {
            ValueInner::Array(a) => Some((a, span)),
            other => {
                cx.err(
                    &self.key_path(key),
                    span,
                    format!("wrong type: found {}", type_of(&other)),
                    "an array",
                );
                None
            }
        }
    }

    pub fn strings(&mut self, key: &str, cx: &mut Ctx) -> Option<Vec<Sp<String>>> {
        let (arr, _) = self.array(key, cx)?;
        let path = self.key_path(key);
        let mut out = Vec::new();
        for (i, mut v) in arr.into_iter().enumerate() {
            let span: Span = v.span.into();
            match v.take() {
                ValueInner::String(s) => out.push(Sp::new(s.into_owned(), span)),
                other => cx.err(
                    &format!("{path}[{i}]"),
                    span,
                    format!("wrong type: found {}", type_of(&other)),
                    "a string",
                ),
            }
        }
        Some(out)
    }

    /// A table of string values (e.g. `vars`).
    pub fn string_map(&mut self, key: &str, cx: &mut Ctx) -> Option<Vec<(Sp<String>, Sp<String>)>> {
        let mut v = self.take(key)?;
        let span: Span = v.span.into();
        let path = self.key_path(key);
        match v.take() {
            ValueInner::Table(map) => {
                let mut out = Vec::new();
                let mut entries: Vec<_> = map.into_iter().collect();
                entries.sort_by_key(|(k, _)| k.span.start);
                for (k, mut v) in entries {
                    let vspan: Span = v.span.into();
                    match v.take() {
                        ValueInner::String(s) => out.push((
                            Sp::new(k.name.to_string(), k.span.into()),
                            Sp::new(s.into_owned(), vspan),
                        )),
                        ValueInner::Integer(i) => out.push((
                            Sp::new(k.name.to_string(), k.span.into()),
                            Sp::new(i.to_string(), vspan),
                        )),
                        ValueInner::Boolean(b) => out.push((
                            Sp::new(k.name.to_string(), k.span.into()),
                            Sp::new(b.to_string(), vspan),
                        )),
                        other => cx.err(
                            &join(&path, &k.name),
                            vspan,
                            format!("wrong type: found {}", type_of(&other)),
                            "a string, integer or boolean",
                        ),
                    }
                }
                Some(out)
            }
            other => {
                cx.err(
                    &path,
                    span,
                    format!("wrong type: found {}", type_of(&other)),
                    "a table of strings",
                );
                None
            }
        }
    }

    /// Narrow (or change) the keys this table accepts, e.g. once a check's
    /// `kind` says which keys apply.
    pub fn set_allowed(&mut self, allowed: &'static [&'static str]) {
        self.allowed = allowed;
    }

    pub fn allowed_keys(&self) -> &'static [&'static str] {
        self.allowed
    }

    /// Drop remaining keys without reporting them (the table was already rejected).
    pub fn finish_quiet(self) {}

    /// Report every key that was not read.
    pub fn finish(self, cx: &mut Ctx) {
        let mut rest: Vec<_> = self.map.into_iter().collect();
        rest.sort_by_key(|(k, _)| k.span.start);
        for (k, _) in rest {
            let mut d = Diagnostic::error(
                join(&self.path, &k.name),
                Some(k.span.into()),
                format!("unknown key `{}`", k.name),
            )
            .expected(format!("one of: {}", self.allowed.join(", ")));
            if let Some(s) = closest(&k.name, self.allowed) {
                d = d.hint(format!("did you mean `{s}`?"));
            }
            cx.push(d);
        }
    }
}

/// The allowed key closest to a misspelt one, if it is close enough to be a typo.
pub fn closest(word: &str, candidates: &[&'static str]) -> Option<&'static str> {
    candidates
        .iter()
        .map(|c| (edit_distance(word, c), *c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 4) && *d < c.len())
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for i in 1..=a.len() {
        let mut cur = vec![i; b.len() + 1];
        for j in 1..=b.len() {
            let cost = if a[i - 1] == b[j - 1] { 0 } else { 1 };
            cur[j] = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn closest_finds_typos() {
        assert_eq!(closest("memroy", &["memory", "cpus"]), Some("memory"));
        assert_eq!(closest("zzz", &["memory", "cpus"]), None);
    }
}
