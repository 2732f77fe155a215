#!/bin/sh
# make lint: formatting (clang-format, check mode), static analysis
# (cppcheck), and a curl-style ban on unbounded string functions.
set -u
cd "$(dirname "$0")/.."
status=0 banned_failed=0 format_failed=0 cppcheck_failed=0
files=$(git ls-files '*.c' '*.h' 2>/dev/null || find shared heartbeatd ctl tests -name '*.[ch]')

echo "== banned functions (sprintf strcpy strcat gets atoi atol vsprintf)"
if grep -nE '\b(sprintf|vsprintf|strcpy|strcat|gets|atoi|atol)[[:space:]]*\(' $files; then
	echo "lint: use snprintf / sky_strlcpy / sky_parse_i64 instead"
	status=1
	banned_failed=1
fi

echo "== clang-format --dry-run"
if command -v clang-format >/dev/null; then
	clang-format --dry-run --Werror $files || { status=1; format_failed=1; }
else
	echo "lint: clang-format not installed (apt-get install clang-format)"; status=1; format_failed=1
fi

echo "== cppcheck"
if command -v cppcheck >/dev/null; then
	cppcheck -q --error-exitcode=1 --enable=warning,portability,performance \
		--std=c11 --inline-suppr -D_GNU_SOURCE -Ishared -Iheartbeatd -Ictl \
		--suppress=missingIncludeSystem $(ls -d */main.c | sed "s|/main.c||" | tr "\n" " ") shared tools/wanem ||
		{ status=1; cppcheck_failed=1; }
else
	echo "lint: cppcheck not installed (apt-get install cppcheck)"; status=1; cppcheck_failed=1
fi
[ $status -eq 0 ] && echo "lint: clean"
# The closing line tests/run-all.sh reads: the three checks above.
checks_failed=$((banned_failed + format_failed + cppcheck_failed))
echo "$((3 - checks_failed)) passed, $checks_failed failed"
exit $status
