#!/bin/bash
# libvirt-host.sh: make a Debian host ready to run labctl labs on Vagrant's
# libvirt provider, with KVM where a guest really boots under it and QEMU's
# software emulation (TCG) otherwise. Idempotent: every step first probes
# whether it is already done, and prints one line per change it makes
# ("change: ...") or per step already in place ("ok: ...").
#
# Steps and their "already done" probes (the Rust `labctl setup --provider
# libvirt` reimplements these; keep the two in step):
#
#   1 packages   dpkg-query -W -f '${db:Status-Abbrev}' PKG is "ii " for every
#                package below, and qemu-utils' version equals qemu-system-x86's.
#                The base system may carry qemu-utils 10.x from bookworm-backports,
#                which "Breaks: qemu-system-common (<8.0)": qemu-utils is installed
#                at qemu-system-x86's candidate version (--allow-downgrades), and
#                the downgrade is printed.
#   2 qemu.conf  grep -Eq '^[[:space:]]*namespaces[[:space:]]*=[[:space:]]*\[[[:space:]]*\]' \
#                /etc/libvirt/qemu.conf. Needed only in TCG mode (libvirtd sees
#                /dev/kvm as a bind mount in its private namespace and cannot
#                move it into a per-domain /dev: "Unable to move ... mount to
#                /dev/kvm"); appended with a comment, never edited in place.
#   3 virtlogd   /run/virtlogd.pid names a live process whose comm is virtlogd
#                (systemd hosts: systemctl is-active virtlogd.socket/.service).
#   4 KVM probe  cached in /var/lib/labctl/kvm-probe (key: kernel release, qemu
#                version, /dev/kvm major:minor); the probe boots a Debian kernel
#                (no root fs, panic=-1) under `qemu-system-x86_64 -accel kvm`; no
#                "Kernel panic - not syncing: VFS" on the serial port within
#                KVM_PROBE_TIMEOUT s = KVM unusable. Then the same kernel must
#                boot under TCG, or the probe itself is broken and the script fails.
#   5 libvirtd   /run/libvirtd.pid names a live libvirtd AND its mode matches
#                the probe: TCG mode = /dev/kvm is masked in libvirtd's mount
#                namespace (a line for /dev/kvm in /proc/PID/mountinfo). Not
#                just "capabilities offer no kvm": a capabilities cache written
#                while masked hides KVM from an unmasked libvirtd until the cache
#                is invalidated, then every call takes 8 s again. KVM mode = no
#                mask and `virsh capabilities` offers <domain type='kvm'>. A
#                libvirtd in the wrong mode is restarted (libvirt keeps running
#                domains across a daemon restart; not tested here: run setup
#                with no lab up).
#   6 pool       `virsh pool-list --name` (active pools) lists default (a dir pool at
#                /var/lib/libvirt/images; vagrant-libvirt uses "default").
#
# Why the mask: /dev/kvm exists here (root:root 0600) but KVM guests hang.
# libvirt's capability probe (with CAP_DAC_OVERRIDE) sees KVM while its
# "usable by the qemu user" check fails, so it re-probes QEMU on every API call
# (4-8 s each; a 2-node `vagrant up` took 6 min). libvirtd is started in its own
# mount namespace with /dev/kvm hidden behind an empty 0600 file: libvirt then
# offers TCG only and API calls take ~20 ms. Only libvirtd's view changes.
#
# Inputs (environment, all optional):
#   KVM_PROBE_TIMEOUT  seconds for each boot probe (TCG needs ~8 s)  [default 30]
#   FORCE_PROBE=1      ignore the cached probe result
#   NO_INSTALL=1       do not install packages; fail if some are missing
#   PRINT_ONLY=1       report what would change, change nothing (exit 0 when
#                      nothing would change, 10 when something would)
#
# Exit 0 when the host is ready (libvirtd answers in the mode the probe chose).
set -euo pipefail
umask 022
export LC_ALL=C.UTF-8 DEBIAN_FRONTEND=noninteractive
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

URI=qemu:///system
STATE_DIR=/var/lib/labctl
PROBE_CACHE=$STATE_DIR/kvm-probe
MASK=/run/labctl-nokvm-mask
QEMU_CONF=/etc/libvirt/qemu.conf
KVM_PROBE_TIMEOUT=${KVM_PROBE_TIMEOUT:-30}
PRINT_ONLY=${PRINT_ONLY:-0}
[[ $KVM_PROBE_TIMEOUT =~ ^[0-9]{1,3}$ ]] || { echo "KVM_PROBE_TIMEOUT must be a number" >&2; exit 2; }

# What labctl needs for libvirt labs, and for building boxes offline.
PACKAGES=(vagrant vagrant-libvirt libvirt-daemon-system libvirt-clients
          qemu-system-x86 qemu-utils dnsmasq-base
          debootstrap extlinux syslinux-common fdisk e2fsprogs)

ok()     { printf 'ok: %s\n' "$*"; }
change() { printf 'change: %s\n' "$*"; }
die()    { printf 'error: %s\n' "$*" >&2; exit 1; }
would=0
plan()   { # plan "what" -> in PRINT_ONLY mode, say it and skip
    if [ "$PRINT_ONLY" = 1 ]; then printf 'would: %s\n' "$*"; would=1; return 1; fi
    change "$*"; return 0
}

[ "$(id -u)" = 0 ] || die "must run as root"
[ -r /etc/debian_version ] || die "only Debian-family hosts are handled"

has_systemd() { [ -d /run/systemd/system ]; }
virsh_() { virsh -c "$URI" "$@"; }
pid_is() { # pid_is PIDFILE COMM
    local p
    [ -s "$1" ] || return 1
    p=$(cat -- "$1" 2>/dev/null) || return 1
    [[ $p =~ ^[0-9]+$ ]] && [ "$(cat "/proc/$p/comm" 2>/dev/null)" = "$2" ]
}

# ------------------------------------------------------------------ 1 packages
installed_version() { { dpkg-query -W -f '${db:Status-Abbrev}${Version}' "$1" 2>/dev/null || true; } | sed -n 's/^ii *//p'; }
missing=()
for p in "${PACKAGES[@]}"; do
    [ -n "$(installed_version "$p")" ] || missing+=("$p")
done
qsys=$(installed_version qemu-system-x86)
qutl=$(installed_version qemu-utils)
clash=0
if [ -n "$qutl" ] && [ "$qutl" != "${qsys:-}" ]; then clash=1; fi
if [ "${#missing[@]}" = 0 ] && [ "$clash" = 0 ]; then
    ok "packages installed (qemu-system-x86 and qemu-utils at $qsys)"
else
    [ "${NO_INSTALL:-0}" = 1 ] && die "missing packages: ${missing[*]:-} (qemu-utils clash: $clash)"
    if [ "$PRINT_ONLY" = 1 ]; then
        msg="apt-get install ${missing[*]:-}"
        [ "$clash" = 1 ] && msg+=" (qemu-utils $qutl -> qemu-system-x86's version)"
        plan "$msg" || true
    else
        apt-get update -q >/dev/null || die "apt-get update failed"
        qv=$(apt-cache policy qemu-system-x86 | awk '/Candidate:/{print $2}')
        [ -n "$qv" ] && [ "$qv" != "(none)" ] || die "no installable qemu-system-x86"
        if [ -n "$qutl" ] && [ "$qutl" != "$qv" ]; then
            change "qemu-utils $qutl -> $qv (qemu-utils must match qemu-system-x86: newer ones Break qemu-system-common of older versions)"
        fi
        change "apt-get install --no-install-recommends ${PACKAGES[*]} (qemu-utils=$qv); missing were: ${missing[*]:-none}"
        pkgs=()
        for p in "${PACKAGES[@]}"; do
            if [ "$p" = qemu-utils ]; then pkgs+=("qemu-utils=$qv"); else pkgs+=("$p"); fi
        done
        apt-get install -y -q --no-install-recommends --allow-downgrades -- "${pkgs[@]}" >/dev/null ||
            die "apt-get install failed"
        # Debian ships vagrant-libvirt as a system plugin: nothing to `vagrant plugin install`.
        [[ $(vagrant plugin list 2>/dev/null) =~ (^|$'\n')vagrant-libvirt\ [^$'\n']*system ]] ||
            die "vagrant does not list the vagrant-libvirt system plugin"
    fi
fi

# ------------------------------------------------------------------ 4 KVM probe (before 2/3/5: it decides the mode)
# The probe boots a real Linux kernel without a root file system, with
# panic=-1 and -no-reboot: reaching "Kernel panic - not syncing: VFS" means
# the guest went through real mode, long mode, timers and interrupts, and QEMU
# exits by itself. (A boot sector that writes to COM1 is NOT enough: on this
# host SeaBIOS and real-mode code run under KVM, and the kernel then hangs
# before its first line.) TCG reaches the panic in ~8 s here.
# The kernel: the host's /boot/vmlinuz-* if it has one, else the one of
# Debian's linux-image-amd64 package, fetched with `apt-get download` into
# $KERNEL_CACHE (a package from the host's own mirror, nothing else).
KERNEL_CACHE=/var/cache/labctl/probe-kernel
probe_kernel() {
    local k
    k=$(ls -1 /boot/vmlinuz-* 2>/dev/null | sort -V | tail -n1 || true)
    if [ -n "$k" ] && [ -r "$k" ]; then printf '%s' "$k"; return 0; fi
    k=$(ls -1 "$KERNEL_CACHE"/boot/vmlinuz-* 2>/dev/null | sort -V | tail -n1 || true)
    if [ -n "$k" ]; then printf '%s' "$k"; return 0; fi
    [ "$PRINT_ONLY" = 1 ] && { printf 'would: download a kernel package for the KVM probe into %s\n' "$KERNEL_CACHE" >&2; return 1; }
    local pkg dir
    pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/{print $2; exit}')
    [ -n "$pkg" ] || return 1
    dir=$(mktemp -d /tmp/labctl-probe-kernel.XXXXXX)
    (cd "$dir" && apt-get download -q "$pkg" >/dev/null 2>&1) || { rm -rf -- "$dir"; return 1; }
    mkdir -p "$KERNEL_CACHE"
    dpkg-deb --fsys-tarfile "$dir"/*.deb | tar -x -C "$KERNEL_CACHE" --wildcards './boot/vmlinuz-*'
    rm -rf -- "$dir"
    k=$(ls -1 "$KERNEL_CACHE"/boot/vmlinuz-* 2>/dev/null | sort -V | tail -n1 || true)
    [ -n "$k" ] || return 1
    change "KVM probe kernel: $pkg unpacked into $KERNEL_CACHE (apt-get download)" >&2
    printf '%s' "$k"
}
run_probe() { # run_probe ACCEL KERNEL -> 0 when the guest kernel booted to its root-mount panic
    local accel=$1 kernel=$2 dir out rc=1
    dir=$(mktemp -d /tmp/labctl-kvm-probe.XXXXXX)
    out=$dir/serial.txt
    : >"$out"
    timeout "$KVM_PROBE_TIMEOUT" qemu-system-x86_64 -accel "$accel" -m 128 -display none \
        -monitor none -nodefaults -no-reboot -serial "file:$out" \
        -kernel "$kernel" -append "console=ttyS0 panic=-1 loglevel=4" >/dev/null 2>&1 || true
    grep -q 'Kernel panic - not syncing: VFS' "$out" && rc=0
    rm -rf -- "$dir"
    return $rc
}
probe_key() {
    local dev=none
    [ -e /dev/kvm ] && dev=$(stat -c '%t:%T' /dev/kvm)
    printf 'kernel=%s qemu=%s kvm=%s' "$(uname -r)" "$(installed_version qemu-system-x86)" "$dev"
}
mode=
if command -v qemu-system-x86_64 >/dev/null; then
    key=$(probe_key)
    if [ "${FORCE_PROBE:-0}" != 1 ] && [ -s "$PROBE_CACHE" ] && [ "$(sed -n 's/^key=//p' "$PROBE_CACHE")" = "$key" ]; then
        mode=$(sed -n 's/^mode=//p' "$PROBE_CACHE")
        ok "KVM probe cached in $PROBE_CACHE: $mode ($key)"
    else
        if [ ! -e /dev/kvm ]; then
            mode=tcg why="no /dev/kvm"
        elif ! kernel=$(probe_kernel); then
            mode=tcg why="no kernel to test-boot (no /boot/vmlinuz-*, apt-get download failed); KVM not proven"
        elif run_probe kvm "$kernel"; then
            mode=kvm why="a guest booted under -accel kvm"
        else
            mode=tcg why="a kernel under -accel kvm did not boot within ${KVM_PROBE_TIMEOUT}s"
        fi
        if [ -n "${kernel:-}" ] && [ "$mode" = tcg ]; then
            run_probe tcg "$kernel" || die "the probe kernel did not boot under TCG either: the probe is broken here"
        fi
        if [ "$PRINT_ONLY" != 1 ]; then
            mkdir -p "$STATE_DIR"
            printf 'key=%s\nmode=%s\nwhy=%s\nwhen=%s\n' "$key" "$mode" "$why" "$(date -u +%FT%TZ)" >"$PROBE_CACHE.tmp"
            mv -f "$PROBE_CACHE.tmp" "$PROBE_CACHE"
            change "KVM probe: $mode ($why); cached in $PROBE_CACHE"
        else
            printf 'probe: %s (%s)\n' "$mode" "$why"
        fi
    fi
else
    mode=tcg
    [ "$PRINT_ONLY" = 1 ] || die "qemu-system-x86_64 missing after package step"
fi

# ------------------------------------------------------------------ 2 qemu.conf
if [ "$mode" = tcg ]; then
    if grep -Eq '^[[:space:]]*namespaces[[:space:]]*=[[:space:]]*\[[[:space:]]*\]' "$QEMU_CONF" 2>/dev/null; then
        ok "$QEMU_CONF has namespaces = []"
    elif plan "append 'namespaces = []' to $QEMU_CONF (no per-domain /dev namespace: /dev/kvm is a bind mount in libvirtd's namespace)"; then
        printf '\n# added by labctl (libvirt-host.sh): libvirtd runs with /dev/kvm masked in its own\n# mount namespace; a per-domain /dev namespace would fail to move that mount.\nnamespaces = []\n' >>"$QEMU_CONF"
    fi
fi

# ------------------------------------------------------------------ 3 virtlogd, 5 libvirtd
libvirtd_mode() { # prints kvm|tcg|tcg-unmasked|down for the running libvirtd
    local p
    pid_is /run/libvirtd.pid libvirtd || { echo down; return; }
    p=$(cat /run/libvirtd.pid)
    virsh_ version >/dev/null 2>&1 || { echo down; return; }
    if [ ! -e /dev/kvm ] || awk '$5 == "/dev/kvm" {f=1} END {exit !f}' "/proc/$p/mountinfo" 2>/dev/null; then
        echo tcg
    elif [[ $(virsh_ capabilities 2>/dev/null) == *"<domain type='kvm'"* ]]; then
        echo kvm
    else
        # No mask, yet no KVM offered: libvirt answers from a capabilities cache
        # written while it was masked; the next cache invalidation brings back
        # the 8 s per call re-probe. Not the TCG mode this script sets up.
        echo tcg-unmasked
    fi
}
if has_systemd; then
    # With systemd: the units, and for TCG a drop-in hiding /dev/kvm from libvirtd
    # (the systemd form of the mask: InaccessiblePaths).
    dropin=/etc/systemd/system/libvirtd.service.d/labctl-nokvm.conf
    if [ "$mode" = tcg ] && [ ! -f "$dropin" ] && plan "write $dropin (InaccessiblePaths=-/dev/kvm)"; then
        mkdir -p "$(dirname "$dropin")"
        printf '# labctl: KVM guests hang on this host; hide /dev/kvm from libvirtd so it offers TCG only\n[Service]\nInaccessiblePaths=-/dev/kvm\n' >"$dropin"
        systemctl daemon-reload
        systemctl restart libvirtd.service || true
    fi
    for u in virtlogd.socket libvirtd.service; do
        if systemctl is-active -q "$u"; then ok "$u active"
        elif plan "systemctl start $u"; then systemctl start "$u"; fi
    done
else
    if pid_is /run/virtlogd.pid virtlogd; then
        ok "virtlogd running (pid $(cat /run/virtlogd.pid))"
    elif plan "start virtlogd -d"; then
        mkdir -p /run/libvirt /var/log/libvirt
        virtlogd -d
        for _ in $(seq 20); do pid_is /run/virtlogd.pid virtlogd && break; sleep 0.25; done
        pid_is /run/virtlogd.pid virtlogd || die "virtlogd did not start"
    fi
    cur=$(libvirtd_mode)
    if [ "$cur" = "$mode" ]; then
        ok "libvirtd running in $mode mode (pid $(cat /run/libvirtd.pid))"
    else
        if [ "$cur" != down ] && plan "stop libvirtd (pid $(cat /run/libvirtd.pid)): it runs in $cur mode, the probe says $mode"; then
            kill "$(cat /run/libvirtd.pid)"
            for _ in $(seq 40); do pid_is /run/libvirtd.pid libvirtd || break; sleep 0.25; done
        fi
        if [ "$mode" = tcg ]; then
            if plan "start libvirtd -d in a private mount namespace with /dev/kvm masked by $MASK"; then
                install -m 0600 /dev/null "$MASK"
                unshare --mount --propagation private -- \
                    sh -c 'mount --bind "$1" /dev/kvm && exec libvirtd -d' sh "$MASK"
            fi
        elif plan "start libvirtd -d"; then
            # KVM mode: the qemu user (libvirt-qemu, group kvm) must open /dev/kvm.
            if [ "$(stat -c '%G %a' /dev/kvm)" != "kvm 660" ]; then
                change "chgrp kvm /dev/kvm; chmod 0660 /dev/kvm (no udev rule applied it)"
                chgrp kvm /dev/kvm && chmod 0660 /dev/kvm
            fi
            libvirtd -d
        fi
        if [ "$PRINT_ONLY" != 1 ]; then
            for _ in $(seq 40); do virsh_ version >/dev/null 2>&1 && break; sleep 0.25; done
            got=$(libvirtd_mode)
            [ "$got" = "$mode" ] || die "libvirtd runs in mode '$got', wanted '$mode'"
        fi
    fi
fi

# ------------------------------------------------------------------ 6 storage pool
# (never `virsh ... | grep -q` under pipefail: grep exits at the first match,
# virsh dies of SIGPIPE and the pipeline counts as failed)
pool_active() { local l; l=$(virsh_ pool-list --name 2>/dev/null) || return 1; [[ $'\n'$l$'\n' =~ $'\n'default[[:space:]]*$'\n' ]]; }
if [ "$PRINT_ONLY" = 1 ] && ! virsh_ version >/dev/null 2>&1; then
    plan "define and start storage pool default (dir /var/lib/libvirt/images)" || true
elif pool_active; then
    ok "storage pool default running"
elif plan "define/start storage pool default (dir /var/lib/libvirt/images), autostart"; then
    if ! virsh_ pool-info default >/dev/null 2>&1; then
        virsh_ pool-define-as default dir --target /var/lib/libvirt/images >/dev/null
        virsh_ pool-build default >/dev/null 2>&1 || true
    fi
    virsh_ pool-start default >/dev/null 2>&1 || pool_active ||
        die "cannot start storage pool default"
    virsh_ pool-autostart default >/dev/null
fi

if [ "$PRINT_ONLY" = 1 ]; then
    exit $(( would ? 10 : 0 ))
fi
# First capabilities call after a start (re)probes QEMU (4-8 s); warm it now.
virsh_ capabilities >/dev/null
printf 'ready: libvirt %s, mode %s\n' "$(virsh_ version 2>/dev/null | sed -n 's/^Running hypervisor: //p')" "$mode"
