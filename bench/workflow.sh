#!/usr/bin/env bash
# Times the flagship lab on this machine:
#   cold: `labctl up workflow` + `labctl test workflow` from nothing (node image
#         cached) to every check green;
#   warm: `labctl test workflow` on the running lab, leaving out the check that
#         waits for cron to fire (it waits for the next minute by design).
# Prints the figures. Not a test: figures depend on the host.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build -q --release
L=$PWD/target/release/labctl
work=$(mktemp -d /tmp/labctl-bench-wf.XXXXXX)
cd "$work"
trap '"$L" down workflow >/dev/null 2>&1 || true' EXIT
now() { date +%s.%N; }
"$L" image build >/dev/null
"$L" down workflow >/dev/null 2>&1 || true

t0=$(now); "$L" up workflow --provider docker --no-setup >up.log 2>&1
t1=$(now); "$L" test workflow >test-cold.log 2>&1
t2=$(now); "$L" test workflow --skip 'cron fires' >test-warm.log 2>&1
t3=$(now)
python3 - "$t0" "$t1" "$t2" "$t3" <<'PY'
import sys
t0, t1, t2, t3 = map(float, sys.argv[1:])
print(f"labctl up workflow (image cached)         {t1 - t0:6.1f} s")
print(f"labctl test workflow (cold, all checks)   {t2 - t1:6.1f} s")
print(f"from nothing to all checks green          {t2 - t0:6.1f} s   (goal < 60 s)")
print(f"warm labctl test workflow (no cron wait)  {t3 - t2:6.1f} s   (goal < 10 s)")
PY
echo "logs: $work"
