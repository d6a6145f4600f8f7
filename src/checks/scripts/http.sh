# labctl check script: $1 GET requests of URL $3, each within $2 seconds, with
# curl, or with python3 (program text $7, to URL $5 with Host header $6) where
# curl is missing. $4 is curl's --resolve for a node name ("" for none): node
# names are resolved from the lab, never by DNS. No proxies, no redirects.
# Each body is followed by a marker line `::labctl:: http STATUS` (000: no
# response). Exit 127 when neither client is installed.
n=$1 secs=$2 url=$3 resolve=$4 url_ip=$5 host=$6 py=$7
if command -v curl >/dev/null 2>&1; then
    i=0
    while [ "$i" -lt "$n" ]; do
        if [ -n "$resolve" ]; then
            curl -sS --noproxy '*' --proto '=http,https' --max-time "$secs" --resolve "$resolve" -w '\n::labctl:: http %{http_code}\n' "$url"
        else
            curl -sS --noproxy '*' --proto '=http,https' --max-time "$secs" -w '\n::labctl:: http %{http_code}\n' "$url"
        fi
        i=$((i+1))
    done
elif command -v python3 >/dev/null 2>&1; then
    python3 -c "$py" "$n" "$secs" "$url_ip" "$host"
else
    echo 'labctl: neither curl nor python3 on this node' >&2
    exit 127
fi
