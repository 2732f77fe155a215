#!/bin/sh
# Run each unit test binary (built with ASan/UBSan) and sum their results.
# Prints every test's PASS/FAIL line and ends with "N passed, N failed".
passed=0 failed=0
for t in "$@"; do
	echo "== $(basename "$t")"
	out=$("$t" 2>&1); rc=$?
	printf '%s\n' "$out" | grep -v -E '^[0-9]+ passed, [0-9]+ failed$'
	line=$(printf '%s\n' "$out" | grep -E '^[0-9]+ passed, [0-9]+ failed$' | tail -n 1)
	if [ -z "$line" ]; then
		echo "FAIL $(basename "$t"): crashed or printed no result (exit $rc)"
		failed=$((failed + 1))
		continue
	fi
	p=${line%% passed*}; f=${line#*, }; f=${f%% failed*}
	passed=$((passed + p)); failed=$((failed + f))
	[ "$rc" -ne 0 ] && [ "$f" -eq 0 ] && { echo "FAIL $(basename "$t"): exit $rc"; failed=$((failed + 1)); }
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
