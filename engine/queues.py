"""Work queues read from the human_task projection: mine, my groups', done by me, and all (oversight),
with the filters, search, sorts and counts the queue pages and the API share.

Visibility is ``engine.permissions``' (candidate_filter, oversight_filter) plus 回避 (NOT EXISTS a
recusal row); filters only ever narrow that. Every condition here is one the indexes of migration
0005 serve (see docs/performance.md for the plans and figures at 1,000,000 rows).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, exists, func, literal, or_, select
from sqlalchemy.orm import Session

from models import HumanTask, Organisation, OrgKind, Recusal, Round, TaskStatus, User

from .actors import Actor
from .calendar import LOCAL_TZ
from .deadlines import COLOURS, GREEN, RED, YELLOW, yellow_from
from .definitions import SPEC_CACHE, list_latest
from .errors import InvalidInput, NotPermitted
from .forms import FormStore
from .paging import Page
from .permissions import allows, candidate_filter, oversight_filter, scopes

QUEUES = ("mine", "group", "done", "all")
STATUSES = (TaskStatus.READY, TaskStatus.COMPLETED, TaskStatus.CANCELLED)
# Deadlines first, no deadline last; "-due" is its exact reverse, so one index serves both directions.
SORTS: dict[str, Any] = {
    "due": (HumanTask.due_at.asc().nulls_last(), HumanTask.id.asc()),
    "-due": (HumanTask.due_at.desc().nulls_first(), HumanTask.id.desc()),
    "priority": (HumanTask.priority.desc(), HumanTask.due_at.asc().nulls_last(), HumanTask.id.asc()),
    "created": (HumanTask.created_at.asc(), HumanTask.id.asc()),
    "-created": (HumanTask.created_at.desc(), HumanTask.id.desc()),
}
# 已办 lists what one did most recently first unless another order is asked for.
DONE_ORDER = (HumanTask.completed_at.desc(), HumanTask.id.desc())
MAX_PER_PAGE = 100
MAX_SEARCH = 100
UNASSIGNED = "unassigned"
ORG_PATH = re.compile(r"^/(?:\d+/)+$")


def _invalid(param: str, raw: Any, zh: str, en: str, **more: Any) -> InvalidInput:
    return InvalidInput(f"参数 {param} 无效：{zh}", f"Invalid parameter '{param}': {en}",
                        {"parameter": param, "value": raw, **more})


def _text(args: Mapping[str, Any], name: str, limit: int) -> str | None:
    raw = args.get(name)
    if raw is None:
        return None
    if not isinstance(raw, str | int) or isinstance(raw, bool):
        raise _invalid(name, raw, "必须是文字。", "it must be text.")
    value = str(raw).strip()
    if len(value) > limit:
        raise _invalid(name, raw, f"最长 {limit} 个字。", f"at most {limit} characters.")
    return value or None


def _org_ref(args: Mapping[str, Any], name: str) -> str | None:
    value = _text(args, name, 512)
    if value is not None and not (value.isascii() and value.isdigit()) and not ORG_PATH.match(value):
        raise _invalid(name, value, "应为组织编号或组织路径（如 /1/8/）。",
                       "expected an organisation id or path (such as /1/8/).")
    return value


def _positive_int(args: Mapping[str, Any], name: str) -> int | None:
    value = _text(args, name, 18)
    if value is None:
        return None
    if not (value.isascii() and value.isdigit()) or int(value) < 1:
        raise _invalid(name, value, "应为正整数。", "expected a positive integer.")
    return int(value)


def _choice(args: Mapping[str, Any], name: str, allowed: tuple[str, ...]) -> str | None:
    value = _text(args, name, 32)
    if value is not None and value not in allowed:
        raise _invalid(name, value, f"可选值为 {'、'.join(allowed)}。", f"allowed values: {', '.join(allowed)}.",
                       allowed=list(allowed))
    return value


def _date(args: Mapping[str, Any], name: str) -> date | None:
    value = _text(args, name, 10)
    if value is None:
        return None
    try:
        if len(value) != 10:
            raise ValueError(value)
        return date.fromisoformat(value)
    except ValueError:
        raise _invalid(name, value, "应为日期，如 2026-11-25。", "expected a date such as 2026-11-25.") from None


@dataclass(frozen=True)
class TaskFilter:
    """What a queue is narrowed to. Built from query parameters by :meth:`from_args` (names in
    ``PARAMS``), kept in saved filters as :meth:`as_args`. Dates are local (Beijing) calendar days,
    both ends included."""

    process_key: str | None = None
    task: str | None = None  # a task's BPMN id or its exact name
    unit: str | None = None  # the inspected unit: organisation id or materialised path
    round_id: int | None = None
    county: str | None = None  # organisation id or path; every unit below it
    status: str | None = None
    colour: str | None = None  # red / yellow / green (engine.deadlines); open tasks only
    assignee: str | None = None  # username, user id, or "unassigned"
    created_from: date | None = None
    created_to: date | None = None
    due_from: date | None = None
    due_to: date | None = None
    q: str | None = None  # text in the case number or the case title

    @classmethod
    def from_args(cls, args: Mapping[str, Any]) -> TaskFilter:
        """Read the filter parameters, refusing nonsense with InvalidInput naming the parameter.
        Other keys (queue, sort, page …) are left to their readers."""
        found = cls(
            process_key=_text(args, "process", 128), task=_text(args, "task", 300), unit=_org_ref(args, "unit"),
            round_id=_positive_int(args, "round"), county=_org_ref(args, "county"),
            status=_choice(args, "status", STATUSES), colour=_choice(args, "colour", COLOURS),
            assignee=_text(args, "assignee", 64), created_from=_date(args, "created_from"),
            created_to=_date(args, "created_to"), due_from=_date(args, "due_from"), due_to=_date(args, "due_to"),
            q=_text(args, "q", MAX_SEARCH))
        for start, end in (("created_from", "created_to"), ("due_from", "due_to")):
            low, high = getattr(found, start), getattr(found, end)
            if low and high and low > high:
                raise _invalid(start, low.isoformat(), f"晚于 {end}。", f"it is after '{end}'.",
                               **{end: high.isoformat()})
        if found.colour and found.status not in (None, TaskStatus.READY):
            raise _invalid("colour", found.colour, "期限颜色只适用于待办（status=ready）任务。",
                           "deadline colours apply to open (status=ready) tasks only.", status=found.status)
        return found

    def as_args(self) -> dict[str, str]:
        """The query parameters that give this filter back (empty ones left out)."""
        result = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is not None:
                result[PARAM_OF[f.name]] = value.isoformat() if isinstance(value, date) else str(value)
        return result

    def is_empty(self) -> bool:
        return not self.as_args()


PARAM_OF = {"process_key": "process", "round_id": "round"} | {
    f.name: f.name for f in fields(TaskFilter) if f.name not in ("process_key", "round_id")}
PARAMS = tuple(PARAM_OF.values())
ONLY_FOR = {"assignee": ("all",), "colour": ("mine", "group", "all")}


def status_is(status: str) -> ColumnElement[bool]:
    """The status written into the SQL (one of STATUSES, never user text), so that both databases can
    match the partial indexes' ``WHERE status = 'ready'`` (a bound parameter cannot prove it)."""
    return HumanTask.status == literal(status, literal_execute=True)


def _local_day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=LOCAL_TZ)


def _between(column: Any, low: date | None, high: date | None) -> list[ColumnElement[bool]]:
    clauses = []
    if low:
        clauses.append(column >= _local_day_start(low))
    if high:
        clauses.append(column < _local_day_start(high + timedelta(days=1)))
    return clauses


def _org_path(session: Session, param: str, ref: str) -> str:
    if ORG_PATH.match(ref):
        return ref
    path = session.execute(select(Organisation.path).where(Organisation.id == int(ref))).scalar_one_or_none()
    if path is None:
        raise _invalid(param, ref, "没有这个组织。", "no such organisation.")
    return path


def _assignee_condition(session: Session, ref: str) -> ColumnElement[bool]:
    if ref == UNASSIGNED:
        return HumanTask.assignee_id.is_(None)
    column = User.id if ref.isascii() and ref.isdigit() else User.username
    user_id = session.execute(select(User.id).where(column == ref)).scalar_one_or_none()
    if user_id is None:
        raise _invalid("assignee", ref, "没有这个用户。", "no such user.")
    return HumanTask.assignee_id == user_id


def search_pattern(q: str) -> str:
    """``%q%`` for (I)LIKE with the user's own % and _ taken literally (escape character ``\\``)."""
    return "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def filter_conditions(session: Session, f: TaskFilter, now: datetime | None) -> list[ColumnElement[bool]]:
    """SQL conditions for the filter (references to organisations and users resolved here)."""
    clauses: list[ColumnElement[bool]] = []
    if f.process_key:
        clauses.append(HumanTask.process_key == f.process_key)
    if f.task:
        clauses.append(or_(HumanTask.bpmn_id == f.task, HumanTask.name == f.task))
    if f.unit:
        clauses.append(HumanTask.unit_path == _org_path(session, "unit", f.unit))
    if f.county:
        clauses.append(HumanTask.unit_path.startswith(_org_path(session, "county", f.county), autoescape=True))
    if f.round_id:
        clauses.append(HumanTask.round_id == f.round_id)
    if f.status:
        clauses.append(status_is(f.status))
    if f.colour:
        if now is None:
            raise ValueError("a deadline colour filter needs the engine's current time (now=ctx.clock.now())")
        yellow_until = yellow_from(now)
        clauses.append(status_is(TaskStatus.READY))
        clauses.append({RED: HumanTask.due_at < now,
                        YELLOW: and_(HumanTask.due_at >= now, HumanTask.due_at <= yellow_until),
                        GREEN: HumanTask.due_at > yellow_until}[f.colour])
    if f.assignee:
        clauses.append(_assignee_condition(session, f.assignee))
    clauses += _between(HumanTask.created_at, f.created_from, f.created_to)
    clauses += _between(HumanTask.due_at, f.due_from, f.due_to)
    if f.q:
        pattern = search_pattern(f.q)
        clauses.append(or_(HumanTask.reference.ilike(pattern, escape="\\"),
                           HumanTask.title.ilike(pattern, escape="\\")))
    return clauses


def may_see_all(actor: Actor) -> bool:
    return allows(actor, "task", "see_all")


def queue_condition(actor: Actor, queue: str) -> ColumnElement[bool]:
    """Which rows make up the queue for this actor (before 回避 and filters)."""
    if queue == "mine":
        return and_(HumanTask.assignee_id == actor.user_id, status_is(TaskStatus.READY))
    if queue == "group":
        return and_(status_is(TaskStatus.READY), HumanTask.assignee_id.is_(None), candidate_filter(actor))
    if queue == "done":
        return HumanTask.completed_by_id == actor.user_id
    if queue == "all":
        if not may_see_all(actor):
            raise NotPermitted("只有巡察办和领导小组可以查看全部任务。",
                               "Only the office and the leading group may see all tasks.")
        return oversight_filter(actor)
    raise _invalid("queue", queue, f"可选值为 {'、'.join(QUEUES)}。", f"allowed values: {', '.join(QUEUES)}.",
                   allowed=list(QUEUES))


def not_recused(actor: Actor) -> ColumnElement[bool]:
    return ~exists().where(Recusal.instance_id == HumanTask.instance_id, Recusal.user_id == actor.user_id)


def check_sort(sort: str) -> None:
    if sort not in SORTS:
        raise _invalid("sort", sort, f"可选值为 {'、'.join(SORTS)}。", f"allowed values: {', '.join(SORTS)}.",
                       allowed=list(SORTS))


def check_applies(queue: str, f: TaskFilter) -> None:
    """Filters that mean nothing for a queue (whose assignee in 我的待办?) are refused, not ignored."""
    for name, queues in ONLY_FOR.items():
        if getattr(f, name) is not None and queue not in queues:
            raise _invalid(name, getattr(f, name), f"不适用于“{queue}”队列。",
                           f"does not apply to the '{queue}' queue.", queue=queue)


def queue_query(session: Session, actor: Actor, queue: str, f: TaskFilter, now: datetime | None) -> Select[Any]:
    """The rows of a queue for this actor, filtered (unordered): listing pages and claiming the next task."""
    check_applies(queue, f)
    stmt = select(HumanTask).where(queue_condition(actor, queue), not_recused(actor))
    if queue == "all" and f.status is None:
        stmt = stmt.where(status_is(TaskStatus.READY))
    return stmt.where(*filter_conditions(session, f, now))


def list_tasks(session: Session, actor: Actor, queue: str = "mine", *, filters: TaskFilter | None = None,
               sort: str = "due", page: int = 1, per_page: int = 20, now: datetime | None = None
               ) -> Page[HumanTask]:
    """One page of a queue. ``now`` (the engine clock's) is needed for the deadline-colour filter."""
    check_sort(sort)
    if page < 1 or not 1 <= per_page <= MAX_PER_PAGE:
        raise InvalidInput("分页参数无效。", "Invalid page parameters.", {"page": page, "per_page": per_page})
    stmt = queue_query(session, actor, queue, filters or TaskFilter(), now)
    total = session.execute(select(func.count()).select_from(stmt.subquery())).scalar_one()
    order = DONE_ORDER if queue == "done" and sort == "due" else SORTS[sort]
    items = list(session.execute(stmt.order_by(*order).limit(per_page).offset((page - 1) * per_page)).scalars())
    return Page(items, total, page, per_page)


NAV_COUNT_CAP = 999


def queue_counts(session: Session, actor: Actor, cap: int = NAV_COUNT_CAP) -> dict[str, int]:
    """The navigation's counts (every page shows them): 我的待办 and 组待办, counted up to ``cap + 1``
    (shown as "999+"), so that a city office's thousands of offered tasks cost no more than a few."""
    counts = {}
    for queue in ("mine", "group"):
        rows = select(HumanTask.id).where(queue_condition(actor, queue), not_recused(actor)).limit(cap + 1)
        counts[queue] = session.execute(select(func.count()).select_from(rows.subquery())).scalar_one()
    return counts


# -- the filter form's choices ------------------------------------------------------------------------------

Choice = tuple[str, str]  # (parameter value, label)
UNIT_KINDS = (OrgKind.UNIT, OrgKind.TOWNSHIP)


@dataclass
class FilterOptions:
    """What the filter form offers: only what the actor may see. For 全部 that is everything in the
    oversight scope; for the personal queues, what occurs in the queue's own rows."""

    processes: list[Choice]
    tasks: list[Choice]
    units: list[Choice]
    counties: list[Choice]
    rounds: list[Choice]
    assignees: list[Choice]


def _task_labels(session: Session, forms: FormStore) -> dict[tuple[str, str], tuple[str, str]]:
    """(process key, bpmn id) → (process name, task name), from the newest version of each process."""
    labels = {}
    for definition in list_latest(session):
        parsed = SPEC_CACHE.get(session, definition, forms)
        for bpmn_id, info in parsed.tasks.items():
            labels[(definition.key, bpmn_id)] = (definition.name, info.name)
    return labels


def _ancestor_ids(paths: set[str]) -> set[int]:
    return {int(part) for path in paths for part in path.strip("/").split("/") if part}


def filter_options(session: Session, forms: FormStore, actor: Actor, queue: str) -> FilterOptions:
    labels = _task_labels(session, forms)
    org_choices = select(Organisation.id, Organisation.name).order_by(func.length(Organisation.path),
                                                                      Organisation.path)
    if queue == "all":
        if not may_see_all(actor):
            raise NotPermitted("只有巡察办和领导小组可以查看全部任务。",
                               "Only the office and the leading group may see all tasks.")
        paths = scopes(actor, "task", "see_all")

        def inside(column: Any) -> ColumnElement[bool]:
            return or_(*(column.startswith(s, autoescape=True) for s in paths))

        keys = {key for key, _ in labels}
        pairs = set(labels)
        units = org_choices.where(Organisation.kind.in_(UNIT_KINDS), inside(Organisation.path))
        counties = org_choices.where(Organisation.kind == OrgKind.COUNTY, inside(Organisation.path))
        rounds = select(Round.id, Round.name).join(Organisation, Organisation.id == Round.org_id).where(
            inside(Organisation.path))
        assignees = [(u, n) for u, n in session.execute(
            select(User.username, User.display_name).join(Organisation, Organisation.id == User.org_id)
            .where(User.active.is_(True), inside(Organisation.path)).order_by(User.username))]
    else:
        rows = session.execute(select(HumanTask.process_key, HumanTask.bpmn_id, HumanTask.unit_path,
                                      HumanTask.round_id).where(queue_condition(actor, queue), not_recused(actor))
                               .distinct()).all()
        keys = {r.process_key for r in rows}
        pairs = {(r.process_key, r.bpmn_id) for r in rows}
        unit_paths = {r.unit_path for r in rows if r.unit_path}
        units = org_choices.where(Organisation.path.in_(unit_paths))
        counties = org_choices.where(Organisation.kind == OrgKind.COUNTY,
                                     Organisation.id.in_(_ancestor_ids(unit_paths)))
        rounds = select(Round.id, Round.name).where(Round.id.in_({r.round_id for r in rows if r.round_id}))
        assignees = []
    names = {key: process for (key, _), (process, _) in labels.items()}
    return FilterOptions(
        processes=sorted(((k, names.get(k, k)) for k in keys), key=lambda c: c[1]),
        tasks=sorted({(b, f"{labels[(k, b)][0]} · {labels[(k, b)][1]}" if (k, b) in labels else b)
                      for k, b in pairs}, key=lambda c: c[1]),
        units=[(str(i), n) for i, n in session.execute(units)],
        counties=[(str(i), n) for i, n in session.execute(counties)],
        rounds=[(str(i), n) for i, n in session.execute(rounds.order_by(Round.year.desc(), Round.number.desc()))],
        assignees=[(UNASSIGNED, "（未签收）"), *assignees] if queue == "all" else [])
