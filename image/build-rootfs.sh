#!/bin/bash
# build-rootfs.sh: build the labctl docker-provider node rootfs with debootstrap
# and pack it as a tarball ready for `docker import`.
#
# Inputs (environment variables only; nothing is ever eval'ed or interpolated
# into a command string):
#   ROOTFS_DIR           work dir for the rootfs (must not exist, or be empty)   [required]
#   OUTPUT_TAR           path of the tarball to write (written atomically)       [required]
#   RELEASE              Debian suite/codename                        [default: bookworm]
#   MIRROR               Debian mirror URL       [default: first Debian main URIs: of
#                        the host's deb822 sources, else /etc/apt/sources.list, else
#                        http://deb.debian.org/debian]
#   PACKAGES             extra Debian packages, space separated        [default: none]
#   INIT_SCRIPT          the node init to install as /usr/local/sbin/labctl-init
#                        [default: init.sh beside this script]
#   KEEP_ROOTFS=1        keep ROOTFS_DIR after packing (default: removed)
#
# Must run as root (debootstrap, chroot). Exit status 0 only when OUTPUT_TAR was written.
set -euo pipefail
umask 022
export LC_ALL=C.UTF-8 DEBIAN_FRONTEND=noninteractive
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

log() { printf '[build-rootfs %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { printf '[build-rootfs] error: %s\n' "$*" >&2; exit 1; }

# Packages every node needs (the shipped roles add theirs through PACKAGES).
BASE_PACKAGES=(openssh-server sudo python3 iproute2 iperf3 cron procps
    ca-certificates logrotate iputils-ping curl)

script_dir=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)

# ---------------------------------------------------------------- inputs
[ "$(id -u)" = 0 ] || die "must run as root (debootstrap and chroot need it)"
command -v debootstrap >/dev/null || die "debootstrap is not installed (apt-get install debootstrap)"

ROOTFS_DIR=${ROOTFS_DIR:-}
OUTPUT_TAR=${OUTPUT_TAR:-}
RELEASE=${RELEASE:-bookworm}
MIRROR=${MIRROR:-}
PACKAGES=${PACKAGES:-}
INIT_SCRIPT=${INIT_SCRIPT:-$script_dir/init.sh}

[ -n "$ROOTFS_DIR" ] || die "ROOTFS_DIR is required"
[ -n "$OUTPUT_TAR" ] || die "OUTPUT_TAR is required"
case $ROOTFS_DIR in /?*) ;; *) die "ROOTFS_DIR must be an absolute path" ;; esac
case $ROOTFS_DIR in *[!A-Za-z0-9._/-]*) die "ROOTFS_DIR may only contain [A-Za-z0-9._/-]" ;; esac
ROOTFS_DIR=${ROOTFS_DIR%/}
[ "$ROOTFS_DIR" != / ] && [ -n "$ROOTFS_DIR" ] || die "ROOTFS_DIR must not be /"
if [ -e "$ROOTFS_DIR" ] && [ -n "$(ls -A -- "$ROOTFS_DIR")" ]; then
    die "ROOTFS_DIR $ROOTFS_DIR exists and is not empty"
fi
[[ $RELEASE =~ ^[a-z][a-z0-9-]{1,30}$ ]] || die "RELEASE '$RELEASE' is not a Debian codename"
extra_packages=()
for p in $PACKAGES; do   # word splitting on purpose: space-separated list
    [[ $p =~ ^[a-z0-9][a-z0-9+.-]+$ ]] || die "PACKAGES: '$p' is not a Debian package name"
    extra_packages+=("$p")
done
[ -f "$INIT_SCRIPT" ] || die "init script $INIT_SCRIPT not found"

# Host's Debian mirror: first URIs: of an enabled deb822 stanza with Types deb
# and Components main that is not a -security suite; fallback to sources.list.
host_mirror() {
    local f
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        awk '
            function flush() {
                if (uris != "" && types ~ /(^| )deb( |$)/ && comps ~ /(^| )main( |$)/ &&
                    suites !~ /-security/ && enabled != "no") { split(uris, u, " "); print u[1]; found = 1; exit }
                uris = types = comps = suites = enabled = ""
            }
            /^[ \t]*#/ { next }
            /^[ \t]*$/ { flush(); next }
            { key = tolower($1); sub(/^[^:]*:[ \t]*/, ""); }
            key == "uris:" { uris = $0 } key == "types:" { types = $0 }
            key == "components:" { comps = $0 } key == "suites:" { suites = $0 }
            key == "enabled:" { enabled = tolower($0) }
            END { if (!found) flush() }
        ' "$f" | head -n1 | grep . && return 0
    done
    if [ -f /etc/apt/sources.list ]; then
        # deb [opts] URI suite components...
        awk '$1 == "deb" { i = 2; if ($2 ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
                           if ($(i+1) !~ /-security/ && $0 ~ / main( |$)/) { print $i; exit } }' \
            /etc/apt/sources.list | grep . && return 0
    fi
    return 1
}
if [ -z "$MIRROR" ]; then
    MIRROR=$(host_mirror) || MIRROR=http://deb.debian.org/debian
fi
[[ $MIRROR =~ ^(https?|file)://[A-Za-z0-9._~:/?#@!\$\&\'\(\)*+,\;=%-]+$ ]] || die "MIRROR '$MIRROR' is not a URL"

log "release=$RELEASE mirror=$MIRROR extra packages: ${extra_packages[*]:-(none)}"

# ---------------------------------------------------------------- cleanup
mounted=()
cleanup() {
    local m
    for m in "${mounted[@]}"; do umount -l -- "$m" 2>/dev/null || true; done
    rm -f -- "${OUTPUT_TAR}.tmp.$$"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

in_root() { chroot "$ROOTFS_DIR" "$@"; }

# ---------------------------------------------------------------- debootstrap
start=$(date +%s)
mkdir -p -- "$ROOTFS_DIR"
# (debootstrap has no "--"; RELEASE and ROOTFS_DIR are validated above and cannot start with "-")
include=$(IFS=,; printf '%s' "${BASE_PACKAGES[*]}")
debootstrap --variant=minbase --include="$include" "$RELEASE" "$ROOTFS_DIR" "$MIRROR" >&2 ||
    { tail -n 30 "$ROOTFS_DIR/debootstrap/debootstrap.log" >&2 2>/dev/null || true; die "debootstrap failed"; }
log "debootstrap done in $(( $(date +%s) - start )) s"

# Keep services from starting inside the chroot while we install things.
printf '#!/bin/sh\nexit 101\n' >"$ROOTFS_DIR/usr/sbin/policy-rc.d"
chmod 0755 "$ROOTFS_DIR/usr/sbin/policy-rc.d"

# ---------------------------------------------------------------- apt settings and sources
# Settings: copy the host's apt.conf.d files that only tune Acquire:: behaviour
# (Check-Valid-Until/Check-Date for snapshot mirrors, languages, gzip indexes),
# skipping hook files (Pre/Post-Invoke) that call host-only programs and
# IndexTargets (appstream). auth.conf.d is never copied: no credentials in images.
for f in /etc/apt/apt.conf.d/*; do
    [ -f "$f" ] || continue
    grep -q 'Acquire::' "$f" || continue
    if grep -Eq 'Invoke|IndexTargets' "$f"; then continue; fi
    install -m 0644 -- "$f" "$ROOTFS_DIR/etc/apt/apt.conf.d/$(basename -- "$f")"
    log "apt setting copied: $f"
done
# Sources: the host's deb822/.list files when they describe this RELEASE and use
# keyrings the rootfs has; otherwise a deb822 file generated from MIRROR.
rm -f -- "$ROOTFS_DIR/etc/apt/sources.list"
copied_sources=0
for f in /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list /etc/apt/sources.list; do
    [ -f "$f" ] || continue
    grep -Eq "(^|[[:space:]])$RELEASE([[:space:]]|$)" "$f" || continue
    ok=1
    while read -r kr; do
        [ -f "$ROOTFS_DIR$kr" ] || { log "skip $f: keyring $kr missing in rootfs"; ok=0; }
    done < <(grep -Eo '(Signed-By:|signed-by=)[[:space:]]*/[^] ]+' "$f" | sed -E 's/^(Signed-By:|signed-by=)[[:space:]]*//')
    [ "$ok" = 1 ] || continue
    name=$(basename -- "$f")
    [ "$name" = sources.list ] && dest=$ROOTFS_DIR/etc/apt/sources.list || dest=$ROOTFS_DIR/etc/apt/sources.list.d/$name
    install -m 0644 -- "$f" "$dest"
    copied_sources=$((copied_sources + 1))
    log "apt source copied: $f"
done
if [ "$copied_sources" = 0 ]; then
    printf 'Types: deb\nURIs: %s\nSuites: %s %s-updates\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
        "$MIRROR" "$RELEASE" "$RELEASE" >"$ROOTFS_DIR/etc/apt/sources.list.d/debian.sources"
    log "apt source generated from MIRROR"
fi

# ---------------------------------------------------------------- extra packages
if [ "${#extra_packages[@]}" -gt 0 ]; then
    t=$(date +%s)
    mount -t proc proc "$ROOTFS_DIR/proc"; mounted+=("$ROOTFS_DIR/proc")
    in_root apt-get update -qq >&2 || die "apt-get update in the rootfs failed"
    in_root apt-get install -y -qq --no-install-recommends -- "${extra_packages[@]}" >&2 ||
        die "apt-get install ${extra_packages[*]} failed"
    umount -- "$ROOTFS_DIR/proc"; mounted=()
    log "extra packages installed in $(( $(date +%s) - t )) s"
fi

# ---------------------------------------------------------------- vagrant user
in_root useradd --create-home --shell /bin/bash --user-group vagrant
# '*' = no password login, but not "locked" (sshd refuses locked accounts without PAM)
in_root usermod -p '*' vagrant
printf 'Defaults:vagrant !requiretty\nvagrant ALL=(ALL) NOPASSWD: ALL\n' >"$ROOTFS_DIR/etc/sudoers.d/vagrant"
chmod 0440 "$ROOTFS_DIR/etc/sudoers.d/vagrant"
in_root visudo -cqf /etc/sudoers.d/vagrant || die "sudoers.d/vagrant does not parse"
# No authorized key: a docker node's init authorizes the node's own key
# (labctl makes one per node) before sshd starts, so Vagrant's well-known key
# is never accepted there. The libvirt box adds the well-known key back for
# itself (build-box.sh): Vagrant swaps it for a per-machine key on first boot.
install -d -m 0700 "$ROOTFS_DIR/home/vagrant/.ssh"
in_root chown -R vagrant:vagrant /home/vagrant/.ssh

# ---------------------------------------------------------------- ssh, init, labctl
# Containers lack CAP_AUDIT_CONTROL: a required pam_loginuid would refuse logins.
sed -i -E 's/^(session[[:space:]]+)required([[:space:]]+pam_loginuid\.so)/\1optional\2/' \
    "$ROOTFS_DIR/etc/pam.d/sshd"
printf 'UseDNS no\n' >"$ROOTFS_DIR/etc/ssh/sshd_config.d/labctl.conf"
rm -f -- "$ROOTFS_DIR"/etc/ssh/ssh_host_*          # each node makes its own on first boot
install -d -m 0755 "$ROOTFS_DIR/etc/labctl"
: >"$ROOTFS_DIR/etc/labctl/services"
chmod 0644 "$ROOTFS_DIR/etc/labctl/services"
install -m 0755 -- "$INIT_SCRIPT" "$ROOTFS_DIR/usr/local/sbin/labctl-init"
printf 'labctl-node\n' >"$ROOTFS_DIR/etc/hostname"
printf 'release=%s\nmirror=%s\npackages=%s\nbuilt=%s\n' "$RELEASE" "$MIRROR" \
    "${BASE_PACKAGES[*]} ${extra_packages[*]}" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" >"$ROOTFS_DIR/etc/labctl/image-info"

# ---------------------------------------------------------------- clean and pack
in_root apt-get clean
rm -rf -- "$ROOTFS_DIR"/var/lib/apt/lists/* "$ROOTFS_DIR"/var/cache/apt/*.bin \
    "$ROOTFS_DIR"/var/cache/debconf/*-old "$ROOTFS_DIR"/var/log/*.log \
    "$ROOTFS_DIR"/var/log/apt/* "$ROOTFS_DIR"/tmp/* "$ROOTFS_DIR"/var/tmp/* \
    "$ROOTFS_DIR/debootstrap"
: >"$ROOTFS_DIR/etc/machine-id"
rm -f -- "$ROOTFS_DIR/usr/sbin/policy-rc.d"           # services may start in nodes

mkdir -p -- "$(dirname -- "$OUTPUT_TAR")"
tar --numeric-owner --xattrs --one-file-system -C "$ROOTFS_DIR" -cf "${OUTPUT_TAR}.tmp.$$" .
mv -f -- "${OUTPUT_TAR}.tmp.$$" "$OUTPUT_TAR"
[ "${KEEP_ROOTFS:-0}" = 1 ] || rm -rf --one-file-system -- "$ROOTFS_DIR"
log "wrote $OUTPUT_TAR ($(du -h -- "$OUTPUT_TAR" | cut -f1)) in $(( $(date +%s) - start )) s"
