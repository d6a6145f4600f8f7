#!/bin/bash
# docker-host's undo (hosts labs, docs/hosts.md): give the machine back as
# provision.sh found it, from the record provision.sh wrote before each change
# ($LABCTL_VAR/docker-host): the bench's iperf3 images (the bench adds them
# to the record before it makes them), the engine's containers, images and networks
# made since the role first saw it answer (when the role started it), the
# daemon the role started, its bridge and iptables chains, the packages it
# installed (and what apt pulled in with them), and the files it wrote or
# that the engine's first start made, each restored or removed. Nothing the
# record does not name is touched; without a record there is nothing to undo.
REC=${LABCTL_VAR:-/var/lib/labctl}/docker-host

if ! [ -d "$REC" ]; then
    step "nothing recorded"
    echo "docker-host: nothing recorded, nothing to undo"
    return 0
fi
started=0
[ "$(cat "$REC/daemon-before" 2>/dev/null || true)" = stopped ] && started=1

step "the bench's iperf3 images"
# The bench records each image it makes in this engine before making it
# (src/bench/scripts/import-iperf3.sh): they go whether or not the engine ran
# before the role, with the containers a cut-short bench left running them.
if [ "$started" = 0 ] && [ -s "$REC/bench-images" ] && ! docker info >/dev/null 2>&1; then
    # The machine's own engine, stopped since: going on would forget the
    # record and leave the images in its storage for good. Stop, keeping the
    # record, until the engine answers again.
    echo "docker-host: the engine does not answer, so the bench's images ($(tr '\n' ' ' <"$REC/bench-images")) cannot be removed; start it (service docker start) and run down again" >&2
    exit 1
fi
if [ -f "$REC/bench-images" ]; then
    while read -r tag; do
        [ -n "$tag" ] || continue
        docker image inspect "$tag" >/dev/null 2>&1 || continue
        docker ps -aq --no-trunc --filter "ancestor=$tag" | xargs -r docker rm -f >/dev/null
        docker image rm -f "$tag" >/dev/null
        echo "docker-host: removed the bench's image $tag"
        changed
    done <"$REC/bench-images"
fi

step "containers, images and networks made since the engine was recorded"
if [ "$started" = 1 ] && [ -f "$REC/engine-before" ] && docker info >/dev/null 2>&1; then
    now=$(
        docker ps -aq --no-trunc | sed 's/^/container /'
        docker images -aq --no-trunc | sed 's/^/image /'
        docker network ls -q --no-trunc | sed 's/^/network /'
    )
    made=$(printf '%s\n' "$now" | LC_ALL=C sort -u | comm -13 "$REC/engine-before" -)
    for kind in container image network; do
        ids=$(printf '%s\n' "$made" | awk -v k="$kind" '$1 == k {print $2}')
        [ -n "$ids" ] || continue
        case $kind in
        container) printf '%s\n' "$ids" | xargs docker rm -f >/dev/null ;;
        image) printf '%s\n' "$ids" | xargs docker image rm -f >/dev/null 2>&1 || true ;;
        network) printf '%s\n' "$ids" | xargs docker network rm >/dev/null ;;
        esac
        echo "docker-host: removed $(printf '%s\n' "$ids" | wc -l) ${kind}(s) made during the lab"
        changed
    done
else
    echo "docker-host: the engine was running before the role (or is not running now): its containers and images stay"
fi

step "stop the daemon the role started"
if [ "$started" = 1 ]; then
    if service docker status >/dev/null 2>&1; then
        service docker stop
        changed
    fi
    for _ in $(seq 1 40); do
        pgrep -x dockerd >/dev/null || break
        sleep 0.25
    done
    if pgrep -x dockerd >/dev/null; then
        echo "docker-host: dockerd still runs 10 s after the stop" >&2
        exit 1
    fi
    if [ -f "$REC/bridge-made" ] && ip link show docker0 >/dev/null 2>&1; then
        ip link del docker0
        echo "docker-host: removed the bridge docker0"
    fi
    for table in nat filter; do
        [ -f "$REC/iptables-$table" ] || continue
        # Docker's rules and chains made since the record (the host's own,
        # and another engine's, e.g. DOCKER_OUTPUT of an outer Docker, stay):
        # the rules first, then the chains.
        new=$(iptables-save -t "$table" | grep '^[:-]' | LC_ALL=C sort | comm -13 "$REC/iptables-$table" - | grep -E 'DOCKER|docker0| br-' || true)
        printf '%s\n' "$new" | awk '$1 == "-A" {sub(/^-A/, "-D"); print}' | while read -r rule; do
            # shellcheck disable=SC2086 # a rule from iptables-save, one word per argument
            iptables -w -t "$table" $rule
        done
        for chain in $(printf '%s\n' "$new" | awk '/^:/ {print substr($1, 2)}'); do
            iptables -w -t "$table" -F "$chain"
        done
        for chain in $(printf '%s\n' "$new" | awk '/^:/ {print substr($1, 2)}'); do
            iptables -w -t "$table" -X "$chain"
        done
        [ -z "$new" ] || echo "docker-host: removed Docker's iptables rules and chains in table $table"
    done
else
    echo "docker-host: the daemon ran before the role; it keeps running"
fi

step "remove the packages the role installed"
if [ -f "$REC/packages-before" ]; then
    gone=$(dpkg-query -W -f='${db:Status-Abbrev} ${Package}\n' | awk '$1 ~ /^.[^n]/ {print $2}' | LC_ALL=C sort | comm -13 "$REC/packages-before" -)
    if [ -n "$gone" ]; then
        # shellcheck disable=SC2086 # package names, one word each
        apt-get purge -y $gone
        echo "docker-host: purged" $gone
        changed
    fi
fi

step "restore the files"
if [ -f "$REC/service-listed" ] && [ -f /etc/labctl/services ]; then
    grep -vx docker /etc/labctl/services >"$REC/services.tmp" || true
    cat "$REC/services.tmp" >/etc/labctl/services
    if [ -f "$REC/services-file-made" ] && ! [ -s /etc/labctl/services ]; then
        rm -f /etc/labctl/services
    fi
    changed
fi
# Deepest paths first (C order: `_` sorts after `.`), so a folder that was
# absent goes after its files.
for rec in $(find "$REC/files" -mindepth 1 -maxdepth 1 -printf '%f\n' | LC_ALL=C sort -r); do
    key=${rec%.*}
    path=$(printf '%s' "$key" | tr _ /)
    case $rec in
    *.saved)
        rm -rf "$path"
        cp -a "$REC/files/$rec" "$path"
        echo "docker-host: restored $path"
        changed
        ;;
    *.absent)
        if [ -e "$path" ] || [ -L "$path" ]; then
            rm -rf "$path"
            echo "docker-host: removed $path"
            changed
        fi
        ;;
    esac
done
if [ -f "$REC/labctl-dir-made" ]; then
    # enable_service made labctl's folder; it goes when nothing else is in it.
    rmdir /etc/labctl 2>/dev/null || true
fi
rm -rf "$REC"
