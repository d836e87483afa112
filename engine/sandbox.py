"""The Python that diagrams may hold (gateway conditions, scripts, timer expressions): which names
they may call, and compiling and evaluating it with RestrictedPython.

Deploy uses ``compile_errors`` to refuse a condition or script the sandbox would not run (a syntax
error, an import, a name or attribute starting with ``_`` such as ``__class__``, ``exec``/``eval``,
the few builtins that reach outside the case data) and ``evaluate`` to try a timer expression.
Running scripts in the sandbox at run time is issue 8; these helpers are the ones it can reuse.
"""

from __future__ import annotations

import ast
import datetime as _dt
from typing import Any

from RestrictedPython import compile_restricted_eval, compile_restricted_exec
from RestrictedPython.Eval import default_guarded_getitem, default_guarded_getiter
from RestrictedPython.Guards import (
    full_write_guard,
    guarded_iter_unpack_sequence,
    guarded_unpack_sequence,
    safe_builtins,
    safer_getattr,
)

from .calendar import add_working_days, deadline_after, is_working_day, working_days_between
from .clock import workflow_now


def deadline_in(working_days: int) -> str:
    """For timer expressions: the end of the ``working_days``-th working day from now (Beijing
    time), as the ISO timestamp a BPMN timeDate expects — the same rule as task deadlines."""
    return deadline_after(workflow_now(), int(working_days)).isoformat()


# Functions diagrams may call in conditions, scripts and timer expressions (engine.runtime's script
# engine is built from these, so deploy checks exactly what runs).
SCRIPT_FUNCTIONS: dict[str, Any] = {
    "datetime": _dt,
    "add_working_days": add_working_days,
    "working_days_between": working_days_between,
    "is_working_day": is_working_day,
    "deadline_after": deadline_after,
    "deadline_in": deadline_in,
}

# Builtins that RestrictedPython compiles but that reach past the case data; refused at deploy.
FORBIDDEN_NAMES = frozenset({"open", "compile", "globals", "locals", "vars", "breakpoint", "input", "help",
                             "exit", "quit", "getattr", "setattr", "delattr", "memoryview"})


def compile_errors(source: str, mode: str) -> list[str]:
    """Why ``source`` may not run in the sandbox (empty if it may). ``mode`` is ``eval`` for an
    expression (a condition, a timer) or ``exec`` for a script."""
    result = compile_restricted_eval(source) if mode == "eval" else compile_restricted_exec(source)
    errors = [str(e) for e in result.errors]
    if errors:
        return errors
    for node in ast.walk(ast.parse(source, mode=mode)):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            errors.append(f"Line {node.lineno}: import statements are not allowed.")
        elif isinstance(node, ast.Name) and node.id in FORBIDDEN_NAMES:
            errors.append(f'Line {node.lineno}: "{node.id}" is not allowed.')
    return errors


def restricted_globals(data: dict[str, Any] | None = None) -> dict[str, Any]:
    """Globals for code compiled by RestrictedPython: safe builtins, its guards, the script
    functions and the case data."""
    return {
        "__builtins__": {**safe_builtins, "min": min, "max": max, "sum": sum, "sorted": sorted, "any": any,
                         "all": all, "list": list, "dict": dict, "set": set, "tuple": tuple, "enumerate": enumerate,
                         "zip": zip},
        "_getattr_": safer_getattr, "_getitem_": default_guarded_getitem, "_getiter_": default_guarded_getiter,
        "_iter_unpack_sequence_": guarded_iter_unpack_sequence, "_unpack_sequence_": guarded_unpack_sequence,
        "_write_": full_write_guard,
        **SCRIPT_FUNCTIONS, **(data or {}),
    }


def evaluate(expression: str, data: dict[str, Any] | None = None) -> Any:
    """Evaluate an expression in the sandbox against ``data``. Raises SyntaxError when it does not
    compile there, and whatever the expression raises (NameError for a name the data lacks)."""
    errors = compile_errors(expression, "eval")
    if errors:
        raise SyntaxError("; ".join(errors))
    code = compile_restricted_eval(expression).code
    if code is None:  # compile_errors found nothing, so RestrictedPython compiled it
        raise SyntaxError(expression)
    return eval(code, restricted_globals(data))
