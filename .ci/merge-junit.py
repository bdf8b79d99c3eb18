#!/usr/bin/env python3
"""Merge the JUnit reports of a sharded xtf-runner matrix and fail on unexpected results.

usage: merge-junit.py [-o MERGED.xml] DIR|FILE...

Each DIR is searched for files named junit.xml (a nightly job's artifact: junit.xml, an optional
expect.txt, logs/); a FILE is taken as it is. A report's *job* is the name of its directory, e.g.
fep-on.xsa-106.shard-2-of-4; its *configuration* is the job name without the .shard-K-of-N
suffix. A testcase's result is read as xtf-runner writes it (Xtf.Core/Testing/Reports/
JUnitReport.cs): <failure> FAILURE, <error type="ERROR|CRASH"> ERROR or CRASH, <skipped> SKIP,
none of them SUCCESS.

What each instance must end with: what expect.txt beside the report lists (xtf-runner --expect's
format: "<instance id> <RESULT>" per line, '#' starts a comment), else SUCCESS, where SKIP is
tolerated (a production Xen without hvm_fep skips what needs the emulator; JUnit counts a skip as
no failure). The run fails (exit 1) on:
  - a result other than the expected one (a listed FAILURE that passes is an unexpected pass);
  - an instance that ran in two shards of one configuration;
  - a configuration with a shard K of N missing;
  - a listed instance that ran in no shard of its (complete) configuration.
Bad input (no report found, unreadable XML, a malformed expect line) is one "Error: ..." line on
stderr and exit 2.

The merged report (-o) has every input testsuite, renamed to its job, and each testcase's
classname prefixed with its configuration, so one instance in several configurations stays
distinct; the testsuites totals are recomputed.
"""

import argparse
import os
import re
import sys
import xml.etree.ElementTree as ET

RESULTS = ("SUCCESS", "SKIP", "ERROR", "FAILURE", "CRASH")
SHARD = re.compile(r"^(?P<config>.*)\.shard-(?P<k>\d+)-of-(?P<n>\d+)$")


class InputError(Exception):
    """Bad input: reported as one Error: line, exit 2."""


def find_reports(paths):
    reports = []
    for path in paths:
        if os.path.isdir(path):
            for root, _dirs, files in os.walk(path):
                if "junit.xml" in files:
                    reports.append(os.path.join(root, "junit.xml"))
        elif os.path.isfile(path):
            reports.append(path)
        else:
            raise InputError(f"no such file or directory: '{path}'")
    if not reports:
        raise InputError("no junit.xml found in " + ", ".join(f"'{p}'" for p in paths))
    return sorted(reports)


def read_expect(path):
    expected = {}
    if not os.path.isfile(path):
        return expected
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            fields = line.split("#", 1)[0].split()
            if not fields:
                continue
            if len(fields) != 2 or fields[1] not in RESULTS:
                raise InputError(f"{path}:{n}: expected '<instance id> <RESULT>', not '{line.strip()}'")
            if fields[0] in expected:
                raise InputError(f"{path}:{n}: '{fields[0]}' is listed twice")
            expected[fields[0]] = fields[1]
    return expected


def result_of(testcase):
    if testcase.find("failure") is not None:
        return "FAILURE"
    error = testcase.find("error")
    if error is not None:
        kind = error.get("type", "ERROR")
        return kind if kind in ("ERROR", "CRASH") else "ERROR"
    if testcase.find("skipped") is not None:
        return "SKIP"
    return "SUCCESS"


def job_of(report):
    name = os.path.basename(os.path.dirname(os.path.abspath(report)))
    m = SHARD.match(name)
    if m:
        return name, m.group("config"), (int(m.group("k")), int(m.group("n")))
    return name, name, None


def merge(paths, output=None, out=sys.stdout):
    """Returns the list of problems (empty when the matrix is as expected)."""
    problems = []
    merged = ET.Element("testsuites", name="xtf")
    configs = {}  # config -> {"shards": {k: n}, "ran": {id: job}, "expected": {id: result}}
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0, "time": 0.0}

    for report in find_reports(paths):
        try:
            root = ET.parse(report).getroot()
        except (ET.ParseError, OSError) as e:
            raise InputError(f"cannot read '{report}': {e}") from e
        suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
        if root.tag not in ("testsuite", "testsuites"):
            raise InputError(f"'{report}' is not a JUnit report (root <{root.tag}>)")

        job, config, shard = job_of(report)
        c = configs.setdefault(config, {"shards": {}, "ran": {}, "expected": {}})
        if shard:
            k, n = shard
            if k in c["shards"]:
                problems.append(f"{config}: shard {k} reported twice")
            c["shards"][k] = n
        expected = read_expect(os.path.join(os.path.dirname(report), "expect.txt"))
        c["expected"].update(expected)

        counts = {"SUCCESS": 0, "SKIP": 0, "ERROR": 0, "FAILURE": 0, "CRASH": 0}
        for suite in suites:
            suite.set("name", job)
            for case in suite.findall("testcase"):
                iid = case.get("name", "")
                result = result_of(case)
                counts[result] += 1
                case.set("classname", f"{config}.{case.get('classname', '')}")
                if iid in c["ran"]:
                    problems.append(f"{config}: {iid} ran in both {c['ran'][iid]} and {job}")
                c["ran"][iid] = job
                want = expected.get(iid)
                if want is None:
                    if result not in ("SUCCESS", "SKIP"):
                        problems.append(f"{job}: {iid} {result}, expected SUCCESS")
                elif result != want:
                    what = "unexpected pass" if result == "SUCCESS" else f"expected {want}"
                    problems.append(f"{job}: {iid} {result}, {what}")
            merged.append(suite)
            totals["time"] += float(suite.get("time", "0") or 0)

        totals["tests"] += sum(counts.values())
        totals["failures"] += counts["FAILURE"]
        totals["errors"] += counts["ERROR"] + counts["CRASH"]
        totals["skipped"] += counts["SKIP"]
        print(f"{job}: {counts['SUCCESS']} SUCCESS, {counts['SKIP']} SKIP, {counts['ERROR']} ERROR, "
              f"{counts['FAILURE']} FAILURE, {counts['CRASH']} CRASH", file=out)

    for config, c in sorted(configs.items()):
        if not c["shards"]:
            complete = True
        else:
            counts = set(c["shards"].values())
            n = max(counts)
            missing = [k for k in range(1, n + 1) if k not in c["shards"]]
            if len(counts) > 1:
                problems.append(f"{config}: shards of different counts {sorted(counts)}")
            for k in missing:
                problems.append(f"{config}: shard {k} of {n} is missing")
            complete = not missing
        if complete:
            for iid in sorted(set(c["expected"]) - set(c["ran"])):
                problems.append(f"{config}: {iid} is expected {c['expected'][iid]} but ran in no shard")

    for key in ("tests", "failures", "errors", "skipped"):
        merged.set(key, str(totals[key]))
    merged.set("time", f"{totals['time']:.3f}")
    if output:
        ET.indent(merged)
        ET.ElementTree(merged).write(output, encoding="utf-8", xml_declaration=True)
    return problems


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("-o", "--output", help="write the merged JUnit report here")
    parser.add_argument("inputs", nargs="+", metavar="DIR|FILE")
    args = parser.parse_args(argv)
    try:
        problems = merge(args.inputs, args.output)
    except InputError as e:
        print(f"Error: {e}", file=sys.stderr)
        return 2
    for p in problems:
        print(f"UNEXPECTED: {p}")
    print(f"{len(problems)} unexpected" if problems else "every result as expected")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
