# labctl, after a role ran on a node: what role $1 said about itself
# (changed, unchanged or skipped), a marker line, then the values it
# published (KEY=value lines).
cat "/var/lib/labctl/roles/$1.result" 2>/dev/null
echo
echo '::labctl:: publish'
cat "/var/lib/labctl/roles/$1.publish" 2>/dev/null
