"""_common.py - what the benches share: progress lines, percentiles, waiting.

Not a bench itself (`make bench` skips files starting with "_"). Imported as
`import _common` by the benches next to it.
"""

import math
import statistics
import time


def say(text):
    """A progress line."""
    print(f"==> {text}", flush=True)


def percentile(values, p):
    """Nearest-rank percentile (p in 0..100) of a non-empty list."""
    ordered = sorted(values)
    return ordered[max(1, math.ceil(p / 100.0 * len(ordered))) - 1]


def summary(values, baseline_ms=None):
    """Median, p95, min and max of values in ms; with baseline_ms, the median
    and p95 as ratios of it too."""
    s = {"runs": len(values), "median_ms": statistics.median(values),
         "p95_ms": percentile(values, 95), "max_ms": max(values), "min_ms": min(values)}
    if baseline_ms:
        s["median_ratio"] = s["median_ms"] / baseline_ms
        s["p95_ratio"] = s["p95_ms"] / baseline_ms
    return s


def wait(what, predicate, limit, poll_s, error=RuntimeError):
    """Poll predicate until it returns something true; (monotonic time, value).
    Raises error(what ... not seen) after limit seconds."""
    deadline = time.monotonic() + limit
    while True:
        v = predicate()
        if v:
            return time.monotonic(), v
        if time.monotonic() > deadline:
            raise error(f"{what} not seen within {limit} s")
        time.sleep(poll_s)
