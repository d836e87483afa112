"""The stored state carries no spec, is much smaller than SpiffWorkflow's default, and restores exactly."""

from __future__ import annotations

import json

from engine import runtime
from engine.serialization import FULL_SERIALIZER, dump_state
from tests.helpers import instance, open_rectification


def test_stored_state_has_no_spec_and_is_smaller_than_the_default(factory, ctx, demo):
    iid = open_rectification(factory, ctx, demo, problems=3)
    row = instance(factory, iid)
    stored = json.loads(row.state)
    assert "spec" not in stored and "subprocess_specs" not in stored
    with factory() as session:
        workflow = runtime.restore(session, ctx, row)
    assert dump_state(workflow) == row.state
    full = FULL_SERIALIZER.serialize_json(workflow)
    assert len(row.state) < len(full) / 2
