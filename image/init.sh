#!/bin/bash
# labctl-init: PID 1 of a labctl docker-provider node (installed as
# /usr/local/sbin/labctl-init, the image's CMD).
#
# - makes missing SSH host keys (first boot: each node gets its own)
# - starts cron, then every service named in /etc/labctl/services (one per line,
#   '#' comments allowed; roles append names so services come back after a restart)
# - keeps sshd running (restarts it if it dies, cooperates with `service ssh restart`)
# - reaps zombies: bash reaps every child, including reparented orphans, on SIGCHLD
# - on SIGTERM/SIGINT: stops the listed services (reverse order), cron and sshd,
#   then exits 0 at once, so `docker stop` never waits for its kill timeout.
set -u
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export PATH

SERVICES_FILE=/etc/labctl/services
SSHD_PIDFILE=/run/sshd.pid
log() { printf 'labctl-init: %s\n' "$*"; }

services=()
read_services() {
    services=()
    local line
    [ -r "$SERVICES_FILE" ] || return 0
    while IFS= read -r line || [ -n "$line" ]; do
        line=${line%%#*}
        line=${line//[[:space:]]/}
        [ -n "$line" ] || continue
        if [[ $line =~ ^[A-Za-z0-9][A-Za-z0-9@._+-]*$ ]]; then
            services+=("$line")
        else
            log "ignoring invalid service name in $SERVICES_FILE: $line"
        fi
    done <"$SERVICES_FILE"
}

sshd_running() {
    local pid
    [ -s "$SSHD_PIDFILE" ] || return 1
    read -r pid <"$SSHD_PIDFILE" 2>/dev/null || return 1
    # kill -0 also succeeds for a recycled PID (even a thread of dockerd): the
    # process must really be sshd.
    [[ $pid =~ ^[0-9]+$ ]] && [ "$(readlink "/proc/$pid/exe" 2>/dev/null)" = /usr/sbin/sshd ]
}

start_sshd() {
    mkdir -p /run/sshd && chmod 0755 /run/sshd
    # sshd daemonizes and writes /run/sshd.pid; as an orphan it is our child and reaped here.
    /usr/sbin/sshd || log "sshd failed to start"
}

stopping=0
shutdown() {
    [ "$stopping" = 1 ] && return
    stopping=1
    log "stopping"
    read_services
    local i
    for ((i = ${#services[@]} - 1; i >= 0; i--)); do
        timeout 5 service "${services[i]}" stop >/dev/null 2>&1 || true
    done
    timeout 3 service cron stop >/dev/null 2>&1 || true
    if sshd_running; then kill -TERM "$(cat "$SSHD_PIDFILE")" 2>/dev/null || true; fi
    kill -TERM -1 2>/dev/null || true     # anything left (PID 1 itself is spared)
    log "stopped"
    exit 0
}
trap shutdown TERM INT
trap '' HUP

log "starting ($(hostname))"
# /run survives `docker restart` (a VM's does not): pid files of the previous
# boot would make init scripts believe their daemon still runs.
find /run -name '*.pid' -type f -delete 2>/dev/null || true
# First boot: no host keys in the image; make them (ssh-keygen -A only fills in missing ones).
ssh-keygen -A >/dev/null && log "ssh host keys present"
# /run survives `docker restart` (a VM's does not): without this, cron finds its
# marker from the previous boot and skips @reboot entries.
rm -f /run/crond.reboot
service cron start >/dev/null 2>&1 || log "cron failed to start"
read_services
for s in "${services[@]}"; do
    if service "$s" start >/dev/null 2>&1; then log "started $s"; else log "service $s failed to start"; fi
done
sshd_running || start_sshd     # a role may have listed "ssh" itself
log "ready"

# Supervise: sleep in the background and `wait` for it, so a trapped signal
# interrupts the wait at once; bash reaps every exited child meanwhile.
while :; do
    sleep 2 &
    wait $! 2>/dev/null
    if [ "$stopping" = 0 ] && ! sshd_running; then
        # `service ssh restart` leaves a short gap: look twice before starting another.
        sleep 1
        sshd_running || { log "sshd not running, starting it"; start_sshd; }
    fi
done
