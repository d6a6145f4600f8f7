#!/usr/bin/env bash
# The live half of the golden comparison (tests/golden.rs holds the rest):
# bring the workflow lab up on the docker provider in a temporary folder,
# print its `status` table and the summary table of `labctl test`, with what
# varies from run to run masked (times, SSH ports, request counts per
# backend), then bring it down.
#
#   tests/golden/live.sh OUT.txt           # run and write the masked tables
#   diff tests/golden/live/workflow.txt OUT.txt
#
# Run it under the host-wide Docker lock, like the e2e tests:
#   flock /tmp/labctl-docker.lock tests/golden/live.sh /tmp/live.txt
set -euo pipefail
out=${1:?usage: live.sh OUT.txt}
repo=$(cd "$(dirname "$0")/../.." && pwd)
cargo build -q --manifest-path "$repo/Cargo.toml"
bin="$repo/target/debug/labctl"
work=$(mktemp -d)
trap '(cd "$work" && "$bin" down workflow >/dev/null 2>&1 || true); rm -rf "$work"' EXIT
cd "$work"
"$bin" up workflow --provider docker >"$work/up.log" 2>&1 || { tail -n 40 "$work/up.log" >&2; exit 1; }
mask() {
    sed -E \
        -e 's/[0-9]+\.[0-9]s +/N.Ns  /g' \
        -e 's/TIME +DETAIL/TIME  DETAIL/' \
        -e 's/127\.0\.0\.1:[0-9]+/127.0.0.1:PORT/g' \
        -e 's/(web[0-9]+): [0-9]+/\1: N/g'
}
{
    echo "--- labctl status workflow"
    "$bin" status workflow | mask
    echo "--- labctl test workflow (exit and summary table)"
    set +e
    "$bin" test workflow >"$work/test.out" 2>"$work/test.err"
    echo "exit $?"
    set -e
    cat "$work/test.out"
    # The summary table starts at its header line; the live lines above it
    # come in the order checks finish.
    sed -n '/^CHECK /,$p' "$work/test.err" | mask
} >"$out"
"$bin" down workflow >/dev/null 2>&1
echo "live tables written to $out"
