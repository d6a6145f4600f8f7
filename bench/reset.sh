#!/usr/bin/env bash
# Times getting the freshly provisioned workflow lab back, on the docker
# provider, two ways, in the same run, interleaved:
#   reset:   `labctl reset` + `labctl test` (after a drift the test catches:
#            web2's logrotate file removed) until every check is green;
#   rebuild: `labctl down` + `labctl up` + the same `labctl test`.
# Three rounds of each, alternating; each run's exit status is checked (a
# failed reset or test stops the bench). Prints every round and the medians,
# the reset alone (`labctl reset` until it returns: every node back and
# answering SSH with its known host key) among them.
# Both leave out the check that waits for cron to fire (it waits for the next
# minute by design). Run under the e2e lock: flock /tmp/labctl-e2e.lock bench/reset.sh
# Not a test: figures depend on the host.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build -q --release
L=$PWD/target/release/labctl
work=$(mktemp -d /tmp/labctl-bench-reset.XXXXXX)
cd "$work"
LAB=(workflow --name wfreset --subnet 192.168.157.0/24)
trap '"$L" down "${LAB[@]}" >/dev/null 2>&1 || true' EXIT
now() { date +%s.%N; }
"$L" image build >/dev/null
"$L" down "${LAB[@]}" >/dev/null 2>&1 || true
"$L" up "${LAB[@]}" --provider docker --no-setup >up-0.log 2>&1
green() { "$L" test "${LAB[@]}" --skip 'cron fires' >"$1" 2>&1; }

results=()
for i in 1 2 3; do
  # The drift must be seen: the test fails before the reset.
  "$L" exec "${LAB[@]}" web2 -- sudo rm -f /etc/logrotate.d/ansible-pull
  if green "drifted-$i.log"; then echo "round $i: the drift was not caught" >&2; exit 1; fi
  t0=$(now)
  "$L" reset "${LAB[@]}" >"reset-$i.log" 2>&1
  tr=$(now)
  green "test-reset-$i.log"
  t1=$(now)
  "$L" down "${LAB[@]}" >"down-$i.log" 2>&1
  "$L" up "${LAB[@]}" --provider docker --no-setup >"up-$i.log" 2>&1
  green "test-up-$i.log"
  t2=$(now)
  results+=("$t0 $tr $t1 $t2")
done
python3 - "${results[@]}" <<'PY'
import statistics, sys
rows = [tuple(map(float, r.split())) for r in sys.argv[1:]]
alone = [r - a for a, r, _, _ in rows]
reset = [b - a for a, _, b, _ in rows]
rebuild = [c - b for _, _, b, c in rows]
for i, (x, r, u) in enumerate(zip(alone, reset, rebuild), 1):
    print(f"round {i}: reset {x:5.1f} s   reset + test {r:6.1f} s   down + up + test {u:6.1f} s")
mx, mr, mu = statistics.median(alone), statistics.median(reset), statistics.median(rebuild)
print(f"median:  reset {mx:5.1f} s   reset + test {mr:6.1f} s   down + up + test {mu:6.1f} s   ({mu / mr:.1f}x)")
print(f"goal: reset under 10 s: {'met' if mx < 10 else 'NOT met'} ({mx:.1f} s, median of {len(alone)})")
PY
grep -h "restored to snapshot" reset-*.log
echo "logs: $work"
