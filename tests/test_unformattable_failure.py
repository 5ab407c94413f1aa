"""The project's `pytest_runtest_makereport` wrapper: a failure whose traceback pytest cannot format
is reported as a failure of that test (the run goes on), not an INTERNALERROR."""

from __future__ import annotations

import pytest
from _pytest.runner import CallInfo

import conftest


def _boom() -> None:
    raise TimeoutError("Timeout (>300.0s) from pytest-timeout.")


def test_a_failure_pytest_cannot_format_becomes_a_plain_failed_report(request) -> None:
    call = CallInfo.from_call(_boom, when="call")
    hook = conftest.pytest_runtest_makereport(request.node, call)
    next(hook)
    with pytest.raises(StopIteration) as stop:
        hook.throw(TypeError("unsupported operand type(s) for -: 'NoneType' and 'int'"))
    report = stop.value.value
    assert report.failed and report.when == "call"
    assert report.nodeid == request.node.nodeid
    assert "TimeoutError: Timeout (>300.0s) from pytest-timeout." in report.longreprtext
    assert "in _boom" in report.longreprtext


def test_other_errors_and_passing_calls_are_left_alone(request) -> None:
    passed = CallInfo.from_call(lambda: None, when="call")
    hook = conftest.pytest_runtest_makereport(request.node, passed)
    next(hook)
    with pytest.raises(TypeError):  # nothing failed: not ours to hide
        hook.throw(TypeError("a bug elsewhere"))
    hook = conftest.pytest_runtest_makereport(request.node, passed)
    next(hook)
    with pytest.raises(StopIteration) as stop:
        hook.send("the inner report")
    assert stop.value.value == "the inner report"
