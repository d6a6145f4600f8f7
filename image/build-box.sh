#!/bin/bash
# build-box.sh: build labctl's libvirt Vagrant box offline, from the same root
# file system as the docker node image (build-rootfs.sh: same debootstrap
# base, same PACKAGES, same vagrant user, apt mirror and settings), plus what a
# VM needs: a kernel (linux-image-amd64) and its initramfs, systemd as init,
# udev, dbus, systemd-resolved, and extlinux as bootloader on an MBR disk.
#
# Inputs (environment variables only; nothing is eval'ed or interpolated into
# a command string):
#   BOX_OUT              path of the .box to write (written atomically)          [required]
#   WORK_DIR             scratch dir, absolute; must not exist or be empty       [required]
#   ROOTFS_TAR           an existing tarball written by build-rootfs.sh (e.g. the
#                        one the docker node image was imported from): unpacked
#                        instead of running debootstrap again. Without it,
#                        build-rootfs.sh runs here with KEEP_ROOTFS=1 and
#                        RELEASE, MIRROR, PACKAGES and INIT_SCRIPT passed
#                        through unchanged.
#   VAGRANT_PUBKEY_FILE  Vagrant's well-known public key  [default: from `dpkg -L vagrant`]
#   BUILD_ROOTFS_SCRIPT  [default: build-rootfs.sh beside this script]
#   DISK_GB              virtual size of the box's disk in GiB            [default: 20]
#   BOX_INFO             free text (e.g. the inputs hash) stored in the box as
#                        /etc/labctl/box-info and in the box's info.json
#                        [default: none]; must match ^[A-Za-z0-9._:=+, /-]*$
#   KEEP_WORK=1          debugging: keep WORK_DIR (rootfs, raw disk) on exit
#
# Writes BOX_OUT: an uncompressed tar of metadata.json, Vagrantfile, info.json
# and box.img (qcow2, compressed clusters: gzip on top would only cost time).
#
# The guest:
# - user vagrant authorizes Vagrant's well-known key, as Vagrant boxes do
#   (the node rootfs authorizes none: docker nodes get labctl's key per node);
#   Vagrant swaps it for a per-machine key on first boot (insert_key);
# - no SSH host keys: ssh.service gets a drop-in whose ExecStartPre makes the
#   missing Ed25519 and ECDSA keys (no RSA: slow under TCG) before `sshd -t`,
#   so each VM makes its own on first boot and keeps them; the public keys are
#   printed on the serial console ("labctl-hostkey TYPE BASE64", through the
#   kernel log) before sshd starts, at every boot, for labctl to read from the
#   VM's console log;
# - an empty /etc/machine-id: each VM makes its own on first boot. (Two VMs
#   sharing one would send the same DHCP client identifier and get the SAME
#   address on the management network.)
# - systemd-networkd: /etc/systemd/network/99-labctl-dhcp.network does DHCPv4 on
#   every en*/eth* link without another .network file; Vagrant writes
#   50-vagrant-*.network for the private NICs and networkd uses the first
#   matching file. IPv6 router advertisements are ignored (no IPv6 default route);
# - services of PACKAGES are installed but not enabled (as in the docker node,
#   where labctl-init starts only what /etc/labctl/services lists): every
#   enabled .service/.socket/.timer outside a short list (ssh, networkd,
#   resolved, cron, logrotate.timer, getty) is disabled at build time (also
#   e2scrub_reap, 30+ s of CPU at every TCG boot), and
#   labctl-services.service starts the services listed in
#   /etc/labctl/services at every boot, as labctl-init does on docker;
# - apt: the rootfs' sources and apt.conf.d settings (copied from the host by
#   build-rootfs.sh: the dated snapshot mirror needs Check-Valid-Until false);
#   apt's periodic timers are disabled (they would lock dpkg while roles run);
# - console on ttyS0 (virsh console), root=LABEL=root.
#
# Must run as root. Exit status 0 only when BOX_OUT was written.
set -euo pipefail
umask 022
export LC_ALL=C.UTF-8 DEBIAN_FRONTEND=noninteractive
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

log() { printf '[build-box %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { printf '[build-box] error: %s\n' "$*" >&2; exit 1; }

# What a VM needs on top of the node rootfs.
VM_PACKAGES=(linux-image-amd64 initramfs-tools systemd-sysv udev dbus systemd-resolved kmod)
# Units that stay enabled (everything else enabled by a package is disabled).
KEEP_ENABLED_RE='^(ssh\.service|sshd\.service|systemd-networkd\.(service|socket)|systemd-resolved\.service|cron\.service|logrotate\.timer|getty@\.service|serial-getty@\.service|systemd-pstore\.service|labctl-services\.service|dbus\.service|systemd-timesyncd\.service|remote-fs\.target|fstrim\.timer)$'

script_dir=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)

# ---------------------------------------------------------------- inputs
[ "$(id -u)" = 0 ] || die "must run as root (chroot, loop devices, mount)"
for t in sfdisk mkfs.ext4 extlinux qemu-img losetup tar; do
    command -v "$t" >/dev/null || die "$t is not installed (apt-get install fdisk e2fsprogs extlinux syslinux-common qemu-utils)"
done
MBR_BIN=
for f in /usr/lib/syslinux/mbr/mbr.bin /usr/lib/EXTLINUX/mbr.bin; do
    [ -f "$f" ] && { MBR_BIN=$f; break; }
done
[ -n "$MBR_BIN" ] || die "syslinux mbr.bin not found (apt-get install syslinux-common)"

BOX_OUT=${BOX_OUT:-}
WORK_DIR=${WORK_DIR:-}
ROOTFS_TAR=${ROOTFS_TAR:-}
BUILD_ROOTFS_SCRIPT=${BUILD_ROOTFS_SCRIPT:-$script_dir/build-rootfs.sh}
DISK_GB=${DISK_GB:-20}
BOX_INFO=${BOX_INFO:-}
[ -n "$BOX_OUT" ] || die "BOX_OUT is required"
[ -n "$WORK_DIR" ] || die "WORK_DIR is required"
case $WORK_DIR in /?*) ;; *) die "WORK_DIR must be an absolute path" ;; esac
case $WORK_DIR in *[!A-Za-z0-9._/-]*) die "WORK_DIR may only contain [A-Za-z0-9._/-]" ;; esac
WORK_DIR=${WORK_DIR%/}
[ -n "$WORK_DIR" ] && [ "$WORK_DIR" != / ] || die "WORK_DIR must not be /"
if [ -e "$WORK_DIR" ] && [ -n "$(ls -A -- "$WORK_DIR")" ]; then
    die "WORK_DIR $WORK_DIR exists and is not empty"
fi
[[ $DISK_GB =~ ^[0-9]{1,4}$ ]] && [ "$DISK_GB" -ge 4 ] || die "DISK_GB must be a number >= 4"
[[ $BOX_INFO =~ ^[A-Za-z0-9._:=+,\ /-]*$ ]] || die "BOX_INFO holds characters outside [A-Za-z0-9._:=+, /-]"
[ -z "$ROOTFS_TAR" ] || [ -f "$ROOTFS_TAR" ] || die "ROOTFS_TAR $ROOTFS_TAR not found"
[ -n "$ROOTFS_TAR" ] || [ -f "$BUILD_ROOTFS_SCRIPT" ] || die "$BUILD_ROOTFS_SCRIPT not found"
VAGRANT_PUBKEY_FILE=${VAGRANT_PUBKEY_FILE:-}
if [ -z "$VAGRANT_PUBKEY_FILE" ]; then
    VAGRANT_PUBKEY_FILE=$(dpkg -L vagrant 2>/dev/null | grep -m1 '/keys/vagrant\.pub$' || true)
fi
[ -n "$VAGRANT_PUBKEY_FILE" ] && [ -f "$VAGRANT_PUBKEY_FILE" ] ||
    die "VAGRANT_PUBKEY_FILE not set and not found via 'dpkg -L vagrant'"
grep -q '^ssh-rsa AAAA[^ ]* vagrant insecure public key$' "$VAGRANT_PUBKEY_FILE" ||
    die "$VAGRANT_PUBKEY_FILE does not look like Vagrant's insecure public key"
out_dir=$(dirname -- "$BOX_OUT")
[ -d "$out_dir" ] || die "folder $out_dir of BOX_OUT does not exist"

ROOT=$WORK_DIR/rootfs
MNT=$WORK_DIR/mnt
RAW=$WORK_DIR/disk.raw
TMP_BOX=$out_dir/.$(basename -- "$BOX_OUT").tmp.$$

# ---------------------------------------------------------------- cleanup (every exit path)
mounted=()   # innermost last
loopdev=
cleanup() {
    local rc=$? i
    for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do
        umount -- "${mounted[i]}" 2>/dev/null || umount -l -- "${mounted[i]}" 2>/dev/null || true
    done
    mounted=()
    if [ -n "$loopdev" ]; then losetup -d "$loopdev" 2>/dev/null || true; loopdev=; fi
    rm -f -- "$TMP_BOX"
    # The work dir holds a multi-GB raw disk and the rootfs: never left behind.
    # (--one-file-system: should an unmount have failed, nothing below it is touched.)
    if [ -d "$WORK_DIR" ] && [ "${KEEP_WORK:-0}" != 1 ]; then
        rm -rf --one-file-system -- "$WORK_DIR" 2>/dev/null || true
    fi
    [ "$rc" = 0 ] || log "failed (exit $rc); cleaned up"
    exit "$rc"
}
trap cleanup EXIT
# Long steps run through bg(): bash runs a trap only after its foreground child
# ends, so a TERM during `apt-get install` in the chroot would wait for it (a
# minute or more). With the child in the background, `wait` returns at once,
# the child is stopped, then cleanup unmounts and removes everything.
# The child gets its own process group (setsid), so the whole step (apt-get,
# dpkg and the maintainer scripts; debootstrap) is stopped with one kill.
# (A SIGKILL of this script runs no cleanup at all: the caller then unmounts
# what is left under WORK_DIR and detaches loop devices backed by its files.)
child=
on_signal() {
    if [ -n "$child" ]; then
        kill -TERM -- "-$child" 2>/dev/null || true
        wait "$child" 2>/dev/null || true
        child=
    fi
    exit "$1"
}
trap 'on_signal 130' INT
trap 'on_signal 143' TERM
bg() { setsid "$@" & child=$!; local rc=0; wait "$child" || rc=$?; child=; return "$rc"; }
mount_() { # mount_ ARGS... TARGET (TARGET last); recorded for cleanup
    mount "$@"
    mounted+=("${@: -1}")
}
umount_all() {
    local i
    for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do umount -- "${mounted[i]}"; done
    mounted=()
}
in_root() { chroot "$ROOT" "$@"; }

start=$(date +%s)
mkdir -p -- "$WORK_DIR" "$MNT"

# ---------------------------------------------------------------- 1. the node rootfs
if [ -n "$ROOTFS_TAR" ]; then
    mkdir -p -- "$ROOT"
    # --xattrs-include='*': without it GNU tar restores only user.* xattrs and
    # drops file capabilities (ping's cap_net_raw: "ping: socket: Operation
    # not permitted" for non-root users in the VM).
    bg tar --numeric-owner --xattrs --xattrs-include='*' -xpf "$ROOTFS_TAR" -C "$ROOT"
    log "unpacked $ROOTFS_TAR"
else
    bg env ROOTFS_DIR="$ROOT" OUTPUT_TAR="$WORK_DIR/rootfs.tar" KEEP_ROOTFS=1 \
        bash "$BUILD_ROOTFS_SCRIPT" || die "build-rootfs.sh failed"
    rm -f -- "$WORK_DIR/rootfs.tar"
fi
[ -x "$ROOT/usr/sbin/sshd" ] && [ -f "$ROOT/etc/labctl/image-info" ] ||
    die "$ROOT is not a labctl node rootfs (no sshd or /etc/labctl/image-info)"
RELEASE_IN=$(sed -n 's/^release=//p' "$ROOT/etc/labctl/image-info")
t_rootfs=$(( $(date +%s) - start ))
log "node rootfs ready in ${t_rootfs} s"

# ---------------------------------------------------------------- 2. what a VM needs
printf '#!/bin/sh\nexit 101\n' >"$ROOT/usr/sbin/policy-rc.d"
chmod 0755 "$ROOT/usr/sbin/policy-rc.d"
# debootstrap copied the build host's resolv.conf; the VM gets its own (resolved).
rm -f -- "$ROOT/etc/resolv.conf"
cp /etc/resolv.conf "$ROOT/etc/resolv.conf"        # for apt inside the chroot only
mount_ -t proc proc "$ROOT/proc"
mount_ -t sysfs sys "$ROOT/sys"
mount_ --bind /dev "$ROOT/dev"
t=$(date +%s)
bg chroot "$ROOT" apt-get update -qq >&2 || die "apt-get update in the rootfs failed"
# initramfs-tools: the virtio drivers must be in the initramfs (root on virtio-blk).
mkdir -p "$ROOT/etc/initramfs-tools"
printf 'virtio_pci\nvirtio_blk\nvirtio_net\nvirtio_scsi\next4\n' >>"$ROOT/etc/initramfs-tools/modules"
bg chroot "$ROOT" apt-get install -y -qq --no-install-recommends -- "${VM_PACKAGES[@]}" >&2 ||
    die "apt-get install ${VM_PACKAGES[*]} failed"
log "VM packages installed in $(( $(date +%s) - t )) s"
KVER=$(ls -1 "$ROOT/boot" | sed -n 's/^vmlinuz-//p' | sort -V | tail -n1)
[ -n "$KVER" ] && [ -f "$ROOT/boot/initrd.img-$KVER" ] || die "no kernel/initramfs in $ROOT/boot"

# ---------------------------------------------------------------- 3. guest configuration
printf 'LABEL=root / ext4 defaults,errors=remount-ro 0 1\n' >"$ROOT/etc/fstab"
printf 'labctl-node\n' >"$ROOT/etc/hostname"
# The box alone authorizes Vagrant's well-known key (see the header).
install -d -m 0700 "$ROOT/home/vagrant/.ssh"
install -m 0600 -- "$VAGRANT_PUBKEY_FILE" "$ROOT/home/vagrant/.ssh/authorized_keys"
in_root chown -R vagrant:vagrant /home/vagrant/.ssh
printf '127.0.0.1\tlocalhost\n127.0.1.1\tlabctl-node\n::1\tlocalhost ip6-localhost ip6-loopback\n' >"$ROOT/etc/hosts"

install -d -m 0755 "$ROOT/etc/systemd/network"
cat >"$ROOT/etc/systemd/network/99-labctl-dhcp.network" <<'EOF'
# labctl box: DHCPv4 on every NIC that no other .network file claims (the
# management NIC; Vagrant writes 50-vagrant-*.network for the private ones).
[Match]
Name=en* eth*

[Network]
DHCP=ipv4
IPv6AcceptRA=no
LinkLocalAddressing=no
EOF

# SSH host keys: none in the image; made on first boot, before sshd's own check.
# Ed25519 and ECDSA only: an RSA-3072 key takes 2 s on an idle TCG guest and
# 20-30 s while two guests boot on 2 busy cores, on the path to "SSH ready".
install -d -m 0755 "$ROOT/etc/systemd/system/ssh.service.d"
cat >"$ROOT/etc/systemd/system/ssh.service.d/labctl-hostkeys.conf" <<'EOF'
# labctl box: the image ships no host keys; each VM makes its own on first
# boot (only missing ones) and keeps them after.
[Service]
ExecStartPre=
ExecStartPre=/bin/sh -c 'for t in ed25519 ecdsa; do f=/etc/ssh/ssh_host_$${t}_key; [ -s "$$f" ] || ssh-keygen -q -t "$$t" -N "" -f "$$f"; done'
ExecStartPre=/usr/sbin/sshd -t
# The public host keys on the serial console, before sshd listens: whoever
# logs the console (labctl: a file per VM) knows them before the first SSH
# contact, so host keys are verified, not trusted on first use.
ExecStartPre=-/usr/local/sbin/labctl-hostkeys-console
EOF
cat >"$ROOT/usr/local/sbin/labctl-hostkeys-console" <<'EOF'
#!/bin/sh
# Print this VM's SSH host public keys on the serial console, one line each:
#   labctl-hostkey <type> <base64>
# Through the kernel log at level 2 (shown on every console, `quiet` or not),
# not by writing /dev/ttyS0: systemd hangs up ttyS0 (TTYVHangup=yes) when it
# starts the serial getty, which a restarted VM (its keys made already, no
# ssh-keygen first) reaches at about the same moment as this script, and a
# write caught by that hangup fails and is lost. The kernel's own console
# output is no open file of the tty and is not hung up. /dev/ttyS0 remains
# the fallback where /dev/kmsg is not writable.
out=/dev/kmsg prefix='<2>'
[ -w "$out" ] || { out=/dev/ttyS0 prefix=; }
[ -w "$out" ] || exit 0
for f in /etc/ssh/ssh_host_ed25519_key.pub /etc/ssh/ssh_host_ecdsa_key.pub; do
    [ -r "$f" ] || continue
    # One write per line: /dev/kmsg takes each write as one record.
    read -r type key _ <"$f" && printf '%slabctl-hostkey %s %s\n' "$prefix" "$type" "$key" >"$out"
done
EOF
chmod 0755 "$ROOT/usr/local/sbin/labctl-hostkeys-console"
printf 'HostKey /etc/ssh/ssh_host_ed25519_key\nHostKey /etc/ssh/ssh_host_ecdsa_key\n' \
    >"$ROOT/etc/ssh/sshd_config.d/labctl-hostkeys.conf"
rm -f -- "$ROOT"/etc/ssh/ssh_host_*

# Services listed in /etc/labctl/services start at boot, as labctl-init does on docker.
cat >"$ROOT/usr/local/sbin/labctl-services" <<'EOF'
#!/bin/bash
# labctl-services: start (at boot) or stop every service named in
# /etc/labctl/services, one per line, '#' comments allowed; roles append names
# (enable_service). The VM twin of what labctl-init does in docker nodes.
set -u
f=/etc/labctl/services
services=()
if [ -r "$f" ]; then
    while IFS= read -r line || [ -n "$line" ]; do
        line=${line%%#*}
        line=${line//[[:space:]]/}
        [ -n "$line" ] || continue
        if [[ $line =~ ^[A-Za-z0-9][A-Za-z0-9@._+-]*$ ]]; then services+=("$line")
        else echo "labctl-services: ignoring invalid name: $line"; fi
    done <"$f"
fi
rc=0
case "${1:-start}" in
start)
    for s in "${services[@]}"; do
        if service "$s" start; then echo "labctl-services: started $s"
        else echo "labctl-services: $s failed to start"; rc=1; fi
    done ;;
stop)
    for ((i = ${#services[@]} - 1; i >= 0; i--)); do service "${services[i]}" stop || true; done ;;
esac
exit $rc
EOF
chmod 0755 "$ROOT/usr/local/sbin/labctl-services"
cat >"$ROOT/etc/systemd/system/labctl-services.service" <<'EOF'
[Unit]
Description=labctl: start the services listed in /etc/labctl/services
After=network.target ssh.service
Wants=network.target

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/local/sbin/labctl-services start
TimeoutStartSec=300

[Install]
WantedBy=multi-user.target
EOF

# Enable what the VM needs, disable what PACKAGES enabled.
in_root systemctl enable ssh.service systemd-networkd.service systemd-resolved.service \
    labctl-services.service serial-getty@ttyS0.service >/dev/null 2>&1 ||
    die "systemctl enable in the rootfs failed"
disabled=()
while read -r unit state _; do
    [ "$state" = enabled ] || continue
    [[ $unit =~ $KEEP_ENABLED_RE ]] && continue
    in_root systemctl disable "$unit" >/dev/null 2>&1 || die "systemctl disable $unit failed"
    disabled+=("$unit")
done < <(in_root systemctl list-unit-files --no-legend --no-pager --type=service,socket,timer 2>/dev/null)
log "disabled at boot (started only when /etc/labctl/services names them): ${disabled[*]:-none}"
# systemd-networkd-wait-online would hold boot for 2 min on the unconfigured private NIC.
in_root systemctl mask systemd-networkd-wait-online.service >/dev/null 2>&1 || true

# Vagrant's key exchange and root by console: no passwords at all (as the docker node).
printf 'UseDNS no\n' >"$ROOT/etc/ssh/sshd_config.d/labctl.conf"
# Docker-only adjustment from build-rootfs.sh (pam_loginuid optional) is harmless in a VM.

printf 'box_kernel=%s\nbox_vm_packages=%s\nbox_disabled_units=%s\nbox_info=%s\n' \
    "$KVER" "${VM_PACKAGES[*]}" "${disabled[*]:-}" "$BOX_INFO" >"$ROOT/etc/labctl/box-info"

# ---------------------------------------------------------------- 4. clean
in_root apt-get clean
umount_all
rm -rf -- "$ROOT"/var/lib/apt/lists/* "$ROOT"/var/cache/apt/*.bin "$ROOT"/var/log/apt/* \
    "$ROOT"/var/log/*.log "$ROOT"/tmp/* "$ROOT"/var/tmp/* "$ROOT/usr/sbin/policy-rc.d"
# resolved's stub: the VM's DNS is what DHCP on the management network says.
ln -sfn ../run/systemd/resolve/stub-resolv.conf "$ROOT/etc/resolv.conf"
: >"$ROOT/etc/machine-id"                  # each VM makes its own (DHCP client id!)
rm -f -- "$ROOT/var/lib/dbus/machine-id" "$ROOT/var/lib/systemd/random-seed"
rm -f -- "$ROOT"/etc/ssh/ssh_host_*
[ ! -s "$ROOT/etc/machine-id" ] || die "machine-id not empty"

# ---------------------------------------------------------------- 5. bootloader and disk
install -d -m 0755 "$ROOT/boot/extlinux"
# no_timer_check: under QEMU's emulation (TCG) on a busy host the kernel's
# early check that the IO-APIC timer ticks can miss its window, and the guest
# stops at boot with "Kernel panic - not syncing: IO-APIC + timer doesn't
# work!" (seen here on a restarted testnodes VM at load 12; the lab then waits
# out its boot_timeout). Virtual machines' kernels are commonly booted with it.
cat >"$ROOT/boot/extlinux/extlinux.conf" <<EOF
DEFAULT linux
TIMEOUT 1
PROMPT 0
SERIAL 0 115200
LABEL linux
  LINUX /boot/vmlinuz-$KVER
  INITRD /boot/initrd.img-$KVER
  APPEND root=LABEL=root ro console=tty0 console=ttyS0,115200n8 net.ifnames=1 no_timer_check quiet
EOF
t=$(date +%s)
psize=$(( DISK_GB * 1024 * 1024 * 1024 - 1048576 ))
truncate -s "${DISK_GB}G" "$RAW"
echo 'start=2048, type=83, bootable' | sfdisk -q "$RAW"
# ext4 without 64bit/metadata_csum: extlinux 6.04 cannot read those.
bg mkfs.ext4 -q -F -L root -O ^64bit,^metadata_csum -E offset=1048576 -d "$ROOT" "$RAW" "$(( psize / 1024 ))k"
dd if="$MBR_BIN" of="$RAW" bs=440 count=1 conv=notrunc status=none
loopdev=$(losetup -f --show -o 1048576 --sizelimit "$psize" "$RAW")
mount_ "$loopdev" "$MNT"
extlinux --install "$MNT/boot/extlinux" >/dev/null 2>&1 || die "extlinux --install failed"
umount_all
losetup -d "$loopdev"; loopdev=
log "disk image made in $(( $(date +%s) - t )) s"
rm -rf --one-file-system -- "$ROOT"

t=$(date +%s)
bg qemu-img convert -c -O qcow2 "$RAW" "$WORK_DIR/box.img"
rm -f -- "$RAW"
log "qcow2 (compressed) in $(( $(date +%s) - t )) s: $(du -h "$WORK_DIR/box.img" | cut -f1)"

printf '{"provider":"libvirt","format":"qcow2","virtual_size":%s}\n' "$DISK_GB" >"$WORK_DIR/metadata.json"
printf '{"author":"labctl","description":"labctl node box (debootstrap %s)","kernel":"%s","info":"%s"}\n' \
    "$RELEASE_IN" "$KVER" "$BOX_INFO" >"$WORK_DIR/info.json"
cat >"$WORK_DIR/Vagrantfile" <<'EOF'
# labctl node box (libvirt). The lab's Vagrantfile sets the rest.
Vagrant.configure('2') do |config|
  config.vm.synced_folder '.', '/vagrant', disabled: true
  config.vm.provider :libvirt do |lv|
    lv.disk_bus = 'virtio'
  end
end
EOF
bg tar --numeric-owner --owner=0 --group=0 -C "$WORK_DIR" -cf "$TMP_BOX" metadata.json info.json Vagrantfile box.img
mv -f -- "$TMP_BOX" "$BOX_OUT"
log "wrote $BOX_OUT ($(du -h -- "$BOX_OUT" | cut -f1)) in $(( $(date +%s) - start )) s (rootfs ${t_rootfs} s)"
