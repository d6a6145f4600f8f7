#!/usr/bin/env bash
# labctl's own memory during one command (issue 13 item 5: every labctl
# process under 50 MB peak RSS, also with `test --all --jobs N`). Runs
#   LABCTL ARGS...
# and samples, every 0.1 s from /proc, every labctl process of its tree (the
# command itself and, with --jobs, one child per running lab; Vagrant, Ruby,
# ssh and docker are not labctl and not counted). Prints each labctl process's
# peak RSS (VmHWM, the kernel's own high-water mark) with its arguments, the
# peak of their summed RSS, and the verdict against the goal. Exits with the
# command's status; a failed command prints no verdict.
#
# Usage: bench/labctl-rss.sh [--binary PATH] ARGS...
#   e.g. flock /tmp/labctl-e2e.lock bench/labctl-rss.sh up docker-deploy \
#          --name rss-dd --subnet 10.231.7.0/24 --provider docker
#   (then `labctl down rss-dd`). Default binary: target/release/labctl, built.
# Not a test: figures depend on the host.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
if [ "${1:-}" = --binary ]; then
    L=$2; shift 2
else
    (cd "$root" && cargo build -q --release)
    L=$root/target/release/labctl
fi
exec python3 - "$L" "$@" <<'PY'
import os, subprocess, sys, time
exe, args = sys.argv[1], sys.argv[2:]
GOAL_MB = 50
def children():
    out = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                st = open(f"/proc/{d}/stat").read()
                out.setdefault(int(st.rsplit(")", 1)[1].split()[1]), []).append(int(d))
            except (OSError, IndexError, ValueError):
                pass
    return out
def status(pid):
    f = {}
    try:
        for l in open(f"/proc/{pid}/status"):
            k, _, v = l.partition(":")
            f[k] = v.split()
    except OSError:
        pass
    return f
p = subprocess.Popen([exe] + args)
peak = {}      # pid -> (args, VmHWM kB)
peak_sum = 0
while p.poll() is None:
    tree, todo, total = children(), [p.pid], 0
    while todo:
        pid = todo.pop()
        todo += tree.get(pid, [])
        st = status(pid)
        if not st.get("Name", [""])[0].startswith("labctl") or "VmHWM" not in st:
            continue
        try:
            cmd = " ".join(open(f"/proc/{pid}/cmdline").read().split("\0")[1:]).strip()
        except OSError:
            cmd = "?"
        peak[pid] = (cmd, max(peak.get(pid, ("", 0))[1], int(st["VmHWM"][0])))
        total += int(st["VmRSS"][0])
    peak_sum = max(peak_sum, total)
    time.sleep(0.1)
mb = lambda kb: kb / 1024
for pid, (cmd, kb) in sorted(peak.items()):
    print(f"rss: labctl {cmd}: peak {mb(kb):.1f} MB", file=sys.stderr)
if p.returncode != 0:
    print(f"rss: the command exited {p.returncode}: no figure", file=sys.stderr)
    sys.exit(p.returncode)
worst = max((kb for _, kb in peak.values()), default=0)
print(f"rss: {len(peak)} labctl process(es); largest peak {mb(worst):.1f} MB, "
      f"all together at most {mb(peak_sum):.1f} MB", file=sys.stderr)
print(f"rss: goal: every labctl process under {GOAL_MB} MB: "
      f"{'met' if worst < GOAL_MB * 1024 else 'NOT met'}", file=sys.stderr)
PY
