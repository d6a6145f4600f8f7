#!/usr/bin/env bash
# The flagship lab on real VMs, once: `labctl up workflow --provider libvirt`
# then `labctl test workflow` (every check), timed, then `down`. Never part of
# `cargo test` (five VMs under TCG take many minutes on two cores); the figure
# is recorded in docs/libvirt-notes.md. Takes the VM lock (one VM lab at a
# time on this machine). Needs `labctl setup --provider libvirt`; the box is
# built first when missing (not timed). Exit status: that of `labctl test`.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build -q
L=$PWD/target/debug/labctl
work=$(mktemp -d /tmp/labctl-bench-lvwf.XXXXXX)
cd "$work"
exec 9>/tmp/labctl-vm.lock
flock 9
trap '"$L" down workflow >down.log 2>&1 || true' EXIT
now() { date +%s.%N; }
"$L" image build --provider libvirt >/dev/null
"$L" down workflow >/dev/null 2>&1 || true

t0=$(now); "$L" up workflow --provider libvirt --no-setup >up.log 2>&1
t1=$(now); rc=0; "$L" test workflow >test.log 2>&1 || rc=$?
t2=$(now)
tail -n 3 test.log
python3 - "$t0" "$t1" "$t2" "$(cut -d' ' -f1-3 /proc/loadavg)" <<'PY'
import sys
t0, t1, t2 = map(float, sys.argv[1:4])
print(f"labctl up workflow --provider libvirt (box cached)  {t1 - t0:7.1f} s")
print(f"labctl test workflow (all checks)                   {t2 - t1:7.1f} s")
print(f"from nothing to every check run                     {t2 - t0:7.1f} s   (load after: {sys.argv[4]})")
PY
echo "logs: $work"
exit "$rc"
