"""web.pages.refused: what every page route does when the engine refuses its form post."""

from __future__ import annotations

import pytest
from flask import Flask, get_flashed_messages
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from engine.errors import Conflict, NotFound
from models import User
from web.db import db
from web.pages import refused


def _rename_office1() -> None:
    db().execute(update(User).where(User.username == "office1").values(display_name="改名未保存"))


def _name(factory: sessionmaker[Session]) -> str:
    with factory() as s:
        return s.execute(select(User.display_name).where(User.username == "office1")).scalar_one()


def test_a_refused_post_is_undone_and_said_on_the_page_it_returns_to(app: Flask, factory) -> None:
    before = _name(factory)
    with app.test_request_context("/somewhere", method="POST"):
        _rename_office1()
        response = refused(Conflict("已被他人修改。", "Changed by someone else."), "/back", "（第 2 行）")
        assert get_flashed_messages(with_categories=True) == [("error", "已被他人修改。（第 2 行）")]
        db().commit()  # nothing is left to commit
    assert (response.status_code, response.headers["Location"]) == (302, "/back")
    assert _name(factory) == before


def test_the_message_is_in_the_readers_language(app: Flask) -> None:
    with app.test_request_context("/somewhere", method="POST", headers={"Accept-Language": "en"}):
        refused(Conflict("已被他人修改。", "Changed by someone else."), "/back")
        assert get_flashed_messages() == ["Changed by someone else."]


def test_a_row_the_reader_may_not_see_stays_a_404_and_is_undone(app: Flask, factory) -> None:
    before = _name(factory)
    missing = NotFound("记录不存在。", "No such record.")
    with app.test_request_context("/somewhere", method="POST"):
        _rename_office1()
        with pytest.raises(NotFound) as raised:
            refused(missing, "/back")
        assert raised.value is missing and get_flashed_messages() == []
        db().commit()
    assert _name(factory) == before
