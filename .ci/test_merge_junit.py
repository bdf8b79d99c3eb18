#!/usr/bin/env python3
"""Tests of merge-junit.py: python3 -m unittest discover -s .ci -p 'test_*.py'.

The reports are written here in the shape the JUnit format (testsuites/testsuite/testcase with
failure, error or skipped) and xtf-runner's --junit give them; the expectations in --expect's
"<instance id> <RESULT>" format.
"""

import importlib.util
import io
import os
import subprocess
import sys
import tempfile
import unittest
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(HERE, "merge-junit.py")
_spec = importlib.util.spec_from_file_location("merge_junit", SCRIPT)
merge_junit = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(merge_junit)

ELEMENT = {"FAILURE": '<failure message="FAILURE" type="FAILURE"/>',
           "ERROR": '<error message="ERROR" type="ERROR"/>',
           "CRASH": '<error message="CRASH: budget" type="CRASH"/>',
           "SKIP": '<skipped message="SKIP"/>',
           "SUCCESS": ""}


def junit(results):
    cases = "".join(
        f'<testcase name="{iid}" classname="xsa.t" time="0.1">{ELEMENT[r]}<system-out>log</system-out></testcase>'
        for iid, r in results.items())
    return (f'<?xml version="1.0" encoding="utf-8"?><testsuites name="xtf" tests="{len(results)}">'
            f'<testsuite name="xtf" tests="{len(results)}" time="0.5">{cases}</testsuite></testsuites>')


class MergeJUnitTests(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.root = self.tmp.name

    def tearDown(self):
        self.tmp.cleanup()

    def job(self, name, results, expect=None):
        d = os.path.join(self.root, name)
        os.makedirs(d)
        with open(os.path.join(d, "junit.xml"), "w", encoding="utf-8") as f:
            f.write(junit(results))
        if expect is not None:
            with open(os.path.join(d, "expect.txt"), "w", encoding="utf-8") as f:
                f.write(expect)

    def merge(self, output=None):
        return merge_junit.merge([self.root], output, out=io.StringIO())

    def test_shards_as_expected_merge_into_one_report(self):
        self.job("fep-on.none.shard-1-of-2", {"test-hvm32-a": "SUCCESS", "test-hvm64-a": "SUCCESS"})
        self.job("fep-on.none.shard-2-of-2", {"test-hvm32-b": "SUCCESS"})
        out = os.path.join(self.root, "merged.xml")
        self.assertEqual(self.merge(out), [])
        root = ET.parse(out).getroot()
        self.assertEqual(root.tag, "testsuites")
        self.assertEqual(root.get("tests"), "3")
        self.assertEqual(sorted(s.get("name") for s in root.findall("testsuite")),
                         ["fep-on.none.shard-1-of-2", "fep-on.none.shard-2-of-2"])
        self.assertEqual({c.get("classname") for c in root.iter("testcase")}, {"fep-on.none.xsa.t"})

    def test_a_failure_nobody_expected_is_unexpected(self):
        self.job("fep-on.none.shard-1-of-1", {"test-hvm32-a": "FAILURE", "test-hvm32-b": "CRASH"})
        self.assertEqual(self.merge(), [
            "fep-on.none.shard-1-of-1: test-hvm32-a FAILURE, expected SUCCESS",
            "fep-on.none.shard-1-of-1: test-hvm32-b CRASH, expected SUCCESS",
        ])

    def test_a_skip_is_tolerated_unless_another_result_is_listed(self):
        self.job("fep-off.none.shard-1-of-1", {"test-hvm32-a": "SKIP"})
        self.job("fep-on.q.shard-1-of-1", {"test-hvm32-a": "SKIP"}, "test-hvm32-a FAILURE\n")
        self.assertEqual(self.merge(), ["fep-on.q.shard-1-of-1: test-hvm32-a SKIP, expected FAILURE"])

    def test_listed_results_are_expected_and_a_listed_failure_that_passes_is_unexpected(self):
        self.job("fep-on.q.shard-1-of-2", {"test-hvm32-a": "FAILURE", "test-hvm64-c": "CRASH"},
                 "# comment\ntest-hvm32-a FAILURE\ntest-hvm64-c CRASH  # known\ntest-hvm64-b FAILURE\n")
        self.job("fep-on.q.shard-2-of-2", {"test-hvm64-b": "SUCCESS"},
                 "test-hvm32-a FAILURE\ntest-hvm64-c CRASH\ntest-hvm64-b FAILURE\n")
        self.assertEqual(self.merge(), ["fep-on.q.shard-2-of-2: test-hvm64-b SUCCESS, unexpected pass"])

    def test_an_instance_in_two_shards_is_reported(self):
        self.job("fep-on.none.shard-1-of-2", {"test-hvm32-a": "SUCCESS"})
        self.job("fep-on.none.shard-2-of-2", {"test-hvm32-a": "SUCCESS"})
        self.assertEqual(self.merge(), [
            "fep-on.none: test-hvm32-a ran in both fep-on.none.shard-1-of-2 and fep-on.none.shard-2-of-2"])

    def test_a_missing_shard_is_reported(self):
        self.job("fep-on.none.shard-1-of-3", {"test-hvm32-a": "SUCCESS"})
        self.job("fep-on.none.shard-3-of-3", {"test-hvm32-b": "SUCCESS"})
        self.assertEqual(self.merge(), ["fep-on.none: shard 2 of 3 is missing"])

    def test_an_expected_instance_that_never_ran_is_reported(self):
        self.job("fep-on.q.shard-1-of-1", {"test-hvm32-a": "FAILURE"}, "test-hvm32-a FAILURE\ntest-pv64-z FAILURE\n")
        self.assertEqual(self.merge(), ["fep-on.q: test-pv64-z is expected FAILURE but ran in no shard"])

    def run_script(self, *args):
        return subprocess.run([sys.executable, SCRIPT, *args], capture_output=True, text=True, check=False)

    def test_exit_codes_and_error_line(self):
        self.job("fep-on.none.shard-1-of-1", {"test-hvm32-a": "SUCCESS"})
        self.assertEqual(self.run_script(self.root).returncode, 0)
        self.job("fep-off.none.shard-1-of-1", {"test-hvm32-a": "ERROR"})
        failed = self.run_script(self.root)
        self.assertEqual(failed.returncode, 1)
        self.assertIn("UNEXPECTED: fep-off.none.shard-1-of-1: test-hvm32-a ERROR, expected SUCCESS", failed.stdout)

    def test_bad_input_is_one_error_line_and_exit_2(self):
        os.makedirs(os.path.join(self.root, "broken"))
        with open(os.path.join(self.root, "broken", "junit.xml"), "w", encoding="utf-8") as f:
            f.write("<testsuites><testsuite>")
        for args in ([self.root], [os.path.join(self.root, "nothing-here")]):
            r = self.run_script(*args)
            self.assertEqual(r.returncode, 2, r.stderr)
            self.assertEqual(len(r.stderr.splitlines()), 1, r.stderr)
            self.assertTrue(r.stderr.startswith("Error: "), r.stderr)

    def test_a_malformed_expect_line_is_bad_input(self):
        self.job("fep-on.q.shard-1-of-1", {"test-hvm32-a": "FAILURE"}, "test-hvm32-a FAILED\n")
        r = self.run_script(self.root)
        self.assertEqual(r.returncode, 2)
        self.assertIn("expect.txt:1: expected '<instance id> <RESULT>'", r.stderr)


if __name__ == "__main__":
    unittest.main()
