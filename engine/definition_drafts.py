"""Diagram drafts: a supervisor's unfinished edit of a process, kept between modeler sessions.

One draft per process key and author (``models.DefinitionDraft``). The key is the diagram's
executable process id, read from the XML, so a draft always names the process it would deploy as.
Saving checks the draft's ``revision`` (a ``version_id_col``): a second tab or window that saves over
a newer copy gets 409 ``stale_state`` instead of silently losing the other's work. Drafts are private
and not audited (see docs/architecture.md): deploying is what is audited, by ``engine.definitions``.

Also here: checking a diagram without storing it (``validate``) and what the modeler offers in its
巡察 panel (``catalog``: groups, forms, escalation grades and audiences).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from lxml import etree
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from models import DefinitionDraft, Group

from .actors import Actor
from .context import EngineContext
from .definitions import (
    BPMN_NS,
    ESCALATION_GRADES,
    HOLDER,
    MAX_BPMN_BYTES,
    DeployResult,
    Problem,
    get_version,
    known_groups,
    parse_definition,
)
from .errors import DefinitionInvalid, InvalidInput, NotFound, NotPermitted, StaleState, TooLarge
from .form_library import list_forms
from .permissions import allows
from .versions import current_definition, deploy_version

SUPERVISOR = "supervisor"


@dataclass(frozen=True)
class DiagramHead:
    """What a draft is filed under: the executable process's id and name."""

    key: str
    name: str


def require_supervisor(actor: Actor) -> None:
    if not allows(actor, "definition", "deploy"):
        raise NotPermitted("只有流程管理员可以编辑流程图。", "Only supervisors may edit process diagrams.",
                           {"roles": [SUPERVISOR]})


def _check_size(xml: bytes) -> None:
    if len(xml) > MAX_BPMN_BYTES:
        limit = MAX_BPMN_BYTES // (1024 * 1024)
        raise TooLarge(f"流程图过大（上限 {limit} MB）。", f"The diagram is too large (limit {limit} MB).",
                       {"bytes": len(xml), "limit": MAX_BPMN_BYTES})


def diagram_head(xml: bytes) -> DiagramHead:
    """The executable process of the diagram (the one no call activity calls, if there are several).
    Parsed without entities, DTDs or network access, like deploy."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
    try:
        root = etree.fromstring(xml, parser=parser)
    except etree.XMLSyntaxError as exc:
        raise DefinitionInvalid("流程图不是有效的 XML。", "The diagram is not valid XML.", {"problems": [
            Problem(None, f"XML 格式错误（第 {exc.lineno} 行）：{exc.msg}",
                    f"Malformed XML (line {exc.lineno}): {exc.msg}").as_dict()]}) from exc
    processes = [p for p in root.iter(f"{{{BPMN_NS}}}process") if p.get("isExecutable") == "true" and p.get("id")]
    called = {el.get("calledElement") for el in root.iter(f"{{{BPMN_NS}}}callActivity")}
    top = [p for p in processes if p.get("id") not in called] if len(processes) > 1 else processes
    if len(top) != 1:
        raise DefinitionInvalid(
            "无法确定流程标识：图中须有且只有一个顶层可执行流程（isExecutable=\"true\"）。",
            "Cannot tell the process key: the diagram needs exactly one top-level executable process.",
            {"problems": [Problem(p.get("id"), "顶层可执行流程之一。", "One of the top-level executable processes.")
                          .as_dict() for p in top]})
    process = top[0]
    key = str(process.get("id"))
    if len(key) > 128:
        raise InvalidInput("流程标识过长（上限 128 个字符）。", "The process id is too long (limit 128 characters).")
    return DiagramHead(key, (process.get("name") or key).strip()[:200])


def load_draft(session: Session, actor: Actor, key: str) -> DefinitionDraft | None:
    """The actor's own draft of ``key``, if any (nobody reads another's draft)."""
    require_supervisor(actor)
    return session.execute(select(DefinitionDraft).where(
        DefinitionDraft.key == key, DefinitionDraft.author_id == actor.user_id)).scalar_one_or_none()


def get_draft(session: Session, actor: Actor, key: str) -> DefinitionDraft:
    draft = load_draft(session, actor, key)
    if draft is None:
        raise NotFound(f"没有流程“{key}”的草稿。", f"There is no draft of process '{key}'.")
    return draft


def list_drafts(session: Session, actor: Actor) -> list[DefinitionDraft]:
    require_supervisor(actor)
    return list(session.execute(select(DefinitionDraft).where(DefinitionDraft.author_id == actor.user_id)
                                .order_by(DefinitionDraft.updated_at.desc(), DefinitionDraft.key)).scalars())


def _stale() -> StaleState:
    return StaleState("草稿已在别处修改（另一个窗口或标签页），请重新打开后再保存。",
                      "The draft was changed elsewhere (another window or tab); reopen it before saving.")


def save_draft(session: Session, actor: Actor, xml: bytes, *, now: datetime, key: str | None = None,
               expected_revision: int | None = None, based_on_version: int | None = None) -> DefinitionDraft:
    """Create or update the actor's draft of the diagram's process.

    ``expected_revision`` is the revision the editor loaded (None: the editor started without a
    draft). Anything else than the stored draft's revision — or a draft that appeared or vanished
    meanwhile — is 409 ``stale_state``. ``key``, when given (the URL's), must be the diagram's.
    """
    require_supervisor(actor)
    _check_size(xml)
    head = diagram_head(xml)
    if key is not None and key != head.key:
        raise InvalidInput(f"流程图的流程标识是“{head.key}”，不是“{key}”。",
                           f"The diagram's process id is '{head.key}', not '{key}'.",
                           {"key": key, "process_id": head.key})
    based_on_id = None
    if based_on_version is not None:
        based_on_id = get_version(session, head.key, based_on_version).id
    draft = session.execute(select(DefinitionDraft).where(
        DefinitionDraft.key == head.key, DefinitionDraft.author_id == actor.user_id).with_for_update()
    ).scalar_one_or_none()
    if draft is None:
        if expected_revision is not None:  # discarded or deployed from another tab meanwhile
            raise _stale()
        draft = DefinitionDraft(key=head.key, author_id=actor.user_id, created_at=now, based_on_id=based_on_id)
        session.add(draft)
    elif expected_revision != draft.revision:
        raise _stale()
    draft.name, draft.bpmn_xml, draft.updated_at = head.name, xml.decode("utf-8"), now
    if based_on_id is not None:
        draft.based_on_id = based_on_id
    try:
        session.flush()
    except (IntegrityError, StaleDataError) as exc:  # a concurrent first save, or an update that lost the race
        raise _stale() from exc
    return draft


def discard_draft(session: Session, actor: Actor, key: str, *, expected_revision: int | None = None) -> None:
    """Delete the actor's draft of ``key`` (404 if there is none; 409 if it changed since ``expected_revision``)."""
    draft = get_draft(session, actor, key)
    if expected_revision is not None and expected_revision != draft.revision:
        raise _stale()
    session.delete(draft)
    session.flush()


def drop_draft_after_deploy(session: Session, actor: Actor, key: str) -> None:
    """A deployed diagram is no longer a draft: called in the deploy's transaction."""
    session.execute(delete(DefinitionDraft).where(DefinitionDraft.key == key,
                                                  DefinitionDraft.author_id == actor.user_id))


@dataclass(frozen=True)
class Validation:
    ok: bool
    problems: list[Problem]

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "problems": [p.as_dict() for p in self.problems]}


def validate(session: Session, ctx: EngineContext, actor: Actor, xml: bytes) -> Validation:
    """Check a diagram exactly as deploy would, storing nothing: every problem (errors and warnings)
    with the element it concerns. ``ok`` is true when deploy would accept it."""
    require_supervisor(actor)
    _check_size(xml)
    try:
        parsed = parse_definition(xml, known_groups(session), ctx.forms)
    except DefinitionInvalid as exc:
        raw = exc.details.get("problems") or []
        problems = [Problem(p.get("element_id"), p["message_zh"], p["message_en"], p.get("severity", "error"))
                    for p in raw] or [Problem(None, exc.message_zh, exc.message_en)]
        return Validation(False, problems)
    return Validation(True, list(parsed.warnings))


@dataclass(frozen=True)
class FormChoice:
    key: str  # what a user task's formJsonSchemaFilename holds
    title: str
    source: str  # "file" (shipped in workflows/forms) or "stored" (written in the form editor)

    def as_dict(self) -> dict[str, str]:
        return {"key": self.key, "title": self.title, "source": self.source}


def available_forms(session: Session, ctx: EngineContext) -> list[FormChoice]:
    """Every form a user task may name: each version of the stored forms (``name@version``, newest
    first) and the shipped JSON-Schema files, as the form library lists them."""
    choices: list[FormChoice] = []
    for entry in list_forms(session, ctx.forms):
        if entry.source == "stored":
            choices += [FormChoice(entry.key_for(v), f"{entry.title}（第 {v} 版）", "stored")
                        for v in reversed(entry.versions)]
        else:
            choices.append(FormChoice(entry.key, entry.title, "file"))
    return choices


ESCALATION_LABELS = {"提醒": "Reminder", "督办": "Supervision", "通报": "Public notice"}


def catalog(session: Session, ctx: EngineContext, actor: Actor) -> dict[str, Any]:
    """What the modeler's 巡察 panel offers: groups for lanes, forms for user tasks, escalation grades
    and audiences for boundary timers."""
    require_supervisor(actor)
    groups = [{"key": g.key, "name": g.name} for g in session.execute(select(Group).order_by(Group.key)).scalars()]
    audiences = [{"key": HOLDER, "name": "办理人（或候选人）", "name_en": "Task holder (or candidates)"}]
    audiences += [{"key": g["key"], "name": g["name"], "name_en": g["key"]} for g in groups]
    return {
        "groups": groups,
        "forms": [f.as_dict() for f in available_forms(session, ctx)],
        "escalation_grades": [{"key": grade, "name": grade, "name_en": ESCALATION_LABELS[grade]}
                              for grade in ESCALATION_GRADES],
        "audiences": audiences,
    }


def starting_xml(session: Session, actor: Actor, key: str, version: int | None) -> tuple[str, int]:
    """The XML of the version to edit (the current one when ``version`` is None) and its number."""
    require_supervisor(actor)
    definition = get_version(session, key, version) if version is not None else current_definition(session, key)
    return definition.bpmn_xml, definition.version


def deploy_diagram(session: Session, ctx: EngineContext, actor: Actor, xml: bytes, *, comment: str | None = None,
                   make_current: bool = True) -> DeployResult:
    """部署 from the modeler: validated and audited like any deploy (``versions.deploy_version``);
    the author's draft of that process goes in the same transaction."""
    require_supervisor(actor)
    _check_size(xml)
    result = deploy_version(session, xml, actor, ctx.forms, at=ctx.clock.now(), comment=comment,
                            make_current=make_current)
    drop_draft_after_deploy(session, actor, result.definition.key)
    return result
