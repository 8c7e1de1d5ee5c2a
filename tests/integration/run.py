#!/usr/bin/env python3
"""Integration test runner for roost.

Discovers test_*.py in the folders named after src/ layers (imap/, store/,
net/, auth/, cli/, config/) and in clients/ (real mail clients), runs them against the binary named by ROOST_BIN
(default build/roost), prints unittest's report and then, as its last line,
exactly "N passed, N failed, N skipped". Exit status 0 when nothing failed.

    tests/integration/run.py                    # everything
    tests/integration/run.py -k starttls        # tests whose name matches
    tests/integration/run.py imap net           # layer folders
    tests/integration/run.py imap.test_login    # one module (or Class, test)
    ROOST_BIN=build-asan/roost tests/integration/run.py -q

Errors (exceptions, failed setUpClass/tearDownClass) count as failures;
unexpected successes too.
"""

import argparse
import os
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
LAYERS = ("imap", "store", "net", "auth", "cli", "config", "limits", "metrics", "lmtp", "clients",
          "bench")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("names", nargs="*", help="test modules/classes/methods, e.g. imap.test_login")
    ap.add_argument("-k", dest="patterns", action="append", default=None,
                    help="only run tests matching this substring (repeatable)")
    ap.add_argument("-q", "--quiet", action="store_true", help="one dot per test")
    ap.add_argument("-x", "--failfast", action="store_true", help="stop at the first failure")
    args = ap.parse_args()

    sys.path.insert(0, HERE)
    import harness  # noqa: E402  (needs the path above)

    binary = harness.roost_bin()
    if not os.access(binary, os.X_OK):
        print(f"run.py: roost binary not found: {binary} (set ROOST_BIN or build first)")
        print("0 passed, 1 failed, 0 skipped")
        return 1

    loader = unittest.TestLoader()
    if args.patterns:
        loader.testNamePatterns = [f"*{p}*" for p in args.patterns]
    suite = unittest.TestSuite()
    for name in args.names or LAYERS:
        folder = os.path.join(HERE, name.rstrip("/"))
        if os.path.isdir(folder):      # a layer folder: everything in it
            suite.addTests(loader.discover(folder, pattern="test_*.py", top_level_dir=HERE))
        elif not args.names:           # a layer with no tests (yet)
            continue
        else:
            suite.addTests(loader.loadTestsFromName(name))

    print(f"roost integration tests: {binary}", flush=True)
    runner = unittest.TextTestRunner(stream=sys.stdout, verbosity=1 if args.quiet else 2,
                                     failfast=args.failfast)
    start = time.monotonic()
    result = runner.run(suite)
    skipped = len(result.skipped)
    # A test can appear twice (fails, then its tearDown errors); errors in
    # setUpClass/tearDownClass are not tests (not in testsRun) but count as
    # one failure each.
    bad_tests = set()
    fixture_errors = 0
    for test, _ in result.failures + result.errors:
        if isinstance(test, unittest.TestCase):
            bad_tests.add(test.id())
        else:
            fixture_errors += 1
    bad_tests.update(t.id() for t in result.unexpectedSuccesses)
    failed = len(bad_tests) + fixture_errors
    passed = max(0, result.testsRun - skipped - len(bad_tests))
    for name in sorted(bad_tests) + [str(t) for t, _ in result.failures + result.errors
                                     if not isinstance(t, unittest.TestCase)]:
        print(f"failed: {name}")
    print(f"integration: {time.monotonic() - start:.1f} s")
    print(f"{passed} passed, {failed} failed, {skipped} skipped", flush=True)
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
