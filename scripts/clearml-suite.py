# pytest plugin for scripts/clearml-suite: runs clearml-server's own automated API tests
# (apiserver/tests/automated, unchanged) against a Runyard server.
#
# The tests build their clients with base_url "http://localhost:8008/v<version>"; this plugin
# points every such client at RUNYARD_SUITE_API_URL instead (the key pair comes from the
# generated config dir, CLEARML_CONFIG_DIR/apiclient.conf). It also applies the skip list
# (RUNYARD_SUITE_SKIP_FILE: one test id per line, `file.py[::Class[::test]]  # reason`),
# writes one JSON line per test to RUNYARD_SUITE_RESULTS, and prints passed/failed/skipped per
# file with a total.
import contextlib
import io
import json
import os
import re
from collections import OrderedDict, defaultdict

import pytest

_TEST_HOST = "http://localhost:8008"
_API_URL = os.environ["RUNYARD_SUITE_API_URL"].rstrip("/")


def _patch_api_client():
    # apiserver.config prints every config file it loads; keep that out of the report.
    with contextlib.redirect_stdout(io.StringIO()):
        from apiserver.tests import api_client

    original_init = api_client.APIClient.__init__
    if getattr(original_init, "_runyard_patched", False):
        return

    def __init__(self, *args, base_url=None, **kwargs):
        if base_url and base_url.startswith(_TEST_HOST):
            base_url = _API_URL + base_url[len(_TEST_HOST):]
        original_init(self, *args, base_url=base_url, **kwargs)

    __init__._runyard_patched = True
    api_client.APIClient.__init__ = __init__

    # Every call a test makes, so that a failure's results.jsonl line shows the last requests.
    original_send = api_client.APIClient.send

    def send(self, endpoint, data=None, *args, **kwargs):
        __tracebackhide__ = True
        entry = {"endpoint": endpoint, "request": _clip(data)}
        _calls.append(entry)
        try:
            res, out = original_send(self, endpoint, data, *args, **kwargs)
        except api_client.APIError as e:
            meta = e.result.meta
            entry["result"] = f"{meta.result_code}/{meta.result_subcode} {meta.result_msg}"
            raise
        entry["result"] = f"{res.meta.result_code}/{res.meta.result_subcode}"
        entry["response"] = _clip(res.data)
        return res, out

    api_client.APIClient.send = send


_calls = []


def _clip(value, limit=600):
    if value is None:
        return None
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= limit else text[:limit] + "..."


_patch_api_client()


def _short_id(nodeid: str) -> str:
    """test_queues.py::TestQueues::test_x, whatever directory pytest was started from"""
    path, sep, rest = nodeid.partition("::")
    return os.path.basename(path) + sep + rest


def _read_skip_list(path):
    entries = OrderedDict()
    if not path or not os.path.isfile(path):
        return entries
    with open(path) as f:
        for line in f:
            test_id, _, reason = line.partition("#")
            test_id = test_id.strip()
            if test_id:
                entries[test_id] = reason.strip() or "in the skip list"
    return entries


_skip_list = _read_skip_list(os.environ.get("RUNYARD_SUITE_SKIP_FILE"))
_used_skips = set()
_outcomes = OrderedDict()  # short id -> (outcome, message)


_collected_files = set()


def pytest_collection_modifyitems(session, config, items):
    for item in items:
        short = _short_id(item.nodeid)
        _collected_files.add(short.split("::")[0])
        for entry, reason in _skip_list.items():
            if short == entry or short.startswith(entry + "::"):
                _used_skips.add(entry)
                item.add_marker(pytest.mark.skip(reason=f"skip.txt: {reason}"))
                break


def _message(report) -> str:
    crash = getattr(report.longrepr, "reprcrash", None)
    if crash is not None:
        text = crash.message
    elif isinstance(report.longrepr, tuple):  # a skip: (file, line, reason)
        text = str(report.longrepr[2])
    else:
        text = str(report.longrepr or "")
    # APIError messages carry a server error stack; keep the first lines.
    text = "\n".join(text.splitlines()[:6])
    return re.sub(r"\s+", " ", text).strip()[:1500]


_last_calls = {}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    # setUp, the test and tearDown all run here for unittest classes; the cleanup calls at the
    # end (tearDown's deferred deletes) are left out of what a failure shows.
    _calls.clear()
    yield
    _last_calls[_short_id(item.nodeid)] = list(_calls)
    _calls.clear()


def _calls_before_failure(short):
    """The last calls before tearDown's clean-up began"""
    calls = _last_calls.get(short) or []
    cut = next((i for i, c in enumerate(calls) if c.get("teardown")), len(calls))
    return [c for c in calls[max(0, cut - 4):cut]]


def _patch_teardown():
    from apiserver.tests.automated import TestService

    original = TestService.tearDown

    def tearDown(self):
        _calls.append({"teardown": True})
        original(self)

    TestService.tearDown = tearDown


_patch_teardown()


def pytest_runtest_logreport(report):
    short = _short_id(report.nodeid)
    previous = _outcomes.get(short)
    if report.failed:
        phase = "" if report.when == "call" else f" (in {report.when})"
        if previous and previous[0] == "failed":
            return  # keep the first failure (a teardown failure after a call failure)
        _outcomes[short] = ("failed", _message(report) + phase)
    elif report.skipped:
        if not previous:
            _outcomes[short] = ("skipped", _message(report))
    elif report.when == "call" and not previous:
        _outcomes[short] = ("passed", "")


def pytest_collectreport(report):
    if report.failed:
        _outcomes[_short_id(report.nodeid) or report.nodeid] = (
            "failed",
            "collection error: " + _message(report),
        )


def pytest_sessionfinish(session, exitstatus):
    path = os.environ.get("RUNYARD_SUITE_RESULTS")
    if not path:
        return
    with open(path, "w") as f:
        for test_id, (outcome, message) in _outcomes.items():
            line = {"test": test_id, "outcome": outcome, "message": message}
            if outcome == "failed":
                line["calls"] = _calls_before_failure(test_id)
            f.write(json.dumps(line) + "\n")


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    tr = terminalreporter
    per_file = defaultdict(lambda: {"passed": 0, "failed": 0, "skipped": 0})
    for test_id, (outcome, _) in _outcomes.items():
        per_file[test_id.split("::")[0]][outcome] += 1

    failures = [(t, m) for t, (o, m) in _outcomes.items() if o == "failed"]
    if failures:
        tr.write_sep("=", "failures, first line of each")
        for test_id, message in failures:
            tr.write_line(f"FAILED {test_id}: {message[:400]}")

    unused = [
        e for e in _skip_list if e not in _used_skips and e.split("::")[0] in _collected_files
    ]
    if unused:
        tr.write_sep("=", "skip list entries that matched no collected test")
        for entry in unused:
            tr.write_line(entry)

    tr.write_sep("=", "clearml-server automated tests against Runyard")
    tr.write_line("file: passed/failed/skipped")
    total = {"passed": 0, "failed": 0, "skipped": 0}
    for name in sorted(per_file):
        counts = per_file[name]
        for k in total:
            total[k] += counts[k]
        tr.write_line(f"{name}: {counts['passed']}/{counts['failed']}/{counts['skipped']}")
    tr.write_line(f"total: {total['passed']}/{total['failed']}/{total['skipped']}")
