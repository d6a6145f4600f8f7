# labctl check script: block devices as `NAME SECTORS` lines: every one, or
# only the device $1 (exit 66 when $1 is not a block device).
if [ -z "$1" ]; then
    for d in /sys/block/*; do
        [ -r "$d/size" ] && printf '%s %s\n' "${d##*/}" "$(cat "$d/size")"
    done
    exit 0
fi
d=$(readlink -f -- "$1") && [ -b "$d" ] || { echo "not a block device: $1" >&2; exit 66; }
n=${d##*/}
printf '%s %s\n' "$n" "$(cat "/sys/class/block/$n/size")"
