# labctl check script: does this node reach address $1? An ICMP echo reply
# or a TCP connection to its port 22 (ping may be missing, lack CAP_NET_RAW
# in a container, or be filtered, while every node runs sshd). Prints icmp,
# tcp22 or none.
if command -v ping >/dev/null 2>&1 && ping -c1 -W2 "$1" >/dev/null 2>&1; then echo icmp; exit 0; fi
if timeout 3 bash -c 'exec 3<>"/dev/tcp/$0/22"' "$1"; then echo tcp22; exit 0; fi
echo none; exit 1
