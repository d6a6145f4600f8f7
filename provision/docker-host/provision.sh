#!/bin/bash
# docker-host: a Docker engine on the node, started with `service` (also inside
# a container node with nested_containers = true), vfs storage (overlay2 does not
# stack on the node's own overlay filesystem), started again at every boot.
#
# Debian's /etc/init.d/docker runs `ulimit -n 1048576` (and -u/-p unlimited)
# under `set -e`. A container node cannot raise its limits (no CAP_SYS_RESOURCE),
# so the daemon would never start. The init script sources /etc/default/docker
# first; a block there shadows the `ulimit` builtin with a function that tries
# the limit and goes on when it cannot be raised. That survives upgrades of the
# init script (a conffile the role leaves alone), and /etc/default/docker only
# gets a marked block, the rest of it stays as the package or the admin left it.

DEFAULTS=/etc/default/docker
BEGIN='# BEGIN labctl docker-host'
END='# END labctl docker-host'
# The undo record (undo.sh restores exactly what it names; hosts labs,
# docs/hosts.md). Each entry is written before the change it describes, and
# only by the first run: a later run must not take the role's own changes for
# the node's earlier state.
REC=${LABCTL_VAR:-/var/lib/labctl}/docker-host
mkdir -p "$REC/files"

# remember PATH [keep]: keep PATH as it is now (a copy, or a note that it is
# absent) unless an earlier run already did. With `keep`, a PATH that exists
# is only noted as there (undo.sh leaves it): no copy of an engine's data.
# The record's file name is PATH with / as _: the paths below have no _.
remember() {
    local key
    key=$(printf '%s' "$1" | tr / _)
    if [ -e "$REC/files/$key.saved" ] || [ -e "$REC/files/$key.absent" ] || [ -e "$REC/files/$key.kept" ]; then
        return 0
    fi
    if ! [ -e "$1" ] && ! [ -L "$1" ]; then
        : >"$REC/files/$key.absent"
    elif [ "${2:-}" = keep ]; then
        : >"$REC/files/$key.kept"
    else
        cp -a "$1" "$REC/files/$key.saved"
    fi
}

# record_network: what a first start of dockerd makes beside its own folder
# (its bridge and iptables chains, its line in labctl's service list), as it
# is before the role; once, and only when iptables-save is there to read it.
record_network() {
    [ -e "$REC/iptables-nat" ] && return 0
    command -v iptables-save >/dev/null || return 0
    [ -e /etc/labctl ] || : >"$REC/labctl-dir-made"
    [ -e /etc/labctl/services ] || : >"$REC/services-file-made"
    grep -qx docker /etc/labctl/services 2>/dev/null || : >"$REC/service-listed"
    ip link show docker0 >/dev/null 2>&1 || : >"$REC/bridge-made"
    local table
    for table in filter nat; do
        iptables-save -t "$table" | grep '^[:-]' | LC_ALL=C sort >"$REC/iptables-$table.new"
    done
    # nat last: its record is the mark that this one is whole.
    mv "$REC/iptables-filter.new" "$REC/iptables-filter"
    mv "$REC/iptables-nat.new" "$REC/iptables-nat"
}

step "the engine as the role found it"
# Only on the first run: later runs would find the engine the role started.
# An engine counts as the machine's own when its service runs, or when any
# dockerd runs or answers (started by hand, Docker CE's, a snap's).
if ! [ -e "$REC/daemon-before" ]; then
    if service docker status >/dev/null 2>&1 || pgrep -x dockerd >/dev/null || docker info >/dev/null 2>&1; then
        echo running >"$REC/daemon-before"
    else
        echo stopped >"$REC/daemon-before"
    fi
fi
# The machine's own engine is used as it is: no package is installed (on a
# Docker CE machine, apt would remove docker-ce to install docker.io), no
# file of it is written or recorded (undo would put back copies over the
# admin's later edits), and it is never restarted or enabled (a restart
# stops its containers and, under another storage driver, hides its images).
own_engine=0
[ "$(cat "$REC/daemon-before")" = running ] && own_engine=1
own() {
    [ "$own_engine" = 1 ] || return 1
    echo "docker-host: the machine's own engine ran before the role: $1"
}

step "packages"
if ! own "no package installed"; then
    # Before the packages: the files the role or the engine writes, and the
    # package's own conffile, as they are before anything of the role's.
    remember "$DEFAULTS"
    remember /etc/docker
    remember /etc/docker/daemon.json
    remember /etc/docker/key.json
    remember /opt/containerd
    remember /var/lib/docker keep
    # The bridge and the iptables rules before the packages: on a systemd
    # machine docker.io's postinst starts the daemon, which makes both.
    record_network
    missing=()
    for p in docker.io iptables; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        # What was installed before, then what this run asks for: undo.sh purges
        # the packages installed since (the dependencies apt pulled in too).
        [ -f "$REC/packages-before" ] || dpkg-query -W -f='${db:Status-Abbrev} ${Package}\n' | awk '$1 ~ /^.[^n]/ {print $2}' | LC_ALL=C sort >"$REC/packages-before"
    fi
    ensure_packages docker.io iptables
    # Without iptables-save before the packages, the record is taken now.
    record_network
fi

step "init script: limits it cannot raise are not fatal"
if own "its init script settings stay"; then
    :
elif [ -d /run/systemd/system ]; then
    echo "docker-host: systemd runs docker.service (LimitNOFILE there); nothing to do"
else
    block=$(
        cat <<'BLOCK'
# BEGIN labctl docker-host
# /etc/init.d/docker raises limits with `ulimit` under `set -e`; a container
# node may not raise them (no CAP_SYS_RESOURCE). Keep the current limit then.
ulimit() { command ulimit "$@" 2>/dev/null || echo "docker: ulimit $* not permitted here, keeping the current limit" >&2; return 0; }
# END labctl docker-host
BLOCK
    )
    [ -f "$DEFAULTS" ] || install -m 0644 /dev/null "$DEFAULTS"
    current=$(awk -v b="$BEGIN" -v e="$END" '$0 == b {on = 1} on {print} $0 == e {on = 0}' "$DEFAULTS")
    if [ "$current" != "$block" ]; then
        tmp=$(mktemp)
        awk -v b="$BEGIN" -v e="$END" '$0 == b {skip = 1} !skip {print} $0 == e {skip = 0}' "$DEFAULTS" >"$tmp"
        printf '%s\n' "$block" >>"$tmp"
        install -m 0644 "$tmp" "$DEFAULTS"
        rm -f "$tmp"
        echo "docker-host: updated the labctl block in $DEFAULTS"
        changed
    fi
    grep -q '^[[:space:]]*\. /etc/default/\$BASE' /etc/init.d/docker || echo "docker-host: warning: /etc/init.d/docker no longer sources /etc/default/docker" >&2
fi

step "daemon settings /etc/docker/daemon.json"
restart=0
if ! own "its settings stay as they are"; then
    printf '{"storage-driver": "vfs"}\n' | cmp -s - /etc/docker/daemon.json || restart=1
    printf '{"storage-driver": "vfs"}\n' | install_content /etc/docker/daemon.json 0644
fi

step "docker runs, now and at boot"
if ! own "it is neither restarted nor enabled"; then
    if [ "$restart" = 1 ] && service docker status >/dev/null 2>&1; then
        restart_service docker
    fi
    # enable_service lists docker in /etc/labctl/services; undo.sh takes that
    # line out again (other roles may list theirs in the same file).
    enable_service docker
fi

step "docker answers"
up=0
for _ in $(seq 1 60); do
    if docker info --format 'docker {{.ServerVersion}}, storage driver {{.Driver}}' 2>/dev/null; then
        up=1
        break
    fi
    sleep 0.5
done
if [ "$up" != 1 ]; then
    echo "docker-host: docker info does not answer after 30 s" >&2
    docker info >&2 || true
    exit 1
fi
# What the engine held when the role first saw it answer: undo.sh removes
# the containers, images and networks made since (the bench's, a check's)
# from an engine this role started.
if ! [ -e "$REC/engine-before" ]; then
    {
        docker ps -aq --no-trunc | sed 's/^/container /'
        docker images -aq --no-trunc | sed 's/^/image /'
        docker network ls -q --no-trunc | sed 's/^/network /'
    } | LC_ALL=C sort -u >"$REC/engine-before.tmp"
    mv "$REC/engine-before.tmp" "$REC/engine-before"
fi
