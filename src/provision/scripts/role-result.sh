# labctl, after a role ran on a node: what role $1 said about itself
# (changed, unchanged, skipped or unreported, as the wrapper left it), or a
# `missing` marker when there is no result file; then a marker line, then the
# values it published (KEY=value lines).
if [ -f "/var/lib/labctl/roles/$1.result" ]; then
    cat "/var/lib/labctl/roles/$1.result"
else
    echo
    echo '::labctl:: missing'
fi
echo
echo '::labctl:: publish'
cat "/var/lib/labctl/roles/$1.publish" 2>/dev/null
