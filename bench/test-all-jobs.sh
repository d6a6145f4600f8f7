#!/usr/bin/env bash
# `labctl test` of several labs one after another versus `--jobs 2` (issue 13
# items 4 and 5), in the same run, interleaved (the order alternates each
# round), docker provider, every lab destroyed after its run:
#   serial: labctl test LABS --destroy always
#   jobs:   labctl test LABS --destroy always --jobs 2
# Each run's exit status must be 0 and its JSON report must list every lab
# ok; otherwise the bench stops naming the run. Prints each round, the
# medians and their ratio (goal: jobs <= 0.7x serial), and for the jobs runs
# labctl's memory:
#   - every labctl process of the run (the parent and one per running lab)
#     sampled from /proc every 0.2 s: the peak of their summed RSS, and the
#     peak VmHWM of the parent and of any one child;
#   - /usr/bin/time -v's "Maximum resident set size": the largest single
#     process of the whole tree, Vagrant's Ruby included (not labctl's own).
# and whether the goal holds (every labctl process under 50 MB). One labctl
# command alone: bench/labctl-rss.sh.
#
# Usage: bench/test-all-jobs.sh [ROUNDS]      (default 3)
#   LABS=all      the shipped labs (`--all`; needs a host where no shipped lab
#                 is up: they run under their own names and subnets)
#   LABS=fixtures (default) three small fixture labs: tests/fixtures/jobs
#                 one.toml and two.toml, tests/fixtures/snap; run under the
#                 e2e lock: flock /tmp/labctl-e2e.lock bench/test-all-jobs.sh
# Not a test: figures depend on the host.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-3}
LABS=${LABS:-fixtures}
cargo build -q --release
L=$PWD/target/release/labctl
work=$(mktemp -d /tmp/labctl-bench-jobs.XXXXXX)
case "$LABS" in
  fixtures)
    cp -r tests/fixtures/jobs/. "$work/"
    mkdir -p "$work/snap" && cp -r tests/fixtures/snap/. "$work/snap/"
    SEL=(one.toml two.toml snap/lab.toml)
    DOWN=(one.toml two.toml snap/lab.toml)
    ;;
  all)
    SEL=(--all)
    # Nothing is taken down by name here: a shipped lab's name may be another
    # user's lab on this host; --destroy always removes each after its run.
    DOWN=()
    ;;
  *) echo "LABS must be fixtures or all" >&2; exit 2 ;;
esac
cd "$work"
# A run that stopped part way leaves its lab up (fixture labs only: their
# state dirs are in this folder).
cleanup() { for l in "${DOWN[@]}"; do "$L" down "$l" >/dev/null 2>&1 || true; done; }
trap cleanup EXIT
"$L" image build --provider docker >/dev/null
fail() { echo "bench: $*; logs in $work" >&2; exit 1; }

# Every lab of a run's JSON report passed, or the run is named.
all_ok() {
  python3 - "$1" <<'PY' || fail "run $2: not every lab passed (report $1)"
import json, sys
runs = json.load(open(sys.argv[1]))
runs = runs if isinstance(runs, list) else [runs]
bad = [r["lab"] for r in runs if not r["ok"]]
sys.exit(1 if bad or not runs else 0)
PY
}

# Run labctl (with args) under /usr/bin/time -v, sampling every labctl
# process below it; prints "seconds rss_sum_peak_kb parent_hwm_kb child_hwm_kb time_max_kb".
measured() {
  local tag=$1; shift
  python3 - "$tag" "$L" "$@" <<'PY'
import os, subprocess, sys, time
tag, exe, args = sys.argv[1], sys.argv[2], sys.argv[3:]
def ppids():
    # /proc/PID/task/TID/children is not on every kernel: read each stat.
    out = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                st = open(f"/proc/{d}/stat").read()
                out.setdefault(int(st.rsplit(")", 1)[1].split()[1]), []).append(int(d))
            except (OSError, IndexError, ValueError):
                pass
    return out
def field(pid, name):
    try:
        for l in open(f"/proc/{pid}/status"):
            if l.startswith(name + ":"):
                return int(l.split()[1])
    except OSError:
        pass
    return 0
def comm(pid):
    try:
        return open(f"/proc/{pid}/comm").read().strip()
    except OSError:
        return ""
t0 = time.monotonic()
with open(f"{tag}.log", "w") as log, open(f"{tag}.time", "w") as tlog:
    p = subprocess.Popen(["/usr/bin/time", "-v", "-o", f"{tag}.time", exe] + args,
                         stdout=log, stderr=log)
    peak_sum = parent_hwm = child_hwm = 0
    per_lab = {}
    while p.poll() is None:
        tree = ppids()
        kids = lambda pid: tree.get(pid, [])
        parents = [k for k in kids(p.pid) if comm(k) == "labctl"]
        for par in parents:
            parent_hwm = max(parent_hwm, field(par, "VmHWM"))
            children = [c for c in kids(par) if comm(c) == "labctl"]
            for c in children:
                child_hwm = max(child_hwm, field(c, "VmHWM"))
                try:  # a lab's own run is `labctl test LAB ...`
                    lab = open(f"/proc/{c}/cmdline").read().split("\0")[2]
                    per_lab[lab] = max(per_lab.get(lab, 0), field(c, "VmHWM"))
                except (OSError, IndexError):
                    pass
            peak_sum = max(peak_sum, field(par, "VmRSS") + sum(field(c, "VmRSS") for c in children))
        time.sleep(0.2)
secs = time.monotonic() - t0
tmax = 0
for l in open(f"{tag}.time"):
    if "Maximum resident set size" in l:
        tmax = int(l.split()[-1])
with open(f"{tag}.labs", "w") as f:
    f.writelines(f"{lab} {kb}\n" for lab, kb in sorted(per_lab.items()))
print(f"{secs:.1f} {peak_sum} {parent_hwm} {child_hwm} {tmax} {p.returncode}")
PY
}

run() { # tag, extra args...
  local tag=$1; shift
  local out
  out=$(measured "$tag" test "${SEL[@]}" --provider docker --no-setup --destroy always \
    --report "json:$tag.json" "$@")
  local rc=${out##* }
  [ "$rc" = 0 ] || fail "run $tag exited $rc"
  all_ok "$tag.json" "$tag"
  echo "${out% *}"
}

results=()
for i in $(seq 1 "$ROUNDS"); do
  if [ $((i % 2)) = 1 ]; then
    s=$(run "serial-$i"); j=$(run "jobs-$i" --jobs 2)
  else
    j=$(run "jobs-$i" --jobs 2); s=$(run "serial-$i")
  fi
  echo "round $i: serial ${s%% *} s, --jobs 2 ${j%% *} s" >&2
  results+=("$s|$j")
done
python3 - "$LABS" "${results[@]}" <<'PY'
import statistics, sys
labs, rows = sys.argv[1], [r.split("|") for r in sys.argv[2:]]
s = [list(map(float, a.split())) for a, _ in rows]
j = [list(map(float, b.split())) for _, b in rows]
for i, (a, b) in enumerate(zip(s, j), 1):
    print(f"round {i}: serial {a[0]:6.1f} s   --jobs 2 {b[0]:6.1f} s   ({b[0] / a[0]:.2f}x)")
ms, mj = statistics.median(x[0] for x in s), statistics.median(x[0] for x in j)
print(f"labs: {labs}; median of {len(rows)}: serial {ms:.1f} s, --jobs 2 {mj:.1f} s: {mj / ms:.2f}x the serial time (goal <= 0.7x)")
mb = lambda kb: f"{kb / 1024:.1f} MB"
print("--jobs 2 memory, worst round:")
print(f"  labctl processes together (parent + running labs, sampled): peak {mb(max(x[1] for x in j))}")
print(f"  labctl parent peak RSS (VmHWM): {mb(max(x[2] for x in j))}; one lab's labctl: {mb(max(x[3] for x in j))}")
print(f"  /usr/bin/time -v max RSS (largest process of the tree, Vagrant's Ruby included): {mb(max(x[4] for x in j))}")
print(f"serial, for comparison: /usr/bin/time -v max RSS {mb(max(x[4] for x in s))}, labctl's own peak {mb(max(x[2] for x in s))}")
worst = max([x[2] for x in j] + [x[3] for x in j] + [x[2] for x in s])
print(f"goal (issue 13): every labctl process under 50 MB peak RSS, serial and --jobs 2: "
      f"{'met' if worst < 50 * 1024 else 'NOT met'} (largest {mb(worst)})")
PY
echo "each lab's labctl with --jobs 2, peak RSS (VmHWM) over the rounds:"
cat jobs-*.labs | sort -k1,1 -k2,2n | awk '{ m[$1] = $2 } END { for (l in m) printf "  %s %.1f MB\n", l, m[l] / 1024 }' | sort
echo "logs: $work"
