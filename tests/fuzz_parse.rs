//! Property tests of lab-file parsing and validation: random edits of the
//! shipped labs and random text. Nothing may panic, and every rejection carries
//! a location inside the file. Bounded (a fixed number of cases) so CI time is.

use labctl::diag::SourceFile;
use labctl::roles::RoleSet;
use proptest::prelude::*;
use std::sync::LazyLock;

static ROLES: LazyLock<RoleSet> = LazyLock::new(|| RoleSet::load(None).unwrap());

fn shipped() -> Vec<String> {
    labctl::assets::lab_names()
        .into_iter()
        .map(|n| labctl::assets::lab_text(&n).unwrap().to_string())
        .collect()
}

fn check(text: &str) {
    let src = SourceFile::new("fuzz.toml", text);
    let lines = text.split('\n').count().max(1);
    for d in labctl::load::diagnose(&src, &ROLES) {
        assert!(
            d.line >= 1 && d.line <= lines,
            "line {} outside 1..={lines}: {d}",
            d.line
        );
        assert!(d.column >= 1, "{d}");
        let rendered = src.render(&d);
        assert!(rendered.contains("fuzz.toml:"), "{rendered}");
    }
    // Loading (parse + validate) must not panic either; render only what loads.
    if let Ok(l) = labctl::load::load_source(src, None, ROLES.clone()) {
        let r = labctl::render::render(&l).expect("a valid lab renders");
        assert!(r.text("Vagrantfile").contains("Vagrant.configure"));
    }
}

#[derive(Debug, Clone)]
enum Edit {
    Delete(usize, usize),
    Insert(usize, String),
    Replace(usize, String),
}

fn edit() -> impl Strategy<Value = Edit> {
    let snippet = prop_oneof![
        Just("\"".to_string()),
        Just("[[node]]\n".to_string()),
        Just("]".to_string()),
        Just("= ".to_string()),
        Just("\n".to_string()),
        Just("count = 99\n".to_string()),
        Just("ip = \"300.1.1.1\"\n".to_string()),
        Just("#{system('id')}".to_string()),
        Just("$(id)".to_string()),
        Just("\u{0}".to_string()),
        Just("é".to_string()),
        "[ -~]{0,12}".prop_map(|s| s),
    ];
    prop_oneof![
        (any::<usize>(), 1usize..40).prop_map(|(a, n)| Edit::Delete(a, n)),
        (any::<usize>(), snippet.clone()).prop_map(|(a, s)| Edit::Insert(a, s)),
        (any::<usize>(), snippet).prop_map(|(a, s)| Edit::Replace(a, s)),
    ]
}

fn apply(text: &str, edits: &[Edit]) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    for e in edits {
        let len = chars.len().max(1);
        match e {
            Edit::Delete(a, n) => {
                let a = a % len;
                let b = (a + n).min(chars.len());
                if a < b {
                    chars.drain(a..b);
                }
            }
            Edit::Insert(a, s) => {
                let a = a % (chars.len() + 1);
                chars.splice(a..a, s.chars());
            }
            Edit::Replace(a, s) => {
                let a = a % len;
                let b = (a + s.chars().count()).min(chars.len());
                if a <= b {
                    chars.splice(a..b, s.chars());
                }
            }
        }
    }
    chars.into_iter().collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 600, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn edited_shipped_labs_never_panic(which in 0usize..4, edits in proptest::collection::vec(edit(), 1..6)) {
        let labs = shipped();
        let text = apply(&labs[which % labs.len()], &edits);
        check(&text);
    }

    #[test]
    fn random_text_never_panics(text in "[ -~\n\t\"\\[\\]=#{}$`'\u{0}é]{0,300}") {
        check(&text);
    }
}
