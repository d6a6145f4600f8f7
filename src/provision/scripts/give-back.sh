# labctl, as root, last step of `down` on a machine of hosts lab $1 whose
# roles were all undone: remove labctl's own folders, /var/lib/labctl and the
# login user's $2/.labctl (the uploaded role folders), only when
# /var/lib/labctl is this lab's (or already gone). Nothing else.
set -e
case $2 in /?*) ;; *) echo "login user's home $2 is not an absolute path" >&2; exit 2 ;; esac
if [ -e /var/lib/labctl ] && [ "$(head -n 1 /var/lib/labctl/lab 2>/dev/null)" != "$1" ]; then
    echo "/var/lib/labctl is not lab $1's; left alone" >&2
    exit 3
fi
for d in "$2/.labctl" /var/lib/labctl; do
    if [ -e "$d" ]; then
        rm -rf "$d"
        printf '::labctl:: removed %s\n' "$d"
    fi
done
