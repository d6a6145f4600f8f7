# labctl check script: the file $1, printed; exit 66 when it does not exist.
test -f "$1" || exit 66
cat -- "$1"
