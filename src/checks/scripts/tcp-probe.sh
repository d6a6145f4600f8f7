# labctl check script: exit 0 when a TCP connection to address $1, port $2
# opens within $3 seconds.
timeout "$3" bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$1" "$2"
