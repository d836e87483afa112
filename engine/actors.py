"""Who is acting: a user with the roles (group keys) they hold and where each role applies."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import User

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


def load_actor(session: Session, username: str) -> Actor:
    user = session.execute(select(User).where(User.username == username, User.active.is_(True))).scalar_one_or_none()
    if user is None:
        raise NotFound(f"用户 {username} 不存在。", f"User {username} does not exist.")
    return actor_for(user)
