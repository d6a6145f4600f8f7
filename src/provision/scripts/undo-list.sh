# labctl, on `down` of hosts lab $1: whose is /var/lib/labctl (a marker line
# `owner NAME`, `owner -` when neither it nor ~/.labctl is there, `owner ?`
# when one is there without a marker), then a `started ROLE` line for each
# role whose provision.sh started here (the wrapper made its publish file
# first and leaves its result file).
if [ -f /var/lib/labctl/lab ]; then
    printf '::labctl:: owner %s\n' "$(head -n 1 /var/lib/labctl/lab)"
elif [ -e /var/lib/labctl ] || [ -e "$HOME/.labctl" ]; then
    echo '::labctl:: owner ?'
else
    echo '::labctl:: owner -'
fi
for f in /var/lib/labctl/roles/*.result /var/lib/labctl/roles/*.publish; do
    [ -f "$f" ] || continue
    r=${f##*/}
    printf '::labctl:: started %s\n' "${r%.*}"
done
