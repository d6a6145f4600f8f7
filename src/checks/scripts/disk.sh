# labctl check script: the block device $1 as this node sees it, printed as
# `NAME BYTES` (the size from `blockdev --getsize64`, asked of the device node
# itself). Never sysfs: inside a container /sys/block is the host's, where
# every node's disk (and any other loop device) shows up alike.
# Exit 66 when $1 is not a block device on this node.
d=$(readlink -f -- "$1") && [ -b "$d" ] || { echo "not a block device on this node: $1" >&2; exit 66; }
size=$(blockdev --getsize64 "$d") || exit 1
printf '%s %s\n' "${d##*/}" "$size"
