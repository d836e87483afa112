"""Who is acting: a user with the roles (group keys) they hold and where each role applies."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, Select, select
from sqlalchemy.orm import Session

from models import Group, Membership, Organisation, User

from .errors import NotFound


@dataclass(frozen=True)
class Role:
    group_key: str
    org_id: int
    org_path: str  # the role applies to this organisation and everything below it


@dataclass(frozen=True)
class Actor:
    user_id: int
    username: str
    display_name: str
    org_id: int
    roles: tuple[Role, ...]
    locale: str = "zh_CN"

    def has_role(self, group_key: str) -> bool:
        return any(r.group_key == group_key for r in self.roles)

    def role_covers(self, group_key: str, org_path: str | None) -> bool:
        """Does the actor hold ``group_key`` over the organisation at ``org_path``?"""
        if org_path is None:
            return False
        return any(r.group_key == group_key and org_path.startswith(r.org_path) for r in self.roles)


SYSTEM_ACTOR = Actor(user_id=0, username="system", display_name="系统", org_id=0, roles=())


def actor_for(user: User) -> Actor:
    return Actor(
        user_id=user.id, username=user.username, display_name=user.display_name, org_id=user.org_id,
        roles=tuple(Role(m.group.key, m.org_id, m.org.path) for m in user.memberships), locale=user.locale)


def actor_query(*columns: Any) -> Select[Any]:
    """One statement for an active user and their roles: a row per membership (one row, roles NULL, for a
    user without any), ``columns`` first — what authenticating a request needs without loading ORM
    objects attribute by attribute (the API's hot path: every request resolves its caller)."""
    return (select(*columns, User.id, User.username, User.display_name, User.org_id, User.locale,
                   Group.key, Membership.org_id, Organisation.path)
            .select_from(User)
            .outerjoin(Membership, Membership.user_id == User.id)
            .outerjoin(Group, Group.id == Membership.group_id)
            .outerjoin(Organisation, Organisation.id == Membership.org_id)
            .where(User.active.is_(True))
            .order_by(Membership.id))


def actor_from_rows(rows: Sequence[Row[Any]], skip: int = 0) -> Actor:
    """The actor of ``actor_query`` rows (``skip``: how many leading columns the caller added)."""
    user_id, username, display_name, org_id, locale = rows[0][skip:skip + 5]
    roles = tuple(Role(row[skip + 5], row[skip + 6], row[skip + 7]) for row in rows if row[skip + 5] is not None)
    return Actor(user_id=user_id, username=username, display_name=display_name, org_id=org_id, roles=roles,
                 locale=locale)


def load_actor(session: Session, username: str) -> Actor:
    user = session.execute(select(User).where(User.username == username, User.active.is_(True))).scalar_one_or_none()
    if user is None:
        raise NotFound(f"用户 {username} 不存在。", f"User {username} does not exist.")
    return actor_for(user)
