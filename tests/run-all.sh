#!/bin/sh
# `make check`: every suite in turn, then one closing line for CI that sums
# them: unit tests (ASan/UBSan), the fuzz targets (tests/fuzz/), systemd
# units, cluster tests in network namespaces, the short fault campaign
# (tests/soak), the systemd lab (booted
# containers, the .deb). Usage: tests/run-all.sh UNIT_TEST_BINARIES...
top=$(cd "$(dirname "$0")/.." && pwd)
log=$(mktemp /tmp/skyha-check.XXXXXX)
trap 'rm -f "$log"' EXIT
passed=0 failed=0

suite() {
	name=$1; shift
	echo "=== $name"
	"$@" 2>&1 | tee "$log"
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
	if [ -z "$line" ]; then
		echo "FAIL $name: the suite printed no result"
		failed=$((failed + 1))
		return
	fi
	p=${line%% passed*}; f=${line#*, }; f=${f%% failed*}
	passed=$((passed + p)); failed=$((failed + f))
}

suite "lint (clang-format, cppcheck of every daemon, banned functions)" "$top/tools/lint.sh"
suite "unit tests (ASan/UBSan)" "$top/tests/unit/run.sh" "$@"
suite "fuzz targets (corpus replay + short run)" "$top/tests/fuzz/run.sh"
suite "systemd units" "$top/tests/units/verify.sh"
suite "backupd on a dir target (tests/backup)" /usr/bin/python3 "$top/tests/backup/test_backupd.py"
suite "backupd's S3 and Azure targets against s3rver and Azurite (short)" /usr/bin/python3 "$top/tests/backup/run.py" --short
# Two processes of labs at once: most tests wait on timeouts, not on the CPU,
# and make check must stay within its 25 minutes on 2 cores.
suite "cluster tests (network namespaces, 2 at once)" /usr/bin/python3 "$top/tests/cluster/run.py" -j 2
suite "fault campaign (short soak)" /usr/bin/python3 "$top/tests/soak/soak.py" --short
suite "systemd lab (booted containers)" /usr/bin/python3 "$top/tests/systemd/run.py"
echo
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
