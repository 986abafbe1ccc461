#!/bin/sh
# Runs each named check target (make check-NAME), keeps going after a failure,
# and ends with one line CI can read: "checks: N passed, N failed".
pass=0; fail=0; failed=""
for t in "$@"; do
    echo "=== $t"
    if ${MAKE:-make} --no-print-directory "$t"; then
        pass=$((pass + 1)); echo "=== $t: ok"
    else
        fail=$((fail + 1)); failed="$failed $t"; echo "=== $t: FAILED"
    fi
done
[ -n "$failed" ] && echo "failed:$failed"
echo "checks: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
