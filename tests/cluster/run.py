#!/usr/bin/python3
"""run.py - the cluster test runner: whole skyha nodes in network namespaces.

Discovers tests/cluster/test_*.py and runs every function named test_<behaviour> in
file order, each with a fresh Lab (tests/lab/lab.py) that is always torn down. A test
gets the lab as its only argument; options for the lab (timings, network count) come
from the @lab_options(...) decorator of tests/lab/lab.py; `lab_class` among those options
names a Lab subclass to build instead (tests/lab/checkd_lab.py uses it).

Output: one line per test, `PASS name (3.2 s)` or `FAIL name: reason (3.2 s)` followed by
the traceback and the tail of every node's log, then exactly `N passed, N failed`.
Exit code 0 iff nothing failed.

    sudo /usr/bin/python3 tests/cluster/run.py [-k SUBSTRING] [--keep] [-v]

Needs root (namespaces) and build/heartbeatd, build/skyctl (`make`).
"""

import argparse
import re
import importlib.util
import os
import signal
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(HERE, "..", "lab"))

import lab as lablib  # noqa: E402

TEST_TIME_LIMIT_S = 120  # 240 with --long


class TestTimeout(Exception):
    pass


def _alarm(_signum, _frame):
    raise TestTimeout(f"test still running after {TEST_TIME_LIMIT_S} s")


def discover(selector):
    """[(name, function)] of every test, in file then definition order."""
    tests = []
    for fname in sorted(os.listdir(HERE)):
        if not (fname.startswith("test_") and fname.endswith(".py")):
            continue
        spec = importlib.util.spec_from_file_location(fname[:-3], os.path.join(HERE, fname))
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        for name, fn in vars(module).items():
            if name.startswith("test_") and callable(fn):
                if not selector or selector in name:
                    tests.append((name, fn))
    return tests


def run_one(name, fn, args):
    """Run one test in its own lab; return True if it passed."""
    options = dict(getattr(fn, "lab_options", {}))
    if args.verbose:
        options["verbose"] = True
    started = time.monotonic()
    failure = None
    # A test may ask for a Lab subclass (e.g. checkd_lab.CheckdLab) this way.
    lab_class = options.pop("lab_class", lablib.Lab)
    lab = lab_class(keep=args.keep, **options)
    try:
        signal.alarm(TEST_TIME_LIMIT_S)
        try:
            lab.setup()
            fn(lab)
        finally:
            signal.alarm(0)
    except KeyboardInterrupt:
        lab.close()
        raise
    except BaseException as exc:  # AssertionError, LabError, TestTimeout, SystemExit...
        failure = exc
        if isinstance(exc, SystemExit):
            lab.close()
            raise
    took = time.monotonic() - started
    if failure is None:
        lab.close()
        print(f"PASS {name} ({took:.1f} s)", flush=True)
        return True
    reason = (str(failure).strip() or type(failure).__name__).splitlines()[0]
    print(f"FAIL {name}: {reason} ({took:.1f} s)", flush=True)
    tb = traceback.format_exception(type(failure), failure, failure.__traceback__)
    for line in "".join(tb).rstrip().splitlines():
        print("    " + line)
    lab.dump_logs()
    if args.keep and lab.dir:
        print(f"    (lab files kept in {lab.dir})")
    lab.close()
    sys.stdout.flush()
    return False


def run_shards(args, total):
    """-j N: N children (run.py --shard i/N), each a share of the tests in its own
    labs; their outputs in turn at the end, then one closing line for them all."""
    import subprocess
    import tempfile
    jobs = min(args.jobs, total)
    argv = [sys.executable, os.path.abspath(__file__)]
    for flag, on in (("--long", args.long), ("--keep", args.keep), ("-v", args.verbose)):
        if on:
            argv.append(flag)
    if args.selector:
        argv += ["-k", args.selector]
    children = []
    for i in range(jobs):
        out = tempfile.TemporaryFile(mode="w+")
        children.append((subprocess.Popen(argv + ["--shard", f"{i}/{jobs}"], stdout=out,
                                          stderr=subprocess.STDOUT), out))
    print(f"{total} tests in {jobs} processes (run.py -j {jobs})", flush=True)
    passed = failed = 0
    for i, (proc, out) in enumerate(children):
        proc.wait()
        out.seek(0)
        closing = None
        for line in out:
            if re.match(r"^\d+ passed, \d+ failed$", line.strip()):
                closing = line.strip()
                continue
            sys.stdout.write(line)
        if closing:
            p, f = (int(x) for x in re.findall(r"\d+", closing))
            passed, failed = passed + p, failed + f
            print(f"(process {i + 1} of {jobs}: {closing})")
        else:
            failed += 1
            print(f"FAIL process {i + 1} of {jobs} printed no result (exit {proc.returncode})")
        sys.stdout.flush()
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


def main():
    parser = argparse.ArgumentParser(description="skyha cluster tests in network namespaces")
    parser.add_argument("-k", dest="selector", default="",
                        help="run only tests whose name contains this substring")
    parser.add_argument("--keep", action="store_true",
                        help="keep each lab's temp directory (config, logs, state)")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="start the daemons with -v (debug logs)")
    parser.add_argument("--long", action="store_true",
                        help="full sizes (more rounds, files, longer pauses) and the "
                             "@long_only tests too: make soak runs this")
    parser.add_argument("-j", dest="jobs", type=int, default=1,
                        help="run the tests in this many processes at once, each its "
                             "own labs (a share of the tests each, in file order); the "
                             "output of each comes at its end")
    parser.add_argument("--shard", default="", help=argparse.SUPPRESS)  # I/N, for -j
    args = parser.parse_args()
    if args.long:
        # Before discovery: test modules read their sizes when imported.
        global TEST_TIME_LIMIT_S
        os.environ["SKYHA_LONG_TESTS"] = "1"
        lablib.LONG = True
        TEST_TIME_LIMIT_S = 240

    if os.geteuid() != 0:
        print("run.py: the cluster tests build network namespaces and need root; "
              "run them as root (e.g. sudo make cluster).", file=sys.stderr)
        return 1
    missing = [p for p in (lablib.HEARTBEATD, lablib.SKYCTL) if not os.access(p, os.X_OK)]
    if missing:
        print(f"run.py: {', '.join(missing)} not found: run `make` first.", file=sys.stderr)
        return 1

    stale = lablib.cleanup_stale()
    if stale:
        print(f"removed {len(stale)} namespaces left by an earlier run")
    found = discover(args.selector)
    tests = [(name, fn) for name, fn in found
             if args.long or not getattr(fn, "long_only", False)]
    if not tests:
        why = ("only @long_only tests match: add --long" if found
               else f"no test name contains {args.selector!r}")
        print(f"run.py: {why}", file=sys.stderr)
        return 1

    if args.jobs > 1:
        return run_shards(args, len(tests))
    if args.shard:
        index, count = (int(x) for x in args.shard.split("/"))
        tests = tests[index::count]

    signal.signal(signal.SIGALRM, _alarm)
    passed = failed = 0
    for name, fn in tests:
        if run_one(name, fn, args):
            passed += 1
        else:
            failed += 1
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("\ninterrupted: labs cleaned up", file=sys.stderr)
        sys.exit(130)
