# labctl, on the host, in a throwaway container of the node image: the iperf3
# binary and the libraries it links (with /etc/passwd, /etc/group and /tmp)
# as a tar stream on stdout, for `docker import` as the bench's iperf3 image.
set -e; f=/usr/bin/iperf3; libs=$(ldd $f | awk '/=>/ {print $3} /ld-linux/ {print $1}' | sort -u); tar --no-recursion -chf - $f $libs /etc/passwd /etc/group /tmp 2>/dev/null
