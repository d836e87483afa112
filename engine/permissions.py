"""The one place that decides who may see a case and who may act on a task.

Rules (DOMAIN.md, "Confidentiality"):
- clues: the 巡察办 and the leading group over the case's scope, the inspection group that found
  them, and the receiving body's handlers — never the inspected unit, never a recused person;
- rectification cases: the unit sees its own, groups the units they inspected, offices their scope;
- any other instance: whoever holds a role over one of its bindings, or started it.
Rows one may not see are reported as "not found", so their existence does not leak.

``MATRIX`` below is the declarative statement of who may do what: one row per (resource, action),
naming the roles and whether the role must hold over the row's organisation. Pages, the API,
exports, search, dashboards and notifications ask ``allows``/``require`` (or, for a case row,
``can_see_instance``) instead of testing roles themselves. docs/security.md prints the table.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, false, or_

from models import HumanTask, Organisation, ProcessInstance

from .actors import Actor, Role
from .errors import NotPermitted

SCOPE = "_scope"
OVERSIGHT_ROLES = ("office", "leading_group")
CLUE_ROLES = ("inspection_group", "receiving_body")
RECTIFICATION_ROLES = ("inspection_group", "unit", "unit_leader")
# Roles that hold over the organisation another role is bound to: the unit's responsible leader
# sits at the unit the case binds to ``unit``.
ROLE_BINDING = {"unit_leader": "unit"}


def bound_path(instance: ProcessInstance, group_key: str) -> str | None:
    """The organisation the case binds this role to (directly, or through ``ROLE_BINDING``), if any."""
    bindings = instance.bindings or {}
    return bindings.get(group_key) or bindings.get(ROLE_BINDING.get(group_key, ""))


def binding_path(instance: ProcessInstance, group_key: str) -> str | None:
    return bound_path(instance, group_key) or (instance.bindings or {}).get(SCOPE)


def org_id_of(path: str | None) -> int | None:
    if not path:
        return None
    return int(path.strip("/").split("/")[-1])


def is_recused(actor: Actor, instance: ProcessInstance) -> bool:
    return actor.user_id in (instance.recused_user_ids or [])


def can_see_instance(actor: Actor, instance: ProcessInstance) -> bool:
    if is_recused(actor, instance):
        return False
    bindings = instance.bindings or {}
    scope = bindings.get(SCOPE)
    if any(actor.role_covers(role, scope) for role in OVERSIGHT_ROLES):
        return True
    if instance.case_kind == "clue":
        return any(actor.role_covers(role, bindings.get(role)) for role in CLUE_ROLES)
    if instance.case_kind == "rectification":
        return any(actor.role_covers(role, bound_path(instance, role)) for role in RECTIFICATION_ROLES)
    if instance.started_by_id == actor.user_id or actor.has_role("supervisor"):
        return True
    return any(actor.role_covers(key, path) for key, path in bindings.items() if key != SCOPE)


CASE_ROLES = {"clue": CLUE_ROLES, "rectification": RECTIFICATION_ROLES}


def case_prefilter(actor: Actor, case_kind: str) -> ColumnElement[bool]:
    """SQL condition narrowing ``case_kind`` instances to those ``can_see_instance`` may allow (it still
    decides row by row: 回避 and the exact scope): oversight roles by the case's scope, case roles by
    the binding they hold over — directly or through ``ROLE_BINDING`` (a unit's leader by its ``unit``)."""
    clauses: list[ColumnElement[bool]] = []
    for role in actor.roles:
        if role.group_key in OVERSIGHT_ROLES:
            keys = [SCOPE]
        elif role.group_key in CASE_ROLES[case_kind]:
            keys = [role.group_key, *([ROLE_BINDING[role.group_key]] if role.group_key in ROLE_BINDING else [])]
        else:
            continue
        clauses.extend(ProcessInstance.bindings[key].as_string().startswith(role.org_path, autoescape=True)
                       for key in keys)
    return or_(*clauses) if clauses else false()


def is_candidate(actor: Actor, task: HumanTask) -> bool:
    """May the actor take this task (claim it, or be assigned it)?"""
    if task.candidate_user_id is not None:
        return task.candidate_user_id == actor.user_id
    return task.candidate_group is not None and actor.role_covers(task.candidate_group, task.candidate_org_path)


def can_assign(actor: Actor, task: HumanTask) -> bool:
    """Offices and leading-group members may hand a task to someone within their scope."""
    return any(actor.role_covers(role, task.candidate_org_path) for role in OVERSIGHT_ROLES)


def candidate_filter(actor: Actor) -> ColumnElement[bool]:
    """SQL condition: human tasks offered to the actor (by role and scope, or personally)."""
    clauses: list[ColumnElement[bool]] = [HumanTask.candidate_user_id == actor.user_id]
    for role in actor.roles:
        clauses.append(and_(HumanTask.candidate_group == role.group_key,
                            HumanTask.candidate_org_path.startswith(role.org_path, autoescape=True)))
    return or_(*clauses) if clauses else false()


def cases_owned_within(paths: list[str]) -> ColumnElement[bool]:
    """SQL condition: cases whose owning office (the ``_scope`` binding) lies inside one of ``paths``."""
    return or_(*[ProcessInstance.bindings[SCOPE].as_string().startswith(p, autoescape=True) for p in paths])


def orgs_within(paths: list[str]) -> ColumnElement[bool]:
    """SQL condition: organisations inside one of the subtrees ``paths``."""
    return or_(*[Organisation.path.startswith(p, autoescape=True) for p in paths])


def oversight_filter(actor: Actor) -> ColumnElement[bool]:
    """SQL condition: tasks within the scope the actor oversees (office / leading group)."""
    clauses = [HumanTask.scope_path.startswith(r.org_path, autoescape=True)
               for r in actor.roles if r.group_key in OVERSIGHT_ROLES]
    return or_(*clauses) if clauses else false()


# -- the permission matrix -----------------------------------------------------------------------------------

ANYONE = "*"  # any logged-in user (rows are still filtered by the row rules above)


@dataclass(frozen=True)
class Rule:
    """Who may take an action: any of ``roles`` — held anywhere when ``scoped`` is False, over the
    organisation of the row in question when True, and over the whole tree (the city, the root
    organisation) when ``root`` is True: what spans every county (the one audit trail, the one
    calendar) is not for a county's office. ``row`` names the row rule that applies on top."""

    roles: tuple[str, ...]
    scoped: bool = False
    root: bool = False
    row: str = ""


CASE_ROW = "can_see_instance"  # the case rule above: kind, bindings, scope, 回避

MATRIX: dict[tuple[str, str], Rule] = {
    # Cases. A clue or rectification case one may not see is "not found"; the row rule decides.
    ("clue", "read"): Rule((*OVERSIGHT_ROLES, *CLUE_ROLES), row=CASE_ROW),
    ("clue", "hand_over"): Rule(("office",), scoped=True),
    ("clue", "export"): Rule((*OVERSIGHT_ROLES, *CLUE_ROLES), row=CASE_ROW),
    ("rectification", "read"): Rule((*OVERSIGHT_ROLES, *RECTIFICATION_ROLES), row=CASE_ROW),
    ("case", "suspend"): Rule(("office",), scoped=True, row=CASE_ROW),
    ("case", "revisit"): Rule(("office",), scoped=True, row=CASE_ROW),
    ("case", "assign_task"): Rule(OVERSIGHT_ROLES, scoped=True, row=CASE_ROW),
    # Comments and evidence on a running case: whoever has a task on it, and the office over it, which may
    # also withdraw anyone's upload (an uploader may always withdraw their own).
    ("case", "annotate"): Rule(("office",), scoped=True, row=CASE_ROW),
    ("case", "inspect_state"): Rule(("supervisor",)),  # the engine's task tree on the instance diagram
    ("attachment", "read"): Rule((ANYONE,), row=CASE_ROW),
    ("notification", "read"): Rule((ANYONE,)),  # one's own notifications only
    # Definitions: everyone may read the published diagrams; supervisors change them.
    ("definition", "read"): Rule((ANYONE,)),
    ("definition", "deploy"): Rule(("supervisor",)),
    ("definition", "release"): Rule(("supervisor",)),
    ("definition", "migrate"): Rule(("supervisor",)),
    # 流程故障: the office over the case and the supervisors who fix its diagram; rows by the case rule.
    ("incident", "read"): Rule(("office", "supervisor"), row=CASE_ROW),
    ("incident", "resolve"): Rule(("office", "supervisor"), row=CASE_ROW),
    ("form", "edit"): Rule(("supervisor",)),
    # The audit trail: auditors and the office read, verify and export it; nobody writes it but the engine.
    ("audit", "read"): Rule(("auditor", "office"), root=True),
    ("audit", "verify"): Rule(("auditor", "office"), root=True),
    ("audit", "export"): Rule(("auditor", "office"), root=True),
    # Office and leading-group pages.
    ("calendar", "read"): Rule((ANYONE,)),  # deadlines are computed from it for everyone
    ("calendar", "edit"): Rule(("office",), root=True),
    ("dashboard", "read"): Rule(OVERSIGHT_ROLES),
    ("report", "read"): Rule(OVERSIGHT_ROLES),
    ("report", "generate"): Rule(("office",)),
    ("plan", "read"): Rule(OVERSIGHT_ROLES, scoped=True),
    ("plan", "edit"): Rule(("office",), scoped=True),
    ("promotion_check", "run"): Rule(("organization", "office")),
    ("publication", "read"): Rule(OVERSIGHT_ROLES, scoped=True),  # withdrawn ones too; the public sees the rest
    ("publication", "publish"): Rule(("office",), scoped=True),  # and withdraw
    ("task", "see_all"): Rule(OVERSIGHT_ROLES),  # the 全部任务 queue, within one's scope
    # An inspection's outputs (成果录入): the office over the round and the group that visited the unit.
    ("intake", "read"): Rule((*OVERSIGHT_ROLES, "inspection_group"), scoped=True),
    ("intake", "record"): Rule(("office", "inspection_group"), scoped=True),
    # A unit's 整改台账: read by the office and leading group over it, the unit, the groups that inspected it;
    # kept (对账) by the office, the groups and the unit; on an item the unit fills in its working columns
    # and the office and the group their review opinion (and add lines).
    ("ledger", "read"): Rule((*OVERSIGHT_ROLES, *RECTIFICATION_ROLES), scoped=True),
    ("ledger", "reconcile"): Rule(("office", "inspection_group", "unit"), scoped=True),
    ("rectification_item", "report_progress"): Rule(("unit", "unit_leader"), scoped=True, row=CASE_ROW),
    ("rectification_item", "review"): Rule(("office", "inspection_group"), scoped=True, row=CASE_ROW),
    ("rectification_item", "add"): Rule(("office", "inspection_group"), scoped=True, row=CASE_ROW),
}


def allows(actor: Actor | None, resource: str, action: str, org_path: str | None = None) -> bool:
    """Does the matrix let the actor take this action (on a row at ``org_path`` when the rule is scoped)?

    Only the role part: for a case row, also ask ``can_see_instance`` (``require_case`` does both).
    An unknown (resource, action) is refused, so a forgotten entry fails closed."""
    rule = MATRIX.get((resource, action))
    if actor is None or rule is None:
        return False
    if ANYONE in rule.roles:
        return True
    if rule.root:
        return any(r.group_key in rule.roles and is_root_path(r.org_path) for r in actor.roles)
    if rule.scoped and org_path is not None:
        return any(actor.role_covers(role, org_path) for role in rule.roles)
    return any(actor.has_role(role) for role in rule.roles)


def allows_over_any(actor: Actor | None, resource: str, action: str, org_paths: Iterable[str]) -> bool:
    """``allows`` for a row that belongs to several organisations at once — an inspection to the round's
    office and to the team that visited, a unit's ledger to the unit and to every team that inspected it —
    so each role is asked over the organisation it holds."""
    return any(allows(actor, resource, action, path) for path in org_paths)


def case_path(instance: ProcessInstance, group_key: str) -> str | None:
    """Where a role must hold to act on this case: the owning office's scope for the office and the leading
    group (as for seeing it), the case's binding of the role for the others (a unit's leader by its unit)."""
    if group_key in OVERSIGHT_ROLES:
        return (instance.bindings or {}).get(SCOPE)
    return bound_path(instance, group_key)


def allows_on_case(actor: Actor | None, resource: str, action: str, instance: ProcessInstance) -> bool:
    """``allows`` for an action on a case: a scoped rule's roles must hold over the case's organisation for
    that role (``case_path``), and a rule with the case row rule needs ``can_see_instance`` as well."""
    rule = MATRIX.get((resource, action))
    if actor is None or rule is None or (rule.row == CASE_ROW and not can_see_instance(actor, instance)):
        return False
    if not rule.scoped or ANYONE in rule.roles:
        return allows(actor, resource, action)
    return any(actor.role_covers(role, case_path(instance, role)) for role in rule.roles)


def granting_roles(actor: Actor, resource: str, action: str) -> list[Role]:
    """The actor's roles the rule admits (for a root rule, only those held over the root): where each
    applies is where the actor may take the action, for listings and figures bounded by scope."""
    rule = MATRIX.get((resource, action))
    if rule is None:
        return []
    return [r for r in actor.roles if (ANYONE in rule.roles or r.group_key in rule.roles)
            and (not rule.root or is_root_path(r.org_path))]


def scopes(actor: Actor, resource: str, action: str) -> list[str]:
    """The organisation subtrees (paths) within which the actor may take the action; empty if nowhere."""
    return sorted({r.org_path for r in granting_roles(actor, resource, action)})


def is_root_path(org_path: str) -> bool:
    """The root organisation's path is one id between slashes ("/1/")."""
    return org_path.count("/") == 2


def require(actor: Actor | None, resource: str, action: str, org_path: str | None = None) -> None:
    """Raise ``NotPermitted`` (403) unless ``allows``; for actions, not for rows one may not know exist."""
    if not allows(actor, resource, action, org_path):
        rule = MATRIX.get((resource, action))
        raise NotPermitted("您无权进行此操作。", "You are not permitted to do this.",
                           {"resource": resource, "action": action, "roles": list(rule.roles) if rule else []})
