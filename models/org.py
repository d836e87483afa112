"""Organisations (a tree: city → county → unit), people, groups and scoped memberships."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, UTCDateTime, utcnow


class OrgKind:
    CITY = "city"
    COUNTY = "county"
    OFFICE = "office"  # 巡察办 / 领导小组 bodies
    RECEIVING_BODY = "receiving_body"  # 纪委监委, 组织部 …
    INSPECTION_TEAM = "inspection_team"  # 巡察组
    UNIT = "unit"  # an inspected unit
    TOWNSHIP = "township"


class Organisation(Base):
    """A node of the organisation tree.

    ``path`` is a materialised path of ids ("/1/4/17/") so that "is X inside Y's scope" is a
    prefix test the database can index, both on SQLite and PostgreSQL.
    """

    __tablename__ = "organisation"

    id: Mapped[int] = mapped_column(primary_key=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("organisation.id"))
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(32))
    sector: Mapped[str | None] = mapped_column(String(64))  # one of the six categories of city units
    path: Mapped[str] = mapped_column(String(512), default="", index=True)
    liaison_name: Mapped[str | None] = mapped_column(String(100))
    leader_name: Mapped[str | None] = mapped_column(String(100))

    parent: Mapped[Organisation | None] = relationship(remote_side=[id])


class User(Base):
    __tablename__ = "app_user"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(100))
    password_hash: Mapped[str] = mapped_column(String(255))
    org_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))
    id_number: Mapped[str | None] = mapped_column(String(32))
    email: Mapped[str | None] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    locale: Mapped[str] = mapped_column(String(8), default="zh_CN")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    org: Mapped[Organisation] = relationship()
    # Loaded when asked for (engine.actors.actor_for), not with every user: a task's holder or an audit
    # name needs only the user row. Queries that make actors of many users ask for selectinload.
    memberships: Mapped[list[Membership]] = relationship(back_populates="user")


class Group(Base):
    """A role that BPMN lanes name (``office``, ``unit``, ``receiving_body`` …)."""

    __tablename__ = "app_group"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    description: Mapped[str | None] = mapped_column(String(500))


class Membership(Base):
    """A user holds a group's role within one organisation's subtree."""

    __tablename__ = "membership"
    __table_args__ = (UniqueConstraint("user_id", "group_id", "org_id", name="uq_membership_scope"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"), index=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("app_group.id"))
    org_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))

    user: Mapped[User] = relationship(back_populates="memberships")
    group: Mapped[Group] = relationship(lazy="joined")
    org: Mapped[Organisation] = relationship(lazy="joined")


Index("ix_membership_group_org", Membership.group_id, Membership.org_id)


class ApiToken(Base):
    """A bearer token for the API; only its sha256 is stored, and it can be revoked."""

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"), index=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()
