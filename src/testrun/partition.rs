//! `labctl test --partition count:K/N | hash:K/N`: this runner's share of the
//! labs when a CI system splits one suite over N parallel runners (GitLab's
//! `parallel:`, a GitHub Actions matrix), the way cargo-nextest's
//! `--partition` splits tests.
//!
//! Every runner computes the same split from the same list, with no
//! coordination between them, so the split depends only on the labs as named
//! (never on the order they were given in, the host or the time):
//!
//! - `count:K/N` sorts the labs and deals them out like cards: lab i (from 0)
//!   goes to share i mod N + 1. Shares differ in size by at most one, so labs
//!   of equal cost spread evenly.
//! - `hash:K/N` puts a lab in share (first 8 bytes of SHA-256 of its name) mod
//!   N + 1: a lab stays in its share when others are added or removed, at the
//!   price of uneven shares.
//!
//! A bare `K/N` means `count:K/N`.

use sha2::{Digest, Sha256};
use std::fmt;

/// How labs are dealt to shares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    Count,
    Hash,
}

/// Share `index` (from 1) of `total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Partition {
    pub scheme: Scheme,
    pub index: u32,
    pub total: u32,
}

/// Why a `--partition` value was refused; the CLI prints it with the expected form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("unknown partition scheme `{0}` (expected count or hash)")]
    Scheme(String),
    #[error("expected K/N (share K of N, e.g. 1/3), got `{0}`")]
    Shape(String),
    #[error("`{0}` is not a whole number")]
    Number(String),
    #[error("there must be at least one share (N is 0)")]
    NoShares,
    #[error("share {index} of {total} does not exist: K counts from 1 to N")]
    OutOfRange { index: u32, total: u32 },
}

impl std::str::FromStr for Partition {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, ParseError> {
        let (scheme, rest) = match s.split_once(':') {
            Some(("count", r)) => (Scheme::Count, r),
            Some(("hash", r)) => (Scheme::Hash, r),
            Some((other, _)) => return Err(ParseError::Scheme(other.into())),
            None => (Scheme::Count, s),
        };
        let (k, n) = rest
            .split_once('/')
            .ok_or_else(|| ParseError::Shape(rest.into()))?;
        // u32::from_str takes a leading `+`; a share is written in digits only.
        let num = |t: &str| {
            if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
                return Err(ParseError::Number(t.into()));
            }
            t.parse::<u32>().map_err(|_| ParseError::Number(t.into()))
        };
        let (index, total) = (num(k)?, num(n)?);
        if total == 0 {
            return Err(ParseError::NoShares);
        }
        if index == 0 || index > total {
            return Err(ParseError::OutOfRange { index, total });
        }
        Ok(Partition {
            scheme,
            index,
            total,
        })
    }
}

impl fmt::Display for Partition {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        let scheme = match self.scheme {
            Scheme::Count => "count",
            Scheme::Hash => "hash",
        };
        write!(f, "{scheme}:{}/{}", self.index, self.total)
    }
}

/// The labs of one share, in the order they will run (sorted), and how many
/// labs the whole list had.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Share {
    pub partition: Partition,
    pub labs: Vec<String>,
    pub of: usize,
}

impl fmt::Display for Share {
    /// The line printed before anything runs: which labs this runner takes.
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        let p = self.partition;
        if self.labs.is_empty() {
            write!(
                f,
                "partition {p}: no lab in this share ({} lab{} over {} shares); nothing to test",
                self.of,
                if self.of == 1 { "" } else { "s" },
                p.total
            )
        } else {
            write!(
                f,
                "partition {p}: {} of {} lab{}: {}",
                self.labs.len(),
                self.of,
                if self.of == 1 { "" } else { "s" },
                self.labs.join(", ")
            )
        }
    }
}

/// The share a lab falls in under `hash:` (from 0).
fn hash_slot(lab: &str, total: u32) -> u32 {
    let d = Sha256::digest(lab.as_bytes());
    let first = u64::from_be_bytes(d[..8].try_into().expect("a SHA-256 has 32 bytes"));
    (first % u64::from(total)) as u32
}

impl Partition {
    /// This partition's share of `labs`. A lab named twice is refused: it
    /// could land in two shares (count:) and run twice, on two runners.
    pub fn share(&self, labs: &[String]) -> Result<Share, String> {
        let mut sorted: Vec<String> = labs.to_vec();
        sorted.sort();
        if let Some(w) = sorted.windows(2).find(|w| w[0] == w[1]) {
            return Err(format!(
                "lab `{}` is named twice: a partition puts each lab in exactly one share",
                w[0]
            ));
        }
        let mine = self.index - 1;
        let picked = sorted
            .iter()
            .enumerate()
            .filter(|(i, lab)| match self.scheme {
                Scheme::Count => (*i as u64 % u64::from(self.total)) as u32 == mine,
                Scheme::Hash => hash_slot(lab, self.total) == mine,
            })
            .map(|(_, lab)| lab.clone())
            .collect();
        Ok(Share {
            partition: *self,
            labs: picked,
            of: labs.len(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rstest::rstest;
    use std::collections::BTreeMap;

    fn p(s: &str) -> Partition {
        s.parse().unwrap()
    }

    fn labs(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("lab-{i:02}")).collect()
    }

    /// Every lab of every list of 0..=20 labs is in exactly one of the N
    /// shares, for N = 1..=6 and both schemes; count: shares differ in size by
    /// at most one.
    #[rstest]
    fn every_lab_in_exactly_one_share(
        #[values("count", "hash")] scheme: &str,
        #[values(1, 2, 3, 4, 5, 6)] total: u32,
    ) {
        for n in 0..=20 {
            let list = labs(n);
            let mut seen: BTreeMap<String, u32> = BTreeMap::new();
            let mut sizes = Vec::new();
            for k in 1..=total {
                let share = p(&format!("{scheme}:{k}/{total}")).share(&list).unwrap();
                assert_eq!(share.of, n);
                sizes.push(share.labs.len());
                for lab in share.labs {
                    assert!(seen.insert(lab.clone(), k).is_none(), "{lab} in two shares");
                }
            }
            assert_eq!(
                seen.keys().cloned().collect::<Vec<_>>(),
                list,
                "{scheme} {n} labs over {total}"
            );
            if scheme == "count" {
                let (lo, hi) = (sizes.iter().min().unwrap(), sizes.iter().max().unwrap());
                assert!(hi - lo <= 1, "count: shares {sizes:?}");
            }
        }
    }

    proptest! {
        /// Any names, any order: the shares cover the list once, and the
        /// split does not depend on the order the labs were given in.
        #[test]
        fn shares_cover_any_list_once_in_any_order(
            set in proptest::collection::btree_set("[a-z0-9./_-]{1,12}", 0..=20),
            total in 1u32..=6,
            hash in any::<bool>(),
            seed in any::<u64>(),
        ) {
            let list: Vec<String> = set.iter().cloned().collect();
            let mut shuffled = list.clone();
            // A fixed permutation from the seed (rotate, then reverse on odd seeds).
            if !shuffled.is_empty() {
                let len = shuffled.len();
                shuffled.rotate_left((seed % len as u64) as usize);
            }
            if seed % 2 == 1 {
                shuffled.reverse();
            }
            let scheme = if hash { "hash" } else { "count" };
            let mut all = Vec::new();
            for k in 1..=total {
                let part = p(&format!("{scheme}:{k}/{total}"));
                let a = part.share(&list).unwrap();
                let b = part.share(&shuffled).unwrap();
                prop_assert_eq!(&a, &b);
                all.extend(a.labs);
            }
            all.sort();
            prop_assert_eq!(all, list);
        }
    }

    /// count: deals the sorted list round-robin.
    #[test]
    fn count_deals_sorted_labs_in_turn() {
        let list: Vec<String> = ["workflow", "bench", "testnodes", "docker-deploy"]
            .map(String::from)
            .to_vec();
        let share = |k| p(&format!("count:{k}/3")).share(&list).unwrap().labs;
        assert_eq!(share(1), ["bench", "workflow"]);
        assert_eq!(share(2), ["docker-deploy"]);
        assert_eq!(share(3), ["testnodes"]);
        assert_eq!(p("2/3"), p("count:2/3"), "a bare K/N is count:");
    }

    /// hash: a lab keeps its share when another lab joins the list.
    #[test]
    fn hash_keeps_a_labs_share_when_the_list_grows() {
        let list = labs(12);
        let mut more = list.clone();
        more.push("a-new-lab".into());
        for k in 1..=4 {
            let part = p(&format!("hash:{k}/4"));
            let before = part.share(&list).unwrap().labs;
            let after = part.share(&more).unwrap().labs;
            assert!(
                before.iter().all(|l| after.contains(l)),
                "{before:?} {after:?}"
            );
        }
        // Pinned, so a change of hash (which would move labs between runners
        // of one pipeline built by two labctl versions) is seen.
        let shipped: Vec<String> = ["bench", "docker-deploy", "testnodes", "workflow"]
            .map(String::from)
            .to_vec();
        let share = |k| p(&format!("hash:{k}/3")).share(&shipped).unwrap().labs;
        assert_eq!(share(1), ["bench"]);
        assert_eq!(share(2), ["docker-deploy"]);
        assert_eq!(share(3), ["testnodes", "workflow"]);
    }

    #[test]
    fn the_share_line_names_the_labs_or_says_it_is_empty() {
        let list = labs(3);
        assert_eq!(
            p("count:2/2").share(&list).unwrap().to_string(),
            "partition count:2/2: 1 of 3 labs: lab-01"
        );
        assert_eq!(
            p("hash:5/6").share(&labs(1)).unwrap().to_string(),
            "partition hash:5/6: no lab in this share (1 lab over 6 shares); nothing to test"
        );
        assert_eq!(
            p("count:5/6").share(&list).unwrap().to_string(),
            "partition count:5/6: no lab in this share (3 labs over 6 shares); nothing to test"
        );
    }

    #[test]
    fn a_lab_named_twice_is_refused() {
        let list: Vec<String> = ["a", "b", "a"].map(String::from).to_vec();
        let e = p("1/2").share(&list).unwrap_err();
        assert!(e.contains("lab `a` is named twice"), "{e}");
    }

    #[rstest]
    #[case("", ParseError::Shape("".into()))]
    #[case("count:", ParseError::Shape("".into()))]
    #[case("count:3", ParseError::Shape("3".into()))]
    #[case("slice:1/2", ParseError::Scheme("slice".into()))]
    #[case("COUNT:1/2", ParseError::Scheme("COUNT".into()))]
    #[case("count:a/2", ParseError::Number("a".into()))]
    #[case("count:1/", ParseError::Number("".into()))]
    #[case("count:/2", ParseError::Number("".into()))]
    #[case("count:+1/2", ParseError::Number("+1".into()))]
    #[case("count:-1/2", ParseError::Number("-1".into()))]
    #[case("count:1/2/3", ParseError::Number("2/3".into()))]
    #[case("count: 1/2", ParseError::Number(" 1".into()))]
    #[case("hash:1/99999999999", ParseError::Number("99999999999".into()))]
    #[case("count:0/0", ParseError::NoShares)]
    #[case("count:1/0", ParseError::NoShares)]
    #[case("count:0/3", ParseError::OutOfRange { index: 0, total: 3 })]
    #[case("hash:4/3", ParseError::OutOfRange { index: 4, total: 3 })]
    fn invalid_specs_are_refused(#[case] spec: &str, #[case] want: ParseError) {
        assert_eq!(spec.parse::<Partition>(), Err(want));
    }

    #[rstest]
    #[case("count:1/1", Scheme::Count, 1, 1)]
    #[case("hash:3/6", Scheme::Hash, 3, 6)]
    #[case("2/2", Scheme::Count, 2, 2)]
    fn valid_specs(
        #[case] spec: &str,
        #[case] scheme: Scheme,
        #[case] index: u32,
        #[case] total: u32,
    ) {
        let part = p(spec);
        assert_eq!(
            part,
            Partition {
                scheme,
                index,
                total
            }
        );
        assert!(spec.ends_with(&part.to_string()[part.to_string().find(':').unwrap() + 1..]));
    }
}
