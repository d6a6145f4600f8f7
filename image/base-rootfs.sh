# base-rootfs.sh: prints (tar on stdout) the small root file system that
# containers inside nodes run: nginx, haproxy and dash with the libraries they
# link. Run inside the node image; labctl imports it and moves it to nodes offline.
set -eu
r=$(mktemp -d)
chmod 0755 "$r"
bins="/usr/sbin/nginx /usr/sbin/haproxy /usr/bin/dash"
libs=$(ldd $bins | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// && $1 !~ /:$/ {print $1}' | sort -u)
for f in $bins $libs /etc/nginx/mime.types /etc/nsswitch.conf; do
    d=$(readlink -f "$(dirname "$f")")
    mkdir -p "$r$d"
    cp -L "$f" "$r$d/"
done
grep -E "^(root|daemon|nobody|www-data|haproxy):" /etc/passwd >"$r/etc/passwd"
grep -E "^(root|daemon|nogroup|www-data|haproxy):" /etc/group >"$r/etc/group"
ln -s usr/bin "$r/bin"; ln -s usr/sbin "$r/sbin"; ln -s usr/lib "$r/lib"; ln -s usr/lib64 "$r/lib64"
ln -s dash "$r/usr/bin/sh"
mkdir -p "$r/run" "$r/tmp" "$r/var/lib/nginx" "$r/var/log/nginx" "$r/var/lib/haproxy" "$r/srv/www"
chmod 1777 "$r/tmp"
tar --numeric-owner -C "$r" -cf - .
