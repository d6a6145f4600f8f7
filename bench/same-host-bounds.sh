#!/usr/bin/env bash
# The figures behind the bench lab's same-host ratio bounds (docs/bench.md,
# "Where the same-host bound comes from"): RUNS runs of `labctl bench` on one
# `up` of a copy of the shipped bench lab, then each same-host path's ratio per
# run and the lowest single round, side by side.
#
# Usage: bench/same-host-bounds.sh   (RUNS=5 to change the number of runs)
#
# The copy has its own name and subnet (192.168.94.0/24), so it does not meet
# the shipped lab or the tests; traffic stays on that lab's own network.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-5}
[ "$RUNS" -ge 1 ] && [ "$RUNS" -le 20 ] || { echo "RUNS must be 1..20" >&2; exit 2; }

cargo build --quiet
BIN=$PWD/target/debug/labctl
TMP=$(mktemp -d)
cd "$TMP"
sed -e 's/^name = "bench"/name = "benchbounds"/' -e 's/192\.168\.58\./192.168.94./g' \
    "$OLDPWD/labs/bench.toml" > benchbounds.toml
trap '"$BIN" down ./benchbounds.toml >/dev/null 2>&1 || true; rm -rf "$TMP"' EXIT

"$BIN" up ./benchbounds.toml --provider docker >up.log 2>&1 || { cat up.log; exit 1; }
for i in $(seq 1 "$RUNS"); do
    rc=0
    "$BIN" bench ./benchbounds.toml --report "json:run$i.json" >"run$i.txt" 2>&1 || rc=$?
    echo "run $i: exit $rc"
done

# Ratio (median of per-round ratios) per run, and the lowest single round.
python3 - "$RUNS" <<'PY'
import json, sys
runs = int(sys.argv[1])
recs = [json.load(open(f"run{i}.json")) for i in range(1, runs + 1)]
names = ["raw", "same-host-bridge", "container-external", "container-internal"]
print(f"{'scenario':<20}" + "".join(f"{'run ' + str(i):>9}" for i in range(1, runs + 1)) + "   lowest round Gbit/s")
for n in names:
    row, low = [], None
    for r in recs:
        s = next(x for x in r["summaries"] if x["scenario"] == n)
        v = s["median_gbps"] if n == "raw" else s["ratio_to_baseline"]
        row.append(f"{v:9.2f}" if v is not None else f"{'-':>9}")
        if s["min_gbps"] is not None:
            low = s["min_gbps"] if low is None else min(low, s["min_gbps"])
    print(f"{n:<20}" + "".join(row) + f"   {low:.2f}")
PY
