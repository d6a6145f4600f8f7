# labctl, as root, once the preflight passed: mark /var/lib/labctl as hosts
# lab $1's, so a later `up` or `down` knows the folder is its own. The folder
# and its marker appear together (made aside, renamed into place): an `up`
# cut short here must not leave a folder without a marker, which every later
# `up` and `down` would refuse as someone else's.
set -e
if [ -d /var/lib/labctl ]; then
    # The preflight found it holding this lab's marker: renew it in one step.
    printf '%s\n' "$1" >/var/lib/labctl/lab.tmp
    mv /var/lib/labctl/lab.tmp /var/lib/labctl/lab
else
    aside=$(mktemp -d /var/lib/labctl.claim.XXXXXX)
    chmod 0755 "$aside"
    printf '%s\n' "$1" >"$aside/lab"
    mv -T "$aside" /var/lib/labctl
fi
