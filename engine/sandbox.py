"""The Python that diagrams may hold (gateway conditions, scripts, timer expressions), and the
sandbox it runs in — at deploy (``compile_errors``, ``evaluate``) and at run time
(``SandboxEnvironment``, the environment of engine.runtime's script engine).

Code is compiled by RestrictedPython with a policy of our own (``_Policy``) and run with an
allow-list of builtins, the domain functions (``SCRIPT_FUNCTIONS``) and guards. What it refuses:

* at compile time (deploy refuses the diagram, naming the element): imports, names and attributes
  starting with ``_`` (``__class__``, ``__globals__`` …) and the frame/code attributes, ``exec``,
  ``eval``, ``compile``, ``open``, ``getattr`` and the other ``FORBIDDEN_NAMES``, class definitions,
  f-string format specs that are computed or wider than 9999;
* at run time (the step fails as a whole, ``ScriptRefused``): attribute access the guard refuses
  (``str.format``, modules, names with ``_``), and anything over the ``LIMITS``:
  - time: every loop iteration, function call and exception handler calls ``_tick_``, which stops
    the evaluation once it has run longer than ``LIMITS.seconds`` (wall clock). This is code we put
    into the compiled script, not a signal or a trace hook: it works in any thread of a worker and
    costs nothing in code without loops (conditions);
  - size: every operation that can make something big (``*``, ``+``, ``**``, ``<<``, ``%``,
    ``str.join``/``ljust``/``replace`` …, ``range``, ``pow``, ``sum``, ``*x`` unpacking, ``str()``
    of containers, f-strings) checks the size of its result before making it — at most
    ``LIMITS.max_size`` characters or items, integers of ``LIMITS.max_int_bits`` bits — and charges
    it to the evaluation's budget (``LIMITS.budget``: many medium values are as bad as one huge);
  - memory: while a script loops, its ticks stop it once the process has grown by more than
    ``LIMITS.max_growth`` bytes (read from /proc every few milliseconds);
  - depth: functions the script defines may nest ``LIMITS.max_depth`` calls deep;
  - a refusal is sticky: a script that catches it is stopped at its next tick, and at its end.

What it does not do: a single builtin call on values already within the limits (``sorted`` of a
million items) runs to its end before the next tick notices the deadline, so the real bound on time
is the limit plus one such call (well under a second on values of ``max_size``).
"""

from __future__ import annotations

import ast
import datetime as _dt
import operator
import os
import re
import sys
import threading
import time
import types
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any, cast

from RestrictedPython import RestrictingNodeTransformer, compile_restricted_eval, compile_restricted_exec
from RestrictedPython.Eval import default_guarded_getitem
from RestrictedPython.Guards import (
    full_write_guard,
    guarded_iter_unpack_sequence,
    guarded_unpack_sequence,
    safe_builtins,
    safer_getattr,
)
from RestrictedPython.PrintCollector import PrintCollector
from SpiffWorkflow.bpmn.script_engine import TaskDataEnvironment

from .calendar import add_working_days, deadline_after, is_working_day, working_days_between
from .clock import workflow_now


def deadline_in(working_days: int) -> str:
    """For timer expressions: the end of the ``working_days``-th working day from now (Beijing
    time), as the ISO timestamp a BPMN timeDate expects — the same rule as task deadlines."""
    return deadline_after(workflow_now(), int(working_days)).isoformat()


# The ``datetime`` diagrams see: the module's classes, not the module (whose ``sys`` attribute
# would hand out every loaded module).
DATETIME = types.SimpleNamespace(date=_dt.date, datetime=_dt.datetime, time=_dt.time, timedelta=_dt.timedelta,
                                 timezone=_dt.timezone, tzinfo=_dt.tzinfo, MINYEAR=_dt.MINYEAR,
                                 MAXYEAR=_dt.MAXYEAR)

# Functions diagrams may call in conditions, scripts and timer expressions (engine.runtime's script
# engine is built from these, so deploy checks exactly what runs).
SCRIPT_FUNCTIONS: dict[str, Any] = {
    "datetime": DATETIME,
    "add_working_days": add_working_days,
    "working_days_between": working_days_between,
    "is_working_day": is_working_day,
    "deadline_after": deadline_after,
    "deadline_in": deadline_in,
}

# Builtins that RestrictedPython compiles but that reach past the case data; refused at deploy.
FORBIDDEN_NAMES = frozenset({"open", "compile", "globals", "locals", "vars", "breakpoint", "input", "help",
                             "exit", "quit", "getattr", "setattr", "delattr", "memoryview"})


@dataclass(frozen=True)
class Limits:
    seconds: float = 1.0          # wall clock per evaluation
    max_size: int = 1_000_000     # characters of a string, items of a list/tuple/dict/set/range
    budget: int = 20_000_000      # characters and items made by one evaluation, all told
    max_int_bits: int = 100_000   # about 30,000 decimal digits
    max_depth: int = 50           # nested calls of functions the script defines
    max_growth: int = 256 << 20   # bytes the process may grow by while a script loops (Linux: /proc)


LIMITS = Limits()


@contextmanager
def limits(**changes: Any) -> Iterator[Limits]:
    """Run with other limits (tests; a deployment could tune them at start-up)."""
    global LIMITS
    saved = LIMITS
    LIMITS = replace(LIMITS, **changes)
    try:
        yield LIMITS
    finally:
        LIMITS = saved


class ScriptRefused(Exception):
    """The sandbox stopped a condition, script or timer expression. ``kind``: ``timeout``,
    ``too_large``, ``too_deep`` or ``forbidden``."""

    def __init__(self, kind: str, message_zh: str, message_en: str):
        super().__init__(message_en)
        self.kind, self.message_zh, self.message_en = kind, message_zh, message_en


def _timeout() -> ScriptRefused:
    return ScriptRefused("timeout", f"脚本超时（超过 {LIMITS.seconds:g} 秒）",
                         f"script exceeded its time limit ({LIMITS.seconds:g} s)")


def _too_large(what: str) -> ScriptRefused:
    return ScriptRefused("too_large", f"脚本要生成的数据过大（{what}，上限 {LIMITS.max_size} 个字符或元素）",
                         f"script tried to make too large a value ({what}; the limit is {LIMITS.max_size} "
                         "characters or items)")


def _forbidden(zh: str, en: str) -> ScriptRefused:
    return ScriptRefused("forbidden", zh, en)


# ---------------------------------------------------------------- the meter of one evaluation

class _Meter:
    __slots__ = ("base_depth", "base_rss", "deadline", "measured", "refused", "spent")

    def __init__(self) -> None:
        self.deadline = time.monotonic() + LIMITS.seconds
        self.spent = 0
        self.refused: ScriptRefused | None = None
        self.base_depth: int | None = None
        self.base_rss: int | None = None
        self.measured = 0.0


_PAGE = os.sysconf("SC_PAGESIZE") if hasattr(os, "sysconf") else 4096
_MEASURE_EVERY = 0.002  # seconds between two looks at the process's size while a script loops


def _rss() -> int | None:
    """The process's resident size now, in bytes (None where /proc is not there)."""
    try:
        fd = os.open("/proc/self/statm", os.O_RDONLY)
    except OSError:
        return None
    try:
        return int(os.read(fd, 100).split()[1]) * _PAGE
    finally:
        os.close(fd)


_local = threading.local()


def _meter() -> _Meter:
    meter: _Meter | None = getattr(_local, "meter", None)
    if meter is None:  # sandboxed code left over from an evaluation (a generator kept in data)
        raise _forbidden("沙箱代码只能在求值期间运行", "sandboxed code runs only while it is evaluated")
    return meter


def _refuse(error: ScriptRefused) -> ScriptRefused:
    meter = getattr(_local, "meter", None)
    if meter is not None and meter.refused is None:
        meter.refused = error
    return error


@contextmanager
def _metered() -> Iterator[_Meter]:
    """One evaluation: its deadline and budget. A refusal the script caught is raised all the same."""
    saved = getattr(_local, "meter", None)
    meter = _local.meter = _Meter()
    try:
        yield meter
    except RecursionError:
        raise _too_deep() from None
    except Exception:
        if meter.refused is not None:
            raise meter.refused from None
        raise
    else:
        if meter.refused is not None:
            raise meter.refused
    finally:
        _local.meter = saved


def _too_deep() -> ScriptRefused:
    return ScriptRefused("too_deep", f"脚本递归过深（上限 {LIMITS.max_depth} 层）",
                         f"script recursed too deep (the limit is {LIMITS.max_depth} calls)")


def _tick() -> None:
    """Called by every loop iteration, function call and exception handler of sandboxed code."""
    meter = _meter()
    if meter.refused is not None:
        raise meter.refused
    now = time.monotonic()
    if now > meter.deadline:
        raise _refuse(_timeout())
    if now - meter.measured > _MEASURE_EVERY:  # copies of allowed sizes, kept in a loop, add up
        meter.measured, rss = now, _rss()
        if rss is None:
            return
        if meter.base_rss is None:
            meter.base_rss = rss
        elif rss - meter.base_rss > LIMITS.max_growth:
            raise _refuse(ScriptRefused("too_large", f"脚本占用内存过多（超过 {LIMITS.max_growth >> 20} MB）",
                                        f"script used too much memory (over {LIMITS.max_growth >> 20} MB)"))


def _enter() -> None:
    """A call of a function the script defines: a tick, and the depth."""
    _tick()
    meter = _meter()
    if meter.base_depth is None:
        meter.base_depth = _depth(sys._getframe(1)) - 1
    try:  # a frame that far up exists: the script's functions are nested more than max_depth deep
        sys._getframe(LIMITS.max_depth + 1 + meter.base_depth)
    except ValueError:
        return
    raise _refuse(_too_deep())


def _depth(frame: types.FrameType | None) -> int:
    depth = 0
    while frame is not None:
        depth, frame = depth + 1, frame.f_back
    return depth


def _charge(size: int, what: str) -> None:
    if size > LIMITS.max_size:
        raise _refuse(_too_large(what))
    meter = _meter()
    meter.spent += size
    if meter.spent > LIMITS.budget:
        raise _refuse(ScriptRefused("too_large", f"脚本生成的数据总量过大（上限 {LIMITS.budget}）",
                                    f"script made too much data in all (the limit is {LIMITS.budget})"))


_SIZED = (str, bytes, list, tuple)


def _int_bits(bits: int, what: str) -> None:
    if bits > LIMITS.max_int_bits:
        raise _refuse(ScriptRefused("too_large", f"脚本要生成的整数过大（{what}，上限 {LIMITS.max_int_bits} 位）",
                                    f"script tried to make too large an integer ({what}; the limit is "
                                    f"{LIMITS.max_int_bits} bits)"))


def _mult(a: Any, b: Any) -> Any:
    if isinstance(a, int) and isinstance(b, _SIZED):
        a, b = b, a
    if isinstance(a, _SIZED) and isinstance(b, int):
        _charge(len(a) * max(b, 0), "*")
    elif isinstance(a, int) and isinstance(b, int):
        _int_bits(a.bit_length() + b.bit_length(), "*")
    return a * b


def _add(a: Any, b: Any) -> Any:
    if isinstance(a, _SIZED) and isinstance(b, _SIZED):
        _charge(len(a) + len(b), "+")
    return a + b


def _power(a: Any, b: Any, mod: Any = None) -> Any:
    if isinstance(a, int) and isinstance(b, int) and b > 0 and abs(a) > 1 and mod is None:
        _int_bits(b * a.bit_length(), "**")
    return pow(a, b, mod)


def _lshift(a: Any, b: Any) -> Any:
    if isinstance(a, int) and isinstance(b, int) and a:
        _int_bits(a.bit_length() + max(b, 0), "<<")
    return a << b


# A %-conversion with a width or precision: "*" (taken from the arguments) or a number.
_PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")


def _mod(a: Any, b: Any) -> Any:
    if isinstance(a, (str, bytes)):
        pattern = _PERCENT_SPEC if isinstance(a, str) else re.compile(_PERCENT_SPEC.pattern.encode())
        for match in pattern.finditer(a):  # type: ignore[arg-type]
            for part in match.groups():
                if part and (part in ("*", b"*") or int(part) > LIMITS.max_size):
                    raise _refuse(_too_large("% width"))
        _charge(len(a) + _deep_size(b), "%")
    return a % b


_BINOPS: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Mult: _mult, ast.Add: _add, ast.Pow: _power, ast.LShift: _lshift, ast.Mod: _mod}
_BINOP_NAMES = {ast.Mult: "_mult_", ast.Add: "_add_", ast.Pow: "_pow_", ast.LShift: "_lshift_", ast.Mod: "_mod_"}
_INPLACE: dict[str, Callable[[Any, Any], Any]] = {
    "+=": lambda a, b: _add(a, b) if not isinstance(a, list) else _iadd_list(a, b),
    "*=": _mult, "**=": _power, "<<=": _lshift, "%=": _mod,
    "-=": operator.isub, "/=": operator.itruediv, "//=": operator.ifloordiv, ">>=": operator.irshift,
    "&=": operator.iand, "|=": operator.ior, "^=": operator.ixor, "@=": operator.imatmul,
}


def _iadd_list(a: list[Any], b: Any) -> list[Any]:
    if hasattr(b, "__len__"):
        _charge(len(a) + len(b), "+=")
    a += b
    return a


def _inplacevar(op: str, a: Any, b: Any) -> Any:
    return _INPLACE[op](a, b)


def _deep_size(value: Any, cap: int | None = None) -> int:
    """Characters and items of ``value`` counted through its containers (aliases count each time,
    as they would when printed or stored); stops counting past ``cap`` (default the max size)."""
    cap = LIMITS.max_size if cap is None else cap
    total, stack = 0, [value]
    while stack and total <= cap:
        item = stack.pop()
        if isinstance(item, (str, bytes)):
            total += len(item)
        elif isinstance(item, dict):
            total += len(item)
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, (list, tuple, set, frozenset)):
            total += len(item)
            stack.extend(item)
        else:
            total += 1
    return total


class _StrType(type):
    def __instancecheck__(cls, value: Any) -> bool:
        return isinstance(value, str)

    def __subclasscheck__(cls, subclass: type) -> bool:
        return issubclass(subclass, str)


class _CheckedStr(str, metaclass=_StrType):
    """``str`` for sandboxed code: ``str(x)`` of a container checks the size of its text first (a
    list holding one long string a million times prints as a billion characters); ``isinstance``
    and the methods are those of ``str``."""

    def __new__(cls, value: Any = "", *args: Any) -> str:  # type: ignore[misc]
        if not isinstance(value, (str, int, float, bool)) and value is not None:
            _charge(_deep_size(value), "str()")
        return str(value, *args)


def _checked_repr(value: Any) -> str:
    _charge(_deep_size(value), "repr()")
    return repr(value)


def _formatted(value: Any) -> Any:
    """The value of an f-string field, once its printed size is known to fit."""
    if not isinstance(value, (int, float, bool)) and value is not None:
        _charge(_deep_size(value), "f-string")
    return value


def _bounded_range(*args: int) -> range:
    result = range(*args)
    if len(result) > LIMITS.max_size:
        raise _refuse(_too_large(f"range of {len(result)}"))
    return result


def _checked_sum(values: Iterable[Any], start: Any = 0) -> Any:
    if not isinstance(start, (int, float)):
        raise _refuse(_forbidden("sum() 只能对数字求和", "sum() adds numbers only"))
    return sum(values, start)


def _checked_zip(*iterables: Any, strict: bool = False) -> Iterator[tuple[Any, ...]]:
    """``zip``: ``zip(*[xs] * n)`` makes len(xs) tuples of n items each."""
    sizes = [len(i) for i in iterables if hasattr(i, "__len__")]
    if sizes and len(sizes) == len(iterables):
        _charge(len(iterables) * min(sizes), "zip()")
    return zip(*iterables, strict=strict)


def _getiter(value: Any) -> Iterator[Any]:
    """Every item a loop or comprehension takes is a tick."""
    for item in value:
        _tick()
        yield item


def _sized(value: Any) -> Any:
    """The value of a ``*x`` or ``**x`` unpacking."""
    if hasattr(value, "__len__"):
        _charge(len(value), "unpacking")
    return value


def _apply(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    return function(*args, **kwargs)


# Methods of strings and lists whose result can be far bigger than their inputs.
_PADDING = frozenset({"ljust", "rjust", "center", "zfill"})
_REFUSED_ATTRIBUTES = frozenset({"format", "format_map", "translate", "maketrans", "mro"})


def _padding(method: Callable[..., Any]) -> Callable[..., Any]:
    def checked(width: int, *args: Any) -> Any:
        _charge(int(width), "padding")
        return method(width, *args)
    return checked


def _checked_replace(text: Any) -> Callable[..., Any]:
    def checked(old: Any, new: Any, count: int = -1) -> Any:
        grows = len(new) - len(old)
        if grows > 0:
            found = text.count(old) if old else len(text) + 1
            _charge(len(text) + grows * (found if count < 0 else min(count, found)), "replace()")
        return text.replace(old, new, count)
    return checked


def _checked_join(separator: Any) -> Callable[..., Any]:
    def checked(items: Iterable[Any]) -> Any:
        items = list(items)
        _charge(sum(len(i) for i in items if isinstance(i, (str, bytes))) + len(separator) * len(items), "join()")
        return separator.join(items)
    return checked


def _checked_expandtabs(text: Any) -> Callable[..., Any]:
    def checked(tabsize: int = 8) -> Any:
        _charge(len(text) + text.count("\t" if isinstance(text, str) else b"\t") * max(int(tabsize), 0),
                "expandtabs()")
        return text.expandtabs(tabsize)
    return checked


def _checked_extend(target: list[Any]) -> Callable[..., Any]:
    def checked(items: Any) -> None:
        if hasattr(items, "__len__"):
            _charge(len(target) + len(items), "extend()")
        target.extend(items)
    return checked


_MISSING = object()


def _guarded_getattr(obj: Any, name: str, default: Any = None) -> Any:
    if name in _REFUSED_ATTRIBUTES:
        raise _refuse(_forbidden(f"禁止访问属性 {name}", f"access to attribute {name} is refused"))
    if isinstance(obj, (str, bytes)):
        if name in _PADDING:
            return _padding(getattr(obj, name))
        if name == "replace":
            return _checked_replace(obj)
        if name == "join":
            return _checked_join(obj)
        if name == "expandtabs":
            return _checked_expandtabs(obj)
    elif isinstance(obj, list) and name == "extend":
        return _checked_extend(obj)
    elif isinstance(obj, type) and issubclass(obj, (str, bytes, list)) and name in (
            *_PADDING, "replace", "join", "expandtabs", "extend"):
        return lambda target, *args, **kwargs: _guarded_getattr(target, name)(*args, **kwargs)
    try:
        value = safer_getattr(obj, name, _MISSING)
    except (AttributeError, NotImplementedError) as exc:
        raise _refuse(_forbidden(f"禁止访问属性 {name}（{exc}）", f"access to attribute {name} is refused ({exc})")
                      ) from None
    if value is _MISSING:
        if default is not None:
            return default
        raise AttributeError(f"{type(obj).__name__!r} object has no attribute {name!r}")
    if isinstance(value, types.ModuleType):
        raise _refuse(_forbidden(f"禁止访问模块 {name}", f"access to module {name} is refused"))
    return value


# ---------------------------------------------------------------- compiling

class _Policy(RestrictingNodeTransformer):
    """RestrictedPython's policy, plus the calls that keep time and size (see the module doc)."""

    @staticmethod
    def _call(name: str, *args: ast.expr) -> ast.Call:
        return ast.Call(func=ast.Name(name, ast.Load()), args=list(args), keywords=[])

    @staticmethod
    def _at(new: Any, old: ast.AST) -> Any:
        return ast.fix_missing_locations(ast.copy_location(new, old))

    def _tick_stmt(self, node: ast.AST, name: str = "_tick_") -> ast.stmt:
        return self._at(ast.Expr(self._call(name)), node)

    def visit_BinOp(self, node: ast.BinOp) -> Any:
        node = self.node_contents_visit(node)
        name = _BINOP_NAMES.get(type(node.op))
        if name is None:
            return node
        return self._at(self._call(name, node.left, node.right), node)

    def visit_While(self, node: ast.While) -> Any:
        node = self.node_contents_visit(node)
        node.body.insert(0, self._tick_stmt(node))
        return node

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> Any:
        node = cast(ast.ExceptHandler, super().visit_ExceptHandler(node))
        node.body.insert(0, self._tick_stmt(node))
        return node

    def visit_FunctionDef(self, node: ast.FunctionDef) -> Any:
        node = cast(ast.FunctionDef, super().visit_FunctionDef(node))
        node.body.insert(0, self._tick_stmt(node, "_enter_"))
        return node

    def visit_Lambda(self, node: ast.Lambda) -> Any:
        node = cast(ast.Lambda, super().visit_Lambda(node))
        body = ast.BoolOp(op=ast.Or(), values=[self._call("_enter_"), node.body])
        node.body = self._at(body, node.body)
        return node

    def visit_Starred(self, node: ast.Starred) -> Any:
        node = self.node_contents_visit(node)
        node.value = self._at(self._call("_sized_", node.value), node.value)
        return node

    def visit_Dict(self, node: ast.Dict) -> Any:
        node = self.node_contents_visit(node)
        node.values = [self._at(self._call("_sized_", v), v) if k is None else v
                       for k, v in zip(node.keys, node.values, strict=True)]
        return node

    def visit_FormattedValue(self, node: ast.FormattedValue) -> Any:
        node = cast(ast.FormattedValue, super().visit_FormattedValue(node))
        spec = node.format_spec
        if spec is not None:
            if any(isinstance(part, ast.FormattedValue) for part in ast.walk(spec)):
                self.error(node, "Computed format specs in f-strings are not allowed.")
            elif re.search(r"\d{5,}", "".join(str(p.value) for p in ast.walk(spec) if isinstance(p, ast.Constant))):
                self.error(node, "Format widths over 9999 in f-strings are not allowed.")
        node.value = self._at(self._call("_formatted_", node.value), node.value)
        return node

    def visit_ClassDef(self, node: ast.ClassDef) -> Any:
        self.error(node, "Class definitions are not allowed.")
        return node


_FILENAME = "<string>"  # the name SpiffWorkflow looks for to report the failing line


@lru_cache(maxsize=4096)
def _compile(source: str, mode: str) -> tuple[types.CodeType | None, tuple[str, ...]]:
    """The code of ``source`` (compiled once per distinct source) or why it may not run."""
    try:
        tree = ast.parse(source, _FILENAME, mode)
    except SyntaxError as exc:
        return None, (f"Line {exc.lineno}: SyntaxError: {exc.msg}",)
    errors: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            errors.append(f"Line {node.lineno}: import statements are not allowed.")
        elif isinstance(node, ast.Name) and node.id in FORBIDDEN_NAMES:
            errors.append(f'Line {node.lineno}: "{node.id}" is not allowed.')
    compiler = compile_restricted_eval if mode == "eval" else compile_restricted_exec
    result = compiler(cast(Any, tree), _FILENAME, policy=_Policy)
    errors = [*result.errors, *errors]
    if errors or result.code is None:
        return None, tuple(errors or ("does not compile",))
    return result.code, ()


def compile_errors(source: str, mode: str) -> list[str]:
    """Why ``source`` may not run in the sandbox (empty if it may). ``mode`` is ``eval`` for an
    expression (a condition, a timer) or ``exec`` for a script."""
    return list(_compile(source, mode)[1])


def _code(source: str, mode: str) -> types.CodeType:
    code, errors = _compile(source, mode)
    if code is None:
        reasons = "; ".join(errors)
        raise _forbidden(f"沙箱拒绝编译：{reasons}", f"the sandbox refuses to compile it: {reasons}")
    return code


# Modules the builtins themselves import when called (datetime's strftime and strptime import ``time``
# and ``_strptime`` through the ``__import__`` of the calling code's builtins). Scripts cannot name
# ``__import__`` (a name starting with ``_``) nor write ``import``: only such C code reaches it.
_IMPORTABLE = frozenset({"time", "_strptime"})


def _builtin_import(name: str, *args: Any, **kwargs: Any) -> Any:
    if name not in _IMPORTABLE:
        raise _refuse(_forbidden(f"禁止导入模块 {name}", f"importing module {name} is refused"))
    return __import__(name, *args, **kwargs)


# Exceptions that are not ``Exception``s would pass every ``except Exception`` between the script and
# the request (SystemExit ends a worker): scripts may not raise them.
_NOT_EXCEPTIONS = frozenset({"BaseException", "SystemExit", "KeyboardInterrupt", "GeneratorExit"})

_ALLOWED_BUILTINS: dict[str, Any] = {
    **{name: value for name, value in safe_builtins.items()
       if name not in FORBIDDEN_NAMES and name not in _NOT_EXCEPTIONS and not name.startswith("_")},
    "__import__": _builtin_import,
    "len": len, "min": min, "max": max, "sum": _checked_sum, "sorted": sorted, "any": any, "all": all,
    "abs": abs, "round": round, "str": _CheckedStr, "repr": _checked_repr, "int": int, "float": float,
    "bool": bool, "list": list, "dict": dict, "set": set, "tuple": tuple, "range": _bounded_range,
    "enumerate": enumerate, "zip": _checked_zip, "reversed": reversed, "isinstance": isinstance, "pow": _power,
    "None": None, "True": True, "False": False,
}

# The names sandboxed code runs with besides its data: builtins, guards and domain functions.
GUARDS: dict[str, Any] = {
    "__builtins__": _ALLOWED_BUILTINS,
    "_getattr_": _guarded_getattr, "_getitem_": default_guarded_getitem, "_getiter_": _getiter,
    "_iter_unpack_sequence_": guarded_iter_unpack_sequence, "_unpack_sequence_": guarded_unpack_sequence,
    "_write_": full_write_guard, "_inplacevar_": _inplacevar, "_apply_": _apply, "_print_": PrintCollector,
    "_tick_": _tick, "_enter_": _enter, "_sized_": _sized, "_formatted_": _formatted,
    **{name: _BINOPS[op] for op, name in _BINOP_NAMES.items()},
}


def restricted_globals(data: dict[str, Any] | None = None) -> dict[str, Any]:
    """Globals for code compiled by the sandbox: builtins, guards, the script functions and the data."""
    return {**GUARDS, **SCRIPT_FUNCTIONS, **(data or {})}


def evaluate(expression: str, data: dict[str, Any] | None = None) -> Any:
    """Evaluate an expression in the sandbox against ``data``, within the limits. Raises
    SyntaxError when it does not compile there, ScriptRefused when the sandbox stops it, and
    whatever the expression raises (NameError for a name the data lacks)."""
    code, errors = _compile(expression, "eval")
    if code is None:
        raise SyntaxError("; ".join(errors))
    with _metered():
        result = eval(code, restricted_globals(data))
        _charge(_deep_size(result), "result")
    return result


class SandboxEnvironment(TaskDataEnvironment):
    """SpiffWorkflow's task-data environment (task data as the names a script reads and sets),
    running the sandbox's compiled code within the limits instead of plain ``eval``/``exec``."""

    def __init__(self, functions: dict[str, Any] | None = None):
        super().__init__({**GUARDS, **(SCRIPT_FUNCTIONS if functions is None else functions)})

    def evaluate(self, expression: str, context: dict[str, Any], external_context: dict[str, Any] | None = None
                 ) -> Any:
        code = _code(expression, "eval")
        my_globals = {**self.globals, **(external_context or {}), **context}
        with _metered():
            result = eval(code, my_globals)
            _charge(_deep_size(result), "result")
        return result

    def execute(self, script: str, context: dict[str, Any], external_context: dict[str, Any] | None = None
                ) -> bool:
        code = _code(script, "exec")
        self.check_for_overwrite(context, external_context or {})
        context.update(self.globals)
        context.update(external_context or {})
        try:
            with _metered():
                exec(code, context)
                self._remove_globals_and_functions_from_context(context, external_context)
                if _deep_size(context, LIMITS.budget) > LIMITS.budget:
                    raise _refuse(_too_large("task data"))
        finally:
            self._remove_globals_and_functions_from_context(context, external_context)
        return True


def refusal_in(exc: BaseException | None) -> ScriptRefused | None:
    """The sandbox's refusal behind an error SpiffWorkflow raised (it wraps what scripts raise)."""
    seen = 0
    while exc is not None and seen < 20:
        if isinstance(exc, ScriptRefused):
            return exc
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return None
