#!/usr/bin/env bash
# Times the flagship lab on this machine, RUNS rounds (default 3), each from
# nothing (node image cached):
#   cold: `labctl up workflow` + `labctl test workflow` to every check green;
#   warm: `labctl test workflow` again on the running lab, every check run
#         (nothing skipped; the cron check judges by the firing the role armed).
# Each round's figures come from labctl's run records (the lab's history/):
# up's and test's own measured time and phases, and the cron check's time on
# its own line. A round that fails (an exit status, a check not green, one
# skipped) stops the script with an error naming it: no time is printed for it.
# Each round also prints when web1's cron probe was armed and when its firings
# ended: most of the cold cron check is the wait for cron's next minute.
# Prints the median of each figure. Not a test: figures depend on the host.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-3}
cargo build -q --release
L=$PWD/target/release/labctl
R="python3 $PWD/bench/lib/record.py"
work=$(mktemp -d /tmp/labctl-bench-wf.XXXXXX)
cd "$work"
H=.labctl/workflow/history
CRON="cron fires the pull line"
fail() { echo "bench: $*" >&2; echo "logs: $work" >&2; exit 1; }
trap '"$L" down workflow >/dev/null 2>&1 || true' EXIT
"$L" image build >/dev/null
"$L" down workflow >/dev/null 2>&1 || true

now() { date +%s.%N; }
# One round: prints "wall_cold up test_cold cron_cold wall_warm test_warm cron_warm".
round() {
    local i=$1 a b c rec_up rec_t1 rec_t2
    a=$(now)
    "$L" up workflow --provider docker --no-setup >"up-$i.log" 2>&1 || fail "round $i: labctl up exited $? (up-$i.log)"
    "$L" test workflow >"test-cold-$i.log" 2>&1 || fail "round $i: cold labctl test exited $? (test-cold-$i.log)"
    b=$(now)
    "$L" test workflow >"test-warm-$i.log" 2>&1 || fail "round $i: warm labctl test exited $? (test-warm-$i.log)"
    c=$(now)
    rec_up=$($R latest $H up)
    rec_t2=$($R latest $H test)
    rec_t1=$(ls $H/run-*.json | sort | grep -B1 -x "$rec_t2" | head -n 1)
    $R check "$rec_up" "round $i: labctl up"
    $R check "$rec_t1" "round $i: cold labctl test"
    $R check "$rec_t2" "round $i: warm labctl test"
    cp "$rec_up" "up-record-$i.json"
    # Where the cron check's time goes: the probe the role armed (or the
    # check armed again) waits for cron's next minute, then for the pull.
    "$L" exec workflow web1 -- sudo -n cat /var/lib/labctl/cron-probe-status >"cron-probe-$i.txt" 2>&1 ||
        fail "round $i: cannot read web1's cron probe status (cron-probe-$i.txt)"
    python3 - "cron-probe-$i.txt" "$i" >&2 <<'PY'
import sys, time
lines = [l.split() for l in open(sys.argv[1]) if l.strip()]
hms = lambda t: time.strftime("%H:%M:%S", time.gmtime(t))
arm = next(int(l[3][3:]) for l in lines if l[0] == "armed")
fired = [(int(l[2][3:]), l[4]) for l in lines if len(l) > 4 and l[1] == "fired"]
print(f"round {sys.argv[2]} cron probe: armed {hms(arm)} ({60 - arm % 60} s before cron's next minute); "
      + "firings ended: " + (", ".join(f"{hms(t)} (+{t - arm} s) {rc}" for t, rc in fired) or "none"))
PY
    "$L" down workflow >/dev/null 2>&1 || fail "round $i: labctl down failed"
    python3 - "$rec_up" "$rec_t1" "$rec_t2" "$CRON" "$a" "$b" "$c" <<'PY'
import json, sys
up, t1, t2 = (json.load(open(p)) for p in sys.argv[1:4])
cron = sys.argv[4]
a, b, c = map(float, sys.argv[5:8])
secs = lambda r: next(x["seconds"] for x in r["results"] if x["name"] == cron)
print(b - a, up["seconds"], t1["seconds"], secs(t1), c - b, t2["seconds"], secs(t2))
PY
}

rows=()
for i in $(seq "$RUNS"); do
    r=$(round "$i") || exit 1
    echo "round $i: $r" >&2
    rows+=("$r")
done
printf '%s\n' "${rows[@]}" | python3 -c '
import statistics, sys
rows = [list(map(float, l.split())) for l in sys.stdin if l.strip()]
m = [statistics.median(c) for c in zip(*rows)]
print(f"\nworkflow lab, node image cached; median of {len(rows)} rounds (labctl run records):")
print(f"  from nothing to every check green (wall)     {m[0]:6.1f} s   (goal < 40 s)")
print(f"    labctl up (its record)                     {m[1]:6.1f} s")
print(f"    cold labctl test, all checks (its record)  {m[2]:6.1f} s")
print(f"      of it, the cron check                    {m[3]:6.1f} s")
print(f"  warm labctl test, all checks (wall)          {m[4]:6.1f} s   (goal < 10 s)")
print(f"    its record                                 {m[5]:6.1f} s")
print(f"      of it, the cron check                    {m[6]:6.1f} s")'
printf '\nlabctl up phases, median over the rounds:\n'
$R median-phases $(for i in $(seq "$RUNS"); do echo "up-record-$i.json"; done)
echo "logs: $work"
