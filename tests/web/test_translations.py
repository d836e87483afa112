"""Every piece of page text has its English: the catalogue covers every msgid the code marks, and nothing
Chinese is left outside a gettext call in templates, web code or the front-end bundle's sources.

The line between page text and content is in docs/i18n.md: XunchaError messages and engine label tables
are (zh, en) pairs, form schemas and diagram names are what designers wrote, and stay as they are.
"""

from __future__ import annotations

import ast
import json
import os
import re
from collections.abc import Iterator
from gettext import GNUTranslations
from html.parser import HTMLParser
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from engine import errors as engine_errors
from engine import planning
from engine.context import EngineContext
from engine.db import transaction
from engine.demo import Demo
from models import ReportKind, User
from tests.helpers import open_rectification, ready_task
from tests.web.helpers import login
from web.i18n import STORED_WORDS, compile_catalogues

ROOT = Path(__file__).resolve().parents[2]
WEB = ROOT / "web"
CATALOGUE = WEB / "translations" / "en" / "LC_MESSAGES" / "messages.po"
CJK = re.compile(r"[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]")

# Chinese that is right in every language: the language switch names the language in itself.
TEMPLATE_ALLOWED = {"中文"}
GETTEXT = {"_", "gettext", "pgettext", "ngettext", "N_", "lazy_gettext"}
# Calls whose Chinese is data of a (zh, en) pair: the domain errors (message_zh, message_en) and the
# error responses of web.errors.
PAIR_CALLS = {name for name, value in vars(engine_errors).items()
              if isinstance(value, type) and issubclass(value, engine_errors.XunchaError)} | {"_respond"}
PAIR_KEYS = {"zh", "message_zh", "reason_zh"}
# Not page text: the command line prints both languages side by side, and the exported ledger workbook is
# a Chinese document whose column headers the import reads back.
PYTHON_EXEMPT = {"web/cli.py", "web/ledgers/service.py"}


def _catalogue() -> Catalog:
    with CATALOGUE.open("rb") as po_file:
        return read_po(po_file)


def _extracted() -> dict[tuple[str | None, str], list[str]]:
    """(context, msgid) → where, by the same babel.cfg mapping `pybabel extract` uses."""
    with (ROOT / "babel.cfg").open() as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    found: dict[tuple[str | None, str], list[str]] = {}
    skip = {"node_modules", "static", "frontend", "translations"}
    for filename, lineno, message, _comments, context in extract_from_dir(
            ROOT, method_map, options_map, keywords=DEFAULT_KEYWORDS,
            directory_filter=lambda path: Path(path).name not in skip and not Path(path).name.startswith((".", "_"))):
        msgid = message[0] if isinstance(message, tuple) else message
        if msgid:
            found.setdefault((context, msgid), []).append(f"{filename}:{lineno}")
    return found


def test_every_marked_string_has_an_english_translation() -> None:
    catalogue = _catalogue()
    missing = [f"{msgid!r} ({where[0]})" for (context, msgid), where in _extracted().items()
               if not (entry := catalogue.get(msgid, context)) or not entry.string or entry.fuzzy]
    assert not missing, f"{len(missing)} msgids without English in {CATALOGUE.name}:\n" + "\n".join(missing)


def test_the_english_is_english() -> None:
    """No msgstr keeps Chinese, except the lane name a designer types literally (巡察办)."""
    chinese = [(entry.id, entry.string) for entry in _catalogue()
               if entry.id and CJK.search(str(entry.string).replace("巡察办", ""))]
    assert not chinese, chinese


def test_the_english_fills_the_same_placeholders() -> None:
    """A %(name)s the English lacks or invents would fail or lose a value when the page is rendered."""
    placeholder = re.compile(r"%\((\w+)\)s")
    wrong = [(entry.id, entry.string) for entry in _catalogue() if entry.id
             and set(placeholder.findall(str(entry.id))) != set(placeholder.findall(str(entry.string)))]
    assert not wrong, wrong


def test_stored_words_cover_the_engines_vocabulary() -> None:
    """Stages, round kinds and methods, sectors and report kinds are shown through ``word``."""
    vocabulary = {*planning.STAGES, *planning.METHODS, *planning.SECTORS, *planning.KINDS,
                  ReportKind.CLUES, ReportKind.INTERVIEWS, ReportKind.INSPECTION}
    assert vocabulary <= set(STORED_WORDS)


def test_the_catalogue_is_compiled_when_missing_or_older_than_its_source(tmp_path: Path) -> None:
    source, target = tmp_path / "source", tmp_path / "compiled"
    po_path = source / "en" / "LC_MESSAGES" / "messages.po"
    po_path.parent.mkdir(parents=True)
    po_path.write_text('msgid ""\nmsgstr "Content-Type: text/plain; charset=utf-8\\n"\n\n'
                       'msgid "待办"\nmsgstr "Open"\n', encoding="utf-8")
    compile_catalogues(target, source)
    mo_path = target / "en" / "LC_MESSAGES" / "messages.mo"
    with mo_path.open("rb") as mo_file:
        assert GNUTranslations(mo_file).gettext("待办") == "Open"

    compiled_at = mo_path.stat().st_mtime_ns
    compile_catalogues(target, source)
    assert mo_path.stat().st_mtime_ns == compiled_at  # up to date: left alone
    po_path.write_text(po_path.read_text(encoding="utf-8").replace('"Open"', '"To do"'), encoding="utf-8")
    os.utime(po_path, ns=(compiled_at + 10**9, compiled_at + 10**9))
    compile_catalogues(target, source)
    with mo_path.open("rb") as mo_file:
        assert GNUTranslations(mo_file).gettext("待办") == "To do"


def test_the_catalogue_holds_no_string_the_code_no_longer_uses() -> None:
    used = set(_extracted())
    stale = [entry.id for entry in _catalogue() if entry.id and (entry.context, entry.id) not in used]
    assert not stale, f"{len(stale)} obsolete entries: {stale[:20]}"


def _templates() -> Iterator[Path]:
    for path in sorted(WEB.rglob("*.html")):
        if "node_modules" not in path.parts and "static" not in path.parts:
            yield path


_STRING = r"""(?:'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")"""
_MARKED = re.compile(r"\b(?:_|gettext)\(\s*" + _STRING + r"|\bpgettext\(\s*" + _STRING + r"\s*,\s*" + _STRING)
_COMMENT = re.compile(r"\{#.*?#\}", re.S)


def bare_chinese_in_template(source: str) -> list[str]:
    """The Chinese runs left once comments and gettext calls' literal arguments are taken out."""
    text = _MARKED.sub("", _COMMENT.sub("", source))
    runs = re.findall(r"[^\s<>{}'\"|]*" + CJK.pattern + r"[^\s<>{}'\"|]*", text)
    return [run for run in runs if run not in TEMPLATE_ALLOWED]


def test_the_template_scan_finds_bare_chinese_and_passes_marked_chinese() -> None:
    assert bare_chinese_in_template("<h1>{{ _('待办') }}</h1>{# 注释 #}<p>{{ pgettext('nav', '案件') }}</p>") == []
    assert bare_chinese_in_template("<th>状态</th>") == ["状态"]
    assert bare_chinese_in_template("{{ '已办' if done }}") == ["已办"]


def test_no_template_shows_chinese_outside_gettext() -> None:
    found = {str(path.relative_to(ROOT)): runs for path in _templates()
             if (runs := bare_chinese_in_template(path.read_text(encoding="utf-8")))}
    assert not found, json.dumps(found, ensure_ascii=False, indent=1)


def test_no_template_hides_gettext_behind_a_variable() -> None:
    """``{% set _ = … %}`` (a throwaway result) would shadow gettext for the rest of the template."""
    shadowing = [str(path.relative_to(ROOT)) for path in _templates()
                 if re.search(r"\{%-?\s*set\s+_\s*=", path.read_text(encoding="utf-8"))]
    assert not shadowing, shadowing


def _name(func: ast.expr) -> str:
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""


def _is_text(node: ast.expr, *, chinese: bool) -> bool:
    if isinstance(node, ast.JoinedStr):
        return any(_is_text(part, chinese=chinese) for part in node.values if isinstance(part, ast.Constant))
    return isinstance(node, ast.Constant) and isinstance(node.value, str) and bool(CJK.search(node.value)) == chinese


class _BareChinese(ast.NodeVisitor):
    """String literals with Chinese that are neither a gettext argument, a domain error's message, a
    ``zh``/``message_zh`` value of a pair, nor a docstring."""

    def __init__(self) -> None:
        self.found: list[tuple[int, str]] = []

    def visit_Call(self, node: ast.Call) -> None:
        if _name(node.func) in GETTEXT | PAIR_CALLS:
            return
        self.generic_visit(node)

    def visit_Dict(self, node: ast.Dict) -> None:
        for key, value in zip(node.keys, node.values, strict=True):
            if not (isinstance(key, ast.Constant) and key.value in PAIR_KEYS):
                self.visit(value)
            if key is not None:
                self.visit(key)

    def visit_keyword(self, node: ast.keyword) -> None:
        if node.arg not in PAIR_KEYS:
            self.generic_visit(node)

    def visit_Tuple(self, node: ast.Tuple) -> None:
        """A Chinese text followed by its English — ("已逾期", "Overdue"), ("请求失败。", error.name) — is a pair."""
        for index, element in enumerate(node.elts):
            following = node.elts[index + 1] if index + 1 < len(node.elts) else None
            if not (_is_text(element, chinese=True) and following is not None
                    and not _is_text(following, chinese=True)):
                self.visit(element)

    def visit_Expr(self, node: ast.Expr) -> None:
        if not (isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)):
            self.generic_visit(node)

    def visit_Constant(self, node: ast.Constant) -> None:
        if isinstance(node.value, str) and CJK.search(node.value):
            self.found.append((node.lineno, node.value))


def bare_chinese_in_python(source: str) -> list[tuple[int, str]]:
    visitor = _BareChinese()
    visitor.visit(ast.parse(source))
    return visitor.found


def test_the_python_scan_finds_bare_chinese_and_passes_pairs_and_gettext() -> None:
    source = ('"""说明。"""\nflash(_("已保存。"))\nraise InvalidInput("无效", "Invalid")\nx = {"zh": "甲", "en": "A"}\n'
              'LABELS = {"red": ("danger", "已逾期", "Overdue")}\n')
    assert bare_chinese_in_python(source) == []
    assert bare_chinese_in_python('flash("已保存。")\nflash(f"共 {n} 条")') == [(1, "已保存。"), (2, "共 "), (2, " 条")]
    assert bare_chinese_in_python('KINDS = ("巡察公告", "通知")') == [(1, "巡察公告"), (1, "通知")]


def test_no_web_code_shows_chinese_outside_gettext_or_a_pair() -> None:
    found = {f"{path.relative_to(ROOT)}:{line}": text for path in sorted(WEB.rglob("*.py"))
             if str(path.relative_to(ROOT)) not in PYTHON_EXEMPT
             for line, text in bare_chinese_in_python(path.read_text(encoding="utf-8"))}
    assert not found, json.dumps(found, ensure_ascii=False, indent=1)


FRONTEND = WEB / "frontend" / "src"
_JS_MARKED = re.compile(r"\bt\(\s*(" + _STRING + r"|`[^`$]*`)")


def _js_catalogue() -> dict[str, str]:
    return json.loads((FRONTEND / "i18n-en.json").read_text(encoding="utf-8"))


def test_front_end_chinese_is_all_looked_up_in_its_english_table() -> None:
    english = _js_catalogue()
    bare, untranslated = {}, []
    for path in sorted(FRONTEND.glob("*.js")):
        source = re.sub(r"/\*.*?\*/|^\s*//.*$", "", path.read_text(encoding="utf-8"), flags=re.S | re.M)
        for match in _JS_MARKED.finditer(source):
            if (msgid := match.group(1)[1:-1]) and not english.get(msgid):
                untranslated.append(msgid)
        if runs := CJK.findall(_JS_MARKED.sub("", source)):
            bare[path.name] = "".join(runs)
    assert not bare, f"Chinese outside t(...): {bare}"
    assert not untranslated, f"no English for: {untranslated}"
    assert all(english.values())
    braces = re.compile(r"\{(\w+)\}")
    assert [zh for zh, en in english.items() if set(braces.findall(zh)) != set(braces.findall(en))] == []


class _Chrome(HTMLParser):
    """The text of a page's chrome — navigation, headings, buttons, labels, table headers — without
    the elements that carry content (``data-content``) such as case titles and organisation names."""

    CHROME = {"nav", "h1", "h2", "h3", "button", "label", "th", "legend", "summary"}

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[tuple[str, bool]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in {"br", "img", "input", "meta", "link", "hr", "col", "source", "wbr"}:
            return
        content = any(name == "data-content" for name, _value in attrs)
        self.stack.append((tag, content or bool(self.stack and self.stack[-1][1])))

    def handle_endtag(self, tag: str) -> None:
        while self.stack:
            if self.stack.pop()[0] == tag:
                break

    def handle_data(self, data: str) -> None:
        tags = {tag for tag, _content in self.stack}
        if tags & self.CHROME and not any(content for _tag, content in self.stack):
            self.text.append(data)


def chrome_text(html: str) -> str:
    parser = _Chrome()
    parser.feed(html)
    return " ".join(parser.text)


def _english(factory: sessionmaker[Session], username: str) -> None:
    with transaction(factory) as s:
        s.execute(select(User).where(User.username == username)).scalar_one().locale = "en"


OFFICE_PAGES = ["/tasks", "/tasks?queue=done", "/cases", "/dashboard", "/definitions", "/audit", "/ledgers",
                "/notifications", "/extensions", "/planning", "/calendar"]


def test_an_english_reader_sees_no_chinese_in_the_page_chrome(
        client: FlaskClient, factory: sessionmaker[Session], ctx: EngineContext, demo: Demo) -> None:
    instance_id = open_rectification(factory, ctx, demo)
    task_id = ready_task(factory, instance_id, "receive_feedback").id
    leaks = {}
    for username, pages in (("office1", [*OFFICE_PAGES, f"/cases/{instance_id}"]),
                            ("unit1", ["/tasks", f"/tasks/{task_id}", f"/cases/{instance_id}"])):
        _english(factory, username)
        login(client, username)
        for path in pages:
            response = client.get(path)
            assert response.status_code == 200, path
            chrome = chrome_text(response.get_data(as_text=True))
            for allowed in TEMPLATE_ALLOWED:
                chrome = chrome.replace(allowed, "")
            assert "Log out" in chrome, path  # the navigation is chrome: the parser saw the page
            if chinese := CJK.findall(chrome):
                leaks[f"{username} {path}"] = "".join(chinese)
    assert not leaks, leaks
