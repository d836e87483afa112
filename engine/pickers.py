"""What the person and organisation pickers of a case's forms offer, and so what they accept.

A user picker (``"ui:widget": "user"``) offers the people who could be handed work on the case: those
holding the field's role (``"ui:options": {"group": "receiving_body"}``) over the organisation the case
binds to that role — or, without a group, a role over any organisation bound to the case — who may see
the case and are not recused from it. An organisation picker (``"ui:widget": "org"``) offers the
organisations inside the case's scope, optionally of some kinds (``"ui:options": {"kinds": ["unit"]}``).

engine.forms.validate asks these when a form is submitted and the task page lists them, so the two
never disagree. Nothing is read until a picker field asks.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session, selectinload

from models import Group, Membership, Organisation, ProcessInstance, User

from .actors import actor_for
from .forms import Choice
from .permissions import SCOPE, binding_path, can_see_instance


def ancestor_paths(path: str) -> list[str]:
    """"/1/4/17/" → ["/1/", "/1/4/", "/1/4/17/"]: the organisations whose scope covers it."""
    parts = [p for p in path.split("/") if p]
    return ["/" + "/".join(parts[:n]) + "/" for n in range(1, len(parts) + 1)]


class CaseChoices:
    """The choices of one case's pickers (engine.forms.Choices), each read once."""

    def __init__(self, session: Session, instance: ProcessInstance):
        self.session = session
        self.instance = instance
        self._cache: dict[str, list[Choice]] = {}

    def options(self, widget: str, hints: Mapping[str, Any]) -> list[Choice]:
        key = json.dumps([widget, hints], sort_keys=True, default=str)
        if key not in self._cache:
            if widget == "user":
                group = hints.get("group")
                self._cache[key] = self._users(group if isinstance(group, str) else None)
            elif widget == "org":
                kinds = hints.get("kinds")
                self._cache[key] = self._orgs([str(k) for k in kinds] if isinstance(kinds, list) else None)
            else:
                self._cache[key] = []
        return self._cache[key]

    def exists(self, widget: str, value: str) -> bool:
        if widget == "user":
            found = select(User.id).where(User.username == value, User.active.is_(True))
        elif widget == "org":
            found = select(Organisation.id).where(Organisation.code == value)
        else:
            return False
        return self.session.execute(found).first() is not None

    def _users(self, group: str | None) -> list[Choice]:
        bindings = self.instance.bindings or {}
        if group is not None:
            bound = {group: binding_path(self.instance, group)}
        else:
            bound = {key: path for key, path in bindings.items() if key != SCOPE}
        covering = [and_(Group.key == key, Organisation.path.in_(ancestor_paths(path)))
                    for key, path in bound.items() if path]
        if not covering:
            return []
        recused = set(self.instance.recused_user_ids or [])
        users = self.session.execute(
            select(User).join(Membership, Membership.user_id == User.id)
            .join(Group, Membership.group_id == Group.id).join(Organisation, Membership.org_id == Organisation.id)
            .where(User.active.is_(True), or_(*covering)).distinct().order_by(User.username)
            .options(selectinload(User.memberships))).scalars()
        return [Choice(user.username, user.display_name) for user in users
                if user.id not in recused and can_see_instance(actor_for(user), self.instance)]

    def _orgs(self, kinds: list[str] | None) -> list[Choice]:
        query = select(Organisation.code, Organisation.name).order_by(Organisation.path)
        scope = (self.instance.bindings or {}).get(SCOPE)
        if scope:
            query = query.where(Organisation.path.startswith(scope, autoescape=True))
        if kinds is not None:
            query = query.where(Organisation.kind.in_(kinds))
        return [Choice(code, name) for code, name in self.session.execute(query).all()]
