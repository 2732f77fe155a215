#!/bin/sh
# The libFuzzer targets (tests/fuzz/README.md), two ways:
#
#   tests/fuzz/run.sh TARGET...          make check: replay every file of
#       tests/fuzz/corpus/<name>/ through the target, then fuzz it for
#       FUZZ_CHECK_SECONDS (default 3); one PASS/FAIL line per target and
#       "N passed, N failed" at the end.
#   tests/fuzz/run.sh --long SECONDS TARGET...   make fuzz: fuzz each for
#       SECONDS, one at a time, and print a table (exec/s, edges, crashes).
#
# TARGET is build/fuzz/<name> (default: one per tests/fuzz/<name>_fuzz.c;
# one that is not built fails). New inputs go to
# build/fuzz/scratch/<name>/ (make fuzz) or a temporary directory (check),
# never into the checked-in corpus; crashes go to build/fuzz/crashes/<name>/.
top=$(cd "$(dirname "$0")/../.." && pwd)
long=""
if [ "${1:-}" = --long ]; then
	long=$2
	shift 2
fi
if [ $# -eq 0 ]; then
	for src in "$top"/tests/fuzz/*_fuzz.c; do
		src=$(basename "$src")
		set -- "$@" "$top/build/fuzz/${src%_fuzz.c}"
	done
fi
check_seconds=${FUZZ_CHECK_SECONDS:-3}
tmp=$(mktemp -d /tmp/skyha-fuzz.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
passed=0 failed=0 table=""

# figures LOG: sets eps and cov (exec/s, edges) from libFuzzer's final
# stats and its last status line.
figures() {
	eps=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$1" | tail -n 1)
	cov=$(grep -E '^#[0-9]+.* cov: ' "$1" | tail -n 1 |
		sed -E 's/.* cov: ([0-9]+).*/\1/')
	eps=${eps:-?} cov=${cov:-?}
}

for t in "$@"; do
	name=$(basename "$t")
	if ! [ -f "$t" ] || ! [ -x "$t" ]; then
		echo "FAIL $name: not built (make fuzz-build)"
		failed=$((failed + 1))
		continue
	fi
	corpus=$top/tests/fuzz/corpus/$name
	crashes=$top/build/fuzz/crashes/$name
	mkdir -p "$corpus" "$crashes"
	log=$tmp/$name.log
	if [ -n "$long" ]; then
		scratch=$top/build/fuzz/scratch/$name
		mkdir -p "$scratch"
		before=$(ls "$crashes" | wc -l)
		nice -n 19 "$t" -max_total_time="$long" -timeout=10 \
			-print_final_stats=1 -artifact_prefix="$crashes/" \
			"$scratch" "$corpus" >"$log" 2>&1
		rc=$?
		found=$(($(ls "$crashes" | wc -l) - before))
		figures "$log"
		line=$(printf '%-16s %10s %8s %8s' "$name" "$eps" "$cov" "$found")
		echo "$line"
		table="$table$line
"
		if [ "$rc" -eq 0 ] && [ "$found" -eq 0 ]; then
			passed=$((passed + 1))
		else
			failed=$((failed + 1))
			grep -E 'ERROR|SUMMARY|FUZZ_ASSERT|runtime error' "$log" | head -n 5
		fi
		continue
	fi
	why=""
	files=$(find "$corpus" -type f | wc -l)
	if [ "$files" -gt 0 ]; then
		find "$corpus" -type f -print0 |
			xargs -0 "$t" -timeout=10 >"$log" 2>&1 ||
			why="a corpus file fails"
	fi
	if [ -z "$why" ]; then
		mkdir -p "$tmp/$name"
		nice -n 19 "$t" -max_total_time="$check_seconds" -timeout=10 \
			-print_final_stats=1 -artifact_prefix="$crashes/" \
			"$tmp/$name" "$corpus" >"$log" 2>&1 ||
			why="fuzzing found a crash (see $crashes/)"
	fi
	if [ -n "$why" ]; then
		echo "FAIL $name: $why"
		grep -E 'ERROR|SUMMARY|FUZZ_ASSERT|runtime error|Running:' "$log" |
			tail -n 6
		failed=$((failed + 1))
	else
		figures "$log"
		echo "PASS $name ($files corpus files, ${check_seconds}s: $eps exec/s, $cov edges)"
		passed=$((passed + 1))
	fi
done
if [ -n "$long" ]; then
	echo
	echo "make fuzz: ${long}s per target"
	printf '%-16s %10s %8s %8s\n' target exec/s edges crashes
	printf '%s' "$table"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
