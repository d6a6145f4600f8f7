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

step "packages"
ensure_packages docker.io iptables

step "init script: limits it cannot raise are not fatal"
if [ -d /run/systemd/system ]; then
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
printf '{"storage-driver": "vfs"}\n' | cmp -s - /etc/docker/daemon.json || restart=1
printf '{"storage-driver": "vfs"}\n' | install_content /etc/docker/daemon.json 0644

step "docker runs, now and at boot"
if [ "$restart" = 1 ] && service docker status >/dev/null 2>&1; then
    restart_service docker
fi
enable_service docker

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
