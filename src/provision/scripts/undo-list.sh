# labctl, on `down` of hosts lab $1: after the `owner` line of the probe
# undo.rs puts before this text (src/provider/scripts/hosts-owner.sh: whose
# is /var/lib/labctl), a `started ROLE` line for each role whose provision.sh
# started here (the wrapper made its publish file first and leaves its
# result file).
for f in /var/lib/labctl/roles/*.result /var/lib/labctl/roles/*.publish; do
    [ -f "$f" ] || continue
    r=${f##*/}
    printf '::labctl:: started %s\n' "${r%.*}"
done
