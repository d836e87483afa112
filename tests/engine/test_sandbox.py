"""The sandbox diagrams' code runs in (engine.sandbox), without a database: what legitimate
conditions and scripts still do, and each limit from both sides (just under it runs, over it is
refused with a clear message in both languages). The attacks, through deploy and running cases on
both databases, are in test_sandbox_attacks.py."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from engine import sandbox
from engine.sandbox import SandboxEnvironment, ScriptRefused

ENV = SandboxEnvironment()


def run(script: str, **data: Any) -> dict[str, Any]:
    """Run ``script`` as a script task would: on the task data, which it may change."""
    ENV.execute(script, data)
    return data


def refused(source: str, kind: str, *, mode: str = "exec", **data: Any) -> ScriptRefused:
    with pytest.raises(ScriptRefused) as caught:
        if mode == "eval":
            ENV.evaluate(source, data)
        else:
            ENV.execute(source, data)
    assert caught.value.kind == kind, caught.value.message_en
    assert caught.value.message_zh and caught.value.message_en
    return caught.value


# -- what diagrams legitimately do ------------------------------------------------------------------------------

def test_conditions_read_task_data_and_the_domain_functions():
    assert ENV.evaluate('verify_decision == "销号"', {"verify_decision": "销号"}) is True
    assert ENV.evaluate("needs_review == False and len(items) > 1", {"needs_review": False, "items": [1, 2]})
    assert ENV.evaluate("datetime.date(2026, 12, 1).isoformat()", {}) == "2026-12-01"
    assert ENV.evaluate("isinstance(x, str) and str(5) == '5'", {"x": "a"}) is True
    assert ENV.evaluate("datetime.datetime.strptime(d, '%Y-%m-%d').strftime('%Y年%m月')", {"d": "2026-12-01"}) \
        == "2026年12月"


def test_scripts_cannot_raise_what_would_pass_every_except_exception_and_end_the_worker():
    for name in ("SystemExit", "KeyboardInterrupt", "GeneratorExit", "BaseException"):
        with pytest.raises(NameError):
            run(f"raise {name}()")
    with pytest.raises(ValueError):
        run("raise ValueError('ordinary errors still work')")


def test_scripts_set_task_data_and_leave_no_helpers_behind():
    data = run("item_result = {'item_id': item['item_id'], 'done': item_completion}\n"
               "total = sum(n * 2 for n in numbers)\n"
               "names = sorted(set(w.upper() for w in words))\n"
               "label = f'{item[\"item_id\"]}-{total:>4}'\n"
               "def double(v):\n    return v * 2\n"
               "doubled = [double(n) for n in range(3)]\n"
               "i = 0\nwhile i < 10:\n    i += 1\n",
               item={"item_id": 7}, item_completion="完成", numbers=[1, 2, 3], words=["b", "a", "b"])
    assert data["item_result"] == {"item_id": 7, "done": "完成"}
    assert (data["total"], data["names"], data["label"], data["doubled"], data["i"]) == (12, ["A", "B"], "7-  12",
                                                                                      [0, 2, 4], 10)
    assert "double" not in data and "__builtins__" not in data and "_getattr_" not in data


def test_the_same_source_is_compiled_once():
    sandbox._compile.cache_clear()
    for n in range(50):
        ENV.evaluate("a > 1", {"a": n})
    info = sandbox._compile.cache_info()
    assert (info.misses, info.hits) == (1, 49)


def test_a_script_that_raises_its_own_error_still_raises_it():
    with pytest.raises(ZeroDivisionError):
        run("x = 1 / 0")
    with pytest.raises(NameError):
        ENV.evaluate("missing == 1", {})


# -- limits, from both sides ------------------------------------------------------------------------------------

def test_a_loop_that_ends_runs_and_one_that_does_not_is_stopped_at_the_time_limit():
    assert run("n = 0\nwhile n < 10000:\n    n += 1")["n"] == 10000
    with sandbox.limits(seconds=0.2):
        started = time.monotonic()
        error = refused("while True:\n    pass", "timeout")
        assert time.monotonic() - started < 1.5
    assert "脚本超时" in error.message_zh and "time limit" in error.message_en


def test_catching_the_refusal_does_not_escape_it():
    with sandbox.limits(seconds=0.2):
        refused("while True:\n    try:\n        while True:\n            pass\n    except:\n"
                "        pass", "timeout")
    refused("try:\n    s = 'x' * 10**9\nexcept Exception:\n    s = 'ok'", "too_large")


def test_sizes_up_to_the_limit_are_made_and_beyond_it_refused():
    with sandbox.limits(max_size=1000):
        assert len(run("s = 'x' * 1000")["s"]) == 1000
        refused("s = 'x' * 1001", "too_large")
        assert len(run("s = [0] * 10 + [1] * 990")["s"]) == 1000
        refused("s = [0] * 10 + [1] * 991", "too_large")
        assert run("r = list(range(1000))")["r"][-1] == 999
        refused("r = range(1001)", "too_large")
        refused("s = 'ab'.ljust(1001)", "too_large")
        refused("s = ('a' * 100).replace('a', 'aaaaaaaaaaa')", "too_large")
        assert run("s = ('a' * 100).replace('a', 'b')")["s"] == "b" * 100
        refused("s = ','.join(['x' * 600, 'y' * 600])", "too_large")
        refused("s = '%2000d' % 1", "too_large")
        refused("s = str(['x' * 100] * 20)", "too_large")
        assert run("pairs = list(zip(range(3), 'abc'))")["pairs"] == [(0, "a"), (1, "b"), (2, "c")]
        refused("xs = [0] * 1000\nrows = list(zip(*[xs] * 1000))", "too_large")


def test_many_values_under_the_size_limit_still_exhaust_the_budget():
    with sandbox.limits(max_size=1000, budget=5000):
        assert len(run("keep = []\nfor i in range(4):\n    keep.append('x' * 1000)")["keep"]) == 4
        refused("keep = []\nfor i in range(10):\n    keep.append('x' * 1000)", "too_large")


def test_integers_grow_to_the_bit_limit_and_no_further():
    assert run("x = 2 ** 1000")["x"] == 2 ** 1000
    refused("x = 10 ** 10 ** 10", "too_large")
    refused("x = pow(10, 10 ** 9)", "too_large")
    refused("x = 1 << 10 ** 9", "too_large")
    refused("x = 2 ** 60000\nx = x * x", "too_large")


def test_functions_may_nest_to_the_depth_limit_and_no_deeper():
    assert run("def f(k):\n    return k if k == 0 else f(k - 1)\nr = f(40)")["r"] == 0
    error = refused("def f(k):\n    return f(k + 1)\nf(0)", "too_deep")
    assert "递归" in error.message_zh
    refused("f = lambda g: g(g)\nf(f)", "too_deep")


def test_the_whole_task_data_a_script_leaves_is_bounded():
    with sandbox.limits(max_size=100, budget=1000):
        refused("a = ['x' * 100] * 100\nb = [a] * 100", "too_large")


def test_a_generator_left_in_the_data_cannot_run_outside_an_evaluation():
    data = run("def numbers():\n    while True:\n        yield 1\ng = numbers()")
    with pytest.raises((ScriptRefused, NameError)):  # its guards went with the evaluation
        next(data["g"])


# -- what deploy uses -------------------------------------------------------------------------------------------

def test_compile_errors_name_what_is_refused_and_allow_the_rest():
    assert sandbox.compile_errors("x = [i for i in range(3)]", "exec") == []
    assert any("import" in e for e in sandbox.compile_errors("import os", "exec"))
    assert any("__class__" in e for e in sandbox.compile_errors("().__class__", "eval"))
    assert any("Class definitions" in e for e in sandbox.compile_errors("class A:\n    pass", "exec"))
    assert any("format" in e.lower() for e in sandbox.compile_errors("f'{x:>{n}}'", "eval"))
    assert any("9999" in e for e in sandbox.compile_errors("f'{x:>100000}'", "eval"))


def test_deploy_evaluation_of_a_timer_has_the_same_limits():
    started = time.monotonic()
    with pytest.raises(ScriptRefused):
        sandbox.evaluate('"PT" + "1" * 10**9')
    assert time.monotonic() - started < 1
    assert sandbox.evaluate('"PT" + str(2) + "H"') == "PT2H"


def test_copies_of_allowed_size_kept_in_a_loop_are_stopped_by_the_memory_bound():
    script = "big = [0] * 1000000\nkeep = []\nfor i in range(copies):\n    keep.append(list(big))\nkeep = len(keep)"
    with sandbox.limits(max_growth=64 << 20):
        assert run(script, copies=2)["keep"] == 2
        error = refused(script, "too_large", copies=1000)
    assert "内存" in error.message_zh and "memory" in error.message_en


def test_the_time_limit_holds_in_a_worker_thread_where_signals_cannot_reach():
    outcome: list[BaseException] = []

    def worker() -> None:
        try:
            run("while True:\n    pass")
        except ScriptRefused as exc:
            outcome.append(exc)

    with sandbox.limits(seconds=0.2):
        thread = threading.Thread(target=worker)
        thread.start()
        thread.join(timeout=5)
    assert not thread.is_alive()
    assert [getattr(e, "kind", None) for e in outcome] == ["timeout"]
