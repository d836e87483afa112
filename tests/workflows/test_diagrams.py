"""The shipped diagrams, checked in SpiffWorkflow alone (no database): structure, the task contract
the engine relies on, form schemas, and every path driven to its end event with a serializer
round-trip after each step. The same lifecycles run through the engine and the API elsewhere."""

from __future__ import annotations

import pytest

from tests.workflows import diagram_checks as checks


@pytest.mark.parametrize("process_id", sorted(checks.DIAGRAMS))
def test_diagram_structure_and_task_contract(process_id: str) -> None:
    checks.check_static(process_id)


def test_tasks_inside_the_item_subprocess_keep_their_own_lanes() -> None:
    checks.check_lane_pitfall()


def test_forms_refuse_invalid_answers() -> None:
    checks.check_negative()


@pytest.mark.parametrize("label,scenario", list(checks.scenarios()), ids=[s[0] for s in checks.scenarios()])
def test_every_path_reaches_its_end(label: str, scenario: object) -> None:
    trace = scenario()  # type: ignore[operator]
    assert trace, label
