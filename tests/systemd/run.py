#!/usr/bin/python3
"""run.py - the systemd lab tests: skyha as installed, in booted Debian 12 containers.

Discovers tests/systemd/test_*.py and runs every function named test_<behaviour> in
file order, each with a fresh SystemdLab (tests/lab/nspawn.py: three containers with
systemd as PID 1, on the lab's bridge) that is always torn down. Options for the lab
come from @lab_options(...) (tests/lab/lab.py), e.g. install="deb".

Output: `PASS name (12.3 s)` or `FAIL name: reason` with the traceback and the tail of
every container's journal; then exactly `N passed, N failed`. Exit code 0 iff none
failed. The Debian tree is made once per machine under /var/cache/skyha-lab/.

    sudo /usr/bin/python3 tests/systemd/run.py [-k SUBSTRING] [--keep]

Needs root, debootstrap and systemd-container (`make deps`), and `make` (`make deb`
for the tests that install the package).
"""

import argparse
import importlib.util
import os
import signal
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(HERE, "..", "lab"))

import lab as lablib  # noqa: E402
import nspawn  # noqa: E402

TEST_TIME_LIMIT_S = 240


class TestTimeout(Exception):
    pass


def _alarm(_signum, _frame):
    raise TestTimeout(f"test still running after {TEST_TIME_LIMIT_S} s")


def discover(selector):
    tests = []
    for fname in sorted(os.listdir(HERE)):
        if not (fname.startswith("test_") and fname.endswith(".py")):
            continue
        spec = importlib.util.spec_from_file_location(fname[:-3], os.path.join(HERE, fname))
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        for name, fn in vars(module).items():
            if name.startswith("test_") and callable(fn) and (not selector or selector in name):
                tests.append((name, fn))
    return tests


def run_one(name, fn, args):
    options = dict(getattr(fn, "lab_options", {}))
    lab_class = options.pop("lab_class", nspawn.SystemdLab)
    started = time.monotonic()
    failure = None
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
    except BaseException as exc:
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
    try:
        lab.dump_logs()
    except Exception as exc:  # the journal is a help, never the failure
        print(f"    (no journal: {exc})")
    if args.keep and lab.dir:
        print(f"    (lab files kept in {lab.dir})")
    lab.close()
    sys.stdout.flush()
    return False


def main():
    parser = argparse.ArgumentParser(description="skyha in booted systemd containers")
    parser.add_argument("-k", dest="selector", default="")
    parser.add_argument("--keep", action="store_true",
                        help="keep each lab's directory (layer, uppers, nspawn logs)")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("run.py: the systemd lab boots containers and needs root", file=sys.stderr)
        return 1
    stale = lablib.cleanup_stale()
    nspawn.cleanup_stale_cgroups()
    if stale:
        print(f"removed {len(stale)} namespaces left by an earlier run")
    tests = discover(args.selector)
    if not tests:
        print(f"run.py: no test name contains {args.selector!r}", file=sys.stderr)
        return 1
    started = time.monotonic()
    try:
        nspawn.ensure_tree()
    except lablib.LabError as exc:
        print(f"FAIL systemd_lab_tree: {exc}")
        print(f"0 passed, {len(tests)} failed")
        return 1
    print(f"tree ready in {time.monotonic() - started:.1f} s", flush=True)
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
