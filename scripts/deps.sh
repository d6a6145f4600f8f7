#!/usr/bin/env bash
# What a fresh Debian machine needs, besides a Rust toolchain, before labctl
# can be built (ssh2's libssh2 links Debian's OpenSSL) and, with --tests,
# before its test suite can run: the tools the tests read labctl's output
# with (Graphviz's dot, man, python3-junitparser, check-jsonschema) and
# those its image tests build RPMs with. What labs need (Docker, Vagrant,
# libvirt, iperf3, ...) is not here: `labctl setup` installs that, printing
# every change. Idempotent: installs only what is missing, says what.
# Run as root: bash scripts/deps.sh [--tests]
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
pkgs=(libssl-dev pkg-config ca-certificates)
tests=false
case "${1:-}" in
    --tests) tests=true ;;
    "") ;;
    *) echo "usage: bash scripts/deps.sh [--tests]" >&2; exit 2 ;;
esac
if $tests; then
    # rpm (rpmbuild, rpmsign), dnf, createrepo-c: `labctl image build
    # --rpm-repo`, whose tests build and sign their own RPMs (busybox-static
    # is the program those packages carry). graphviz: the graph tests read
    # labctl's DOT back through `dot`; man-db: the man page test runs
    # `man -l`. python3-junitparser: e2e_shard reads a merged JUnit report
    # with it. python3-venv: check-jsonschema's virtualenv below. curl: the
    # tests' own requests to lab addresses. time: /usr/bin/time -v, which
    # bench/test-all-jobs.sh reads peak memory from.
    pkgs+=(rpm dnf createrepo-c busybox-static graphviz man-db python3-junitparser python3-venv curl time)
fi
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "deps: installing ${missing[*]}"
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
if $tests; then
    # check-jsonschema (not in Debian) in a virtualenv of its own, pinned:
    # tests/nightly_docs.rs checks docs/nightly.md's CI examples against the
    # GitLab CI and GitHub workflow schemas it carries (offline once
    # installed). Debian's own python3, whatever else is first on PATH.
    venv=/opt/labctl-ci-venv
    if ! "$venv/bin/check-jsonschema" --version 2>/dev/null | grep -q ' 0\.39\.0$'; then
        echo "deps: check-jsonschema 0.39.0 into $venv (from PyPI)"
        rm -rf "$venv"
        /usr/bin/python3 -m venv "$venv"
        "$venv/bin/pip" install -q --disable-pip-version-check check-jsonschema==0.39.0
    fi
fi
echo "deps: ready$($tests && echo ' (with the test tools)')"
