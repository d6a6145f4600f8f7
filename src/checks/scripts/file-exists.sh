# labctl check script: does the file $1 exist? Exit 66 when it does not.
test -f "$1" || exit 66
