# labctl, as root, once the preflight passed: mark /var/lib/labctl as hosts
# lab $1's, so a later `up` or `down` knows the folder is its own.
set -e
mkdir -p /var/lib/labctl
chmod 0755 /var/lib/labctl
printf '%s\n' "$1" >/var/lib/labctl/lab.tmp
mv /var/lib/labctl/lab.tmp /var/lib/labctl/lab
