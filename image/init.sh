#!/bin/bash
# labctl-init: PID 1 of a labctl docker-provider node (installed as
# /usr/local/sbin/labctl-init, the image's CMD).
#
# - makes missing SSH host keys (first boot: each node gets its own)
# - authorizes the node's one SSH key for user vagrant, before sshd starts:
#   labctl makes a key pair per node and gives the container its public key at
#   creation as LABCTL_SSH_AUTHORIZED_KEY (one `ssh-ed25519 BASE64` line). The
#   image authorizes no key at all (not Vagrant's well-known one), so a node
#   is reachable with its own key only. A value that is not one such line
#   leaves vagrant with no authorized key.
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

# Written through a new file and a rename: never a half-written key, and a
# key from an earlier boot (or added since) is replaced, not kept.
authorize_node_key() {
    local key dir=/home/vagrant/.ssh tmp
    [ -n "${LABCTL_SSH_AUTHORIZED_KEY+set}" ] || { log "no node key given (LABCTL_SSH_AUTHORIZED_KEY): vagrant's keys left as they are"; return 0; }
    key=$LABCTL_SSH_AUTHORIZED_KEY
    unset LABCTL_SSH_AUTHORIZED_KEY     # not inherited by sshd or the services
    install -d -m 0700 -o vagrant -g vagrant "$dir" || return 1
    tmp=$(mktemp "$dir/.authorized_keys.XXXXXX") || return 1
    if [[ $key =~ ^ssh-ed25519\ AAAAC3NzaC1lZDI1NTE5AAAAI[A-Za-z0-9+/]{43}$ ]]; then
        printf '%s\n' "$key" >"$tmp"
        log "node key authorized for vagrant"
    else
        log "LABCTL_SSH_AUTHORIZED_KEY is not one ssh-ed25519 key: vagrant gets no authorized key"
    fi
    chown vagrant:vagrant "$tmp" && chmod 0600 "$tmp" && mv -f "$tmp" "$dir/authorized_keys" || return 1
    # sshd also reads authorized_keys2 (Debian's default AuthorizedKeysFile).
    rm -f "$dir/authorized_keys2"
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
authorize_node_key || log "could not write vagrant's authorized_keys"
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
