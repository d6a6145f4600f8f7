# labctl check script: the status of service $1, by its exit code.
service "$1" status
