#!/bin/bash
# ansible-pull-check: the workflow lab's checks of the pull cron line, run on a
# node as root by `labctl test`. Each judges only what happens in this run: a
# nonce this run writes marks where its output begins, never a log line or a
# file an earlier run left.
#
#   ansible-pull-check run         run the installed */3 line now, as cron runs
#                                  it (cron.d's variables, /bin/sh); passes when
#                                  it exits 0 and this run's log lines show the
#                                  pull finished (nothing new, or failed=0)
#   ansible-pull-check cron [SECS] install a one-minute copy of the line and wait
#                                  until cron fires it; passes when a firing of
#                                  this run exits 0 (the pull's own exit status,
#                                  recorded by the firing). SECS (150) bounds
#                                  cron's part: no firing started within SECS,
#                                  or every started firing ended non-zero by
#                                  then, fails. A firing still running at SECS
#                                  is waited for: how long a pull takes depends
#                                  on the node's speed (minutes on an emulated
#                                  VM), so the check's own timeout, which
#                                  labctl scales to the nodes, bounds it.
#   ansible-pull-check undo        remove what `cron` installs; labctl runs it
#                                  after the check on every way out and before the
#                                  next run, so an interrupted run leaves no probe
#                                  that pulls every minute for good
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
    for f in "$PROBE" "$PROBE.new" "$STATUS"; do
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

cron_fires() {
    local secs=${1:-150} n firings i=0
    read_line
    case $line in *%*) die "the */3 line holds a %, which cron would turn into a newline" ;; esac
    undo >/dev/null
    n=$(nonce)
    trap undo EXIT
    trap 'exit 130' INT TERM HUP PIPE
    mkdir -p "$(dirname "$STATUS")"
    {
        printf '%s\n' "${cronenv[@]}"
        printf '* * * * * root echo "%s start" >>%s; %s; echo "%s exit=$?" >>%s\n' \
            "$n" "${STATUS#"$root"}" "$line" "$n" "${STATUS#"$root"}"
    } >"$PROBE.new" && chmod 0644 "$PROBE.new" && mv "$PROBE.new" "$PROBE" || die "cannot write $PROBE"
    echo "installed $PROBE; waiting at most ${secs}s for cron to fire it"
    local started running
    while :; do
        firings=$(sed -n "s|^$n exit=||p" "$STATUS" 2>/dev/null | tr '\n' ' ')
        case " $firings " in *" 0 "*)
            echo "cron fired the pull line: exit 0 (firings: $firings)"
            exit 0 ;;
        esac
        started=$(grep -c "^$n start\$" "$STATUS" 2>/dev/null)
        running=$((${started:-0} - $(wc -w <<<"$firings")))
        # Past SECS only a firing still running is waited for.
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
cron) shift; cron_fires "$@" ;;
undo) undo ;;
*) die "usage: ansible-pull-check run|cron [SECONDS]|undo" ;;
esac
