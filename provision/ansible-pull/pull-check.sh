#!/bin/bash
# ansible-pull-check: the workflow lab's checks of the pull cron line, run on a
# node as root by `labctl test`. Each judges only what happens in this lab: a
# nonce marks where a run's output begins, never a log line or a file an
# earlier run (or an earlier lab) left.
#
#   ansible-pull-check run         run the installed */3 line now, as cron runs
#                                  it (cron.d's variables, /bin/sh); passes when
#                                  it exits 0 and this run's log lines show the
#                                  pull finished (nothing new, or failed=0)
#   ansible-pull-check arm         install a one-minute copy of the line that
#                                  records each firing (the pull's own exit
#                                  status, the cron daemon that ran it; a
#                                  firing waits up to 50 s for a pull holding
#                                  the lock, and skips the pull when the probe
#                                  is gone by then) and
#                                  removes itself after one that exits 0; the
#                                  role arms it when it provisions the node, so
#                                  cron has fired it before the lab is tested
#   ansible-pull-check cron [SECS] passes on the armed probe's firing when it
#                                  exited 0, the */3 line is still the one it
#                                  copied, and the cron daemon that fired it
#                                  still runs; otherwise arms the probe (again)
#                                  and waits for a firing that exits 0. SECS
#                                  (150) bounds cron's part: no firing started
#                                  within SECS, or every started firing ended
#                                  non-zero by then, fails. A firing still
#                                  running at SECS is waited for: how long a
#                                  pull takes depends on the node's speed
#                                  (minutes on an emulated VM), so the check's
#                                  own timeout, which labctl scales to the
#                                  nodes, bounds it.
#   ansible-pull-check fired N RC  what the probe line runs after the pull
#                                  (cron only): records firing N's exit status
#                                  (RC `skipped`: its probe was gone)
#   ansible-pull-check undo        remove the probe (not what it recorded);
#                                  labctl runs it after the check on every way
#                                  out and before the next run, so an
#                                  interrupted run leaves no probe that pulls
#                                  every minute for good
#
# Paths can be moved for tests only through the ANSIBLE_PULL_CHECK_ROOT prefix
# (sudo resets the environment, so on a node they are always the real ones).
set -u
root=${ANSIBLE_PULL_CHECK_ROOT:-}
CRON=$root/etc/cron.d/ansible-pull
# No dot in the name: cron ignores /etc/cron.d files with one, so the copy
# being written (PROBE.new) is never read half-done.
PROBE=$root/etc/cron.d/labctl-cron-probe
STATUS=$root/var/lib/labctl/cron-probe-status

die() { echo "$*" >&2; exit 1; }

# The installed line: exactly one `*/3 ... root` line, and its log file.
read_line() {
    [ -r "$CRON" ] || die "no $CRON"
    line=$(sed -n 's|^[*]/3 [*] [*] [*] [*] root ||p' "$CRON")
    [ -n "$line" ] || die "no */3 root line in $CRON"
    [ "$(printf '%s\n' "$line" | wc -l)" = 1 ] || die "more than one */3 root line in $CRON"
    log=$(printf '%s\n' "$line" | sed -n 's|.*>>[[:space:]]*\([^[:space:]]*\)[[:space:]]*2>&1[[:space:]]*$|\1|p')
    [ -n "$log" ] || die "the */3 line does not append to a log (>>FILE 2>&1): $line"
    log=$root$log
    lock=$(printf '%s\n' "$line" | sed -n 's|^flock -n \([^[:space:]]*\) .*|\1|p')
    # cron.d's variable lines (SHELL, PATH, ...), which cron gives the line.
    mapfile -t cronenv < <(grep -E '^[A-Za-z_][A-Za-z0-9_]*=' "$CRON")
}

nonce() {
    printf 'labctl-check-%s' "$(cat /proc/sys/kernel/random/uuid)"
}

undo() {
    local had=
    for f in "$PROBE" "$PROBE.new"; do
        [ -e "$f" ] && had="$had $f" && rm -f "$f"
    done
    [ -z "$had" ] || echo "removed$had"
}

run_now() {
    read_line
    local n out rc try
    n=$(nonce)
    for try in 1 2 3; do
        echo "$n start" >>"$log" || die "cannot write $log"
        env -i "${cronenv[@]}" /bin/sh -c "$line"
        rc=$?
        # This run's lines: everything after its own start mark.
        out=$(awk -v m="$n start" 'f; $0 == m { f = 1 }' "$log")
        # flock -n gives up silently when cron's own pull holds the lock: wait
        # for it to finish, then run the line again (it has not run yet).
        if [ "$rc" = 1 ] && [ -z "$out" ] && [ -n "$lock" ] && ! flock -n "$root$lock" true; then
            # The wait is the pull's length, minutes on an emulated VM: the
            # check's timeout (scaled by labctl to the nodes) is the bound
            # that counts; this one only keeps a lost run from waiting forever.
            echo "the lock $lock is held (a pull is running): waiting for it (try $try)"
            flock -w 1800 "$root$lock" true || die "the lock $lock stayed held for 1800 s"
            # If labctl gave up on this check meanwhile (its timeout closed
            # the SSH channel), this write ends the script by SIGPIPE instead
            # of pulling once more after the check, into the next one.
            echo "the lock $lock is free: running the line again" || exit 1
            continue
        fi
        break
    done
    printf '%s\n' "$out" | tail -n 5
    [ "$rc" = 0 ] || die "the pull cron line exited $rc"
    [ -n "$out" ] || die "the pull cron line exited 0 but wrote nothing to $log in this run"
    printf '%s\n' "$out" | grep -Eq 'not changed, quitting|failed=0' ||
        die "this run's lines in $log show neither 'not changed, quitting' nor 'failed=0'"
    echo "the pull cron line ran now: exit 0"
}

# The digest of the installed line: a firing of a copy of another line
# proves nothing about this one.
line_sum() {
    printf '%s\n' "$line" | sha256sum | cut -c1-16
}

# pid:starttime of the topmost cron (or crond) process above this one: the
# daemon, not the child it forks per job. "none" when cron did not start us.
cron_daemon() {
    local p=$PPID found=none st
    while [ "${p:-0}" -gt 1 ] && [ -r "/proc/$p/stat" ]; do
        # Fields after "pid (comm) ": 3 (state), 4 (ppid), ... 22 (starttime).
        st=$(sed 's/.*) //' "/proc/$p/stat")
        set -- $st
        case $(cat "/proc/$p/comm" 2>/dev/null) in
        cron | crond) found=$p:${20} ;;
        esac
        p=$2
    done
    echo "$found"
}

# Whether pid:starttime names a cron daemon that runs now (a PID can be reused;
# its start time cannot).
cron_runs() {
    local pid=${1%%:*} start=${1#*:} st
    [ "$1" != none ] && [ -r "/proc/$pid/stat" ] || return 1
    case $(cat "/proc/$pid/comm" 2>/dev/null) in cron | crond) ;; *) return 1 ;; esac
    st=$(sed 's/.*) //' "/proc/$pid/stat")
    set -- $st
    # A zombie (state Z) has ended; it only waits for its parent.
    [ "$1" != Z ] && [ "${20}" = "$start" ]
}

# Install the probe under a new nonce; STATUS starts over with its "armed" line.
arm() {
    read_line
    case $line in *%*) die "the */3 line holds a %, which cron would turn into a newline" ;; esac
    n=$(nonce)
    mkdir -p "$(dirname "$STATUS")"
    echo "armed $n line=$(line_sum) at=$(date +%s)" >"$STATUS.new" && mv "$STATUS.new" "$STATUS" ||
        die "cannot write $STATUS"
    install_probe
}

# (Re)install the probe file for nonce $n. Its firings append to STATUS under
# $n, so one cron had already started when `undo` removed the file still counts.
install_probe() {
    local self
    self=$(readlink -f "$0")
    undo >/dev/null
    # A firing that meets another pull (the */3 line in the same minute, the
    # @reboot run, a check's) would only see `flock -n` skip it: it waits for
    # that pull to end first, then runs the line itself, unchanged. Under a
    # minute, so at most one firing waits at a time; and a firing whose probe
    # is gone by then (the check ended, or an earlier firing passed) records
    # `skipped` instead of pulling into whatever runs next.
    local wait=
    [ -z "$lock" ] || wait="flock -w 50 $lock true 2>/dev/null; "
    {
        printf '%s\n' "${cronenv[@]}"
        printf '* * * * * root echo "%s start" >>%s; %sif test -e %s; then %s; %s fired %s $?; else %s fired %s skipped; fi\n' \
            "$n" "${STATUS#"$root"}" "$wait" "${PROBE#"$root"}" "$line" "$self" "$n" "$self" "$n"
    } >"$PROBE.new" && chmod 0644 "$PROBE.new" && mv "$PROBE.new" "$PROBE" || die "cannot write $PROBE"
    echo "armed $PROBE ($n)"
}

# The nonce of the armed probe when it still stands for the installed line and
# none of its firings exited 0 yet (it may be firing right now): waiting for
# it costs no new minute. Empty otherwise.
pending() {
    local armed
    armed=$(sed -n '1p' "$STATUS" 2>/dev/null)
    [ -n "$armed" ] || return 0
    set -- $armed
    [ "${3#line=}" = "$(line_sum)" ] || return 0
    grep -q "^$2 fired .* exit=0\$" "$STATUS" || echo "$2"
}

fired() {
    local n=${1:?} rc=${2:?} d
    d=$(cron_daemon)
    echo "$n fired at=$(date +%s) cron=$d exit=$rc" >>"$STATUS"
    # One firing that exits 0 is the evidence: no pull every minute after it.
    # A failed one (e.g. the lock was held by another pull) leaves the probe
    # armed for the next minute.
    if [ "$rc" = 0 ] && [ "$d" != none ] && [ "$(sed -n '1s/^armed \([^ ]*\) .*/\1/p' "$STATUS")" = "$n" ]; then
        rm -f "$PROBE"
    fi
}

# The verdict from what the armed probe recorded, when it still holds:
# exit 0 after printing it; 1 when there is nothing to judge by (say why).
evidence() {
    local armed n sum at f fat daemon
    armed=$(sed -n '1p' "$STATUS" 2>/dev/null)
    [ -n "$armed" ] || { echo "no probe armed yet"; return 1; }
    set -- $armed
    n=$2 sum=${3#line=} at=${4#at=}
    [ "$sum" = "$(line_sum)" ] || { echo "the */3 line changed since the probe was armed"; return 1; }
    f=$(grep "^$n fired .* exit=0\$" "$STATUS" | tail -n 1)
    [ -n "$f" ] || {
        echo "no firing of the armed probe exited 0 yet (firings: $(sed -n "s|^$n fired .*exit=||p" "$STATUS" | tr '\n' ' '))"
        return 1
    }
    set -- $f
    fat=${3#at=} daemon=${4#cron=}
    cron_runs "$daemon" || { echo "the cron daemon that fired the probe ($daemon) no longer runs"; return 1; }
    echo "cron fired the pull line: exit 0 (the probe armed at $(date -u -d "@$at" +%T) UTC fired at $(date -u -d "@$fat" +%T); the cron daemon that ran it, pid ${daemon%%:*}, still runs)"
}

cron_fires() {
    local secs=${1:-150} firings i=0 why
    read_line
    # Pending first: a firing that ends between the two is then judged by
    # `evidence`, never taken for one that did not come.
    n=$(pending)
    if why=$(evidence); then
        echo "$why"
        exit 0
    fi
    trap undo EXIT
    trap 'exit 130' INT TERM HUP PIPE
    if [ -n "$n" ]; then
        echo "$why: waiting for the armed probe"
        case $line in *%*) die "the */3 line holds a %, which cron would turn into a newline" ;; esac
        install_probe
    else
        echo "$why: arming the probe now"
        arm
    fi
    echo "waiting for cron to fire it (to start a firing: at most ${secs}s)"
    local started running
    while :; do
        firings=$(sed -n "s|^$n fired .*exit=||p" "$STATUS" 2>/dev/null | tr '\n' ' ')
        if why=$(evidence); then
            echo "$why"
            exit 0
        fi
        started=$(grep -c "^$n start\$" "$STATUS" 2>/dev/null)
        running=$((${started:-0} - $(wc -w <<<"$firings")))
        # Past SECS only a firing still running is waited for, and no new
        # one may start: the probe goes, so a firing that began after the
        # bound can never be the one that passes.
        [ "$i" = "$secs" ] && undo >/dev/null
        [ "$i" -lt "$secs" ] || [ "$running" -gt 0 ] || break
        # A line now and then: when labctl has gone, the write fails and the
        # trap removes the probe.
        [ $((i % 10)) = 0 ] && echo "waiting ${i}s${firings:+, firings so far: $firings}${started:+, started: $started}"
        sleep 1
        i=$((i + 1))
    done
    [ -n "${firings:-}" ] || die "cron did not fire the pull line within ${secs}s"
    die "cron fired the pull line but it failed (exit status of each firing: $firings)"
}

case ${1:-} in
run) run_now ;;
arm) arm ;;
cron) shift; cron_fires "$@" ;;
fired) shift; fired "$@" ;;
undo) undo ;;
*) die "usage: ansible-pull-check run|arm|cron [SECONDS]|fired NONCE RC|undo" ;;
esac
