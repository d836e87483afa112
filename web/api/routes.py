"""The public JSON API, /api/v1 (contract: API.md; description: openapi.json beside this file).

Every endpoint but getting a token and the OpenAPI document needs ``Authorization: Bearer <token>``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import Blueprint
from werkzeug.wrappers import Response

from . import (
    audit,
    auth,
    calendar,
    cases,
    content,
    definitions,
    designer,
    drafts,
    extensions,
    forms,
    idempotency,
    instance_view,
    instances,
    intake,
    ledgers,
    migration,
    notifications,
    planning,
    publications,
    saved_filters,
    statistics,
    tasks,
    versions,
)

bp = Blueprint("api", __name__, url_prefix="/api/v1")
bp.before_request(idempotency.hold_session)  # before the token check opens the request's session
bp.before_request(auth.require_token)
bp.before_request(idempotency.begin)
bp.after_request(auth.challenge)
bp.after_request(idempotency.finish)  # registered last, so it runs first: challenge sees the final answer

OPENAPI_PATH = Path(__file__).with_name("openapi.json")


def openapi_document() -> Response:
    return Response(OPENAPI_PATH.read_bytes(), mimetype="application/json")


ROUTES: list[tuple[str, str, Callable[..., Any]]] = [
    ("/openapi.json", "GET", openapi_document),
    ("/auth/token", "POST", auth.create_token),
    ("/auth/revoke", "POST", auth.revoke_own_token),
    ("/definitions", "GET", definitions.list_definitions),
    ("/definitions", "POST", definitions.deploy_definition),
    ("/definitions/<key>/versions/<int:version>/bpmn", "GET", definitions.definition_xml),
    ("/definitions/<key>/migrations", "POST", migration.create_migration),
    ("/definitions/<key>/migrations/<int:run_id>", "GET", migration.get_migration),
    ("/definitions/<key>/versions", "GET", versions.list_versions),
    ("/definitions/<key>/release", "POST", versions.release_version),
    ("/definitions/<key>/rollback", "POST", versions.roll_back),
    ("/definitions/<key>/diff", "GET", versions.diff_versions),
    ("/instances", "POST", instances.start_instance),
    ("/instances/<int:instance_id>", "GET", instances.get_instance),
    ("/instances/<int:instance_id>/history", "GET", instances.instance_history),
    ("/instances/<int:instance_id>/diagram", "GET", instance_view.instance_diagram),
    ("/instances/<int:instance_id>/comments", "GET", content.list_comments),
    ("/instances/<int:instance_id>/comments", "POST", content.add_comment),
    ("/instances/<int:instance_id>/attachments", "GET", content.list_attachments),
    ("/instances/<int:instance_id>/attachments", "POST", content.upload_attachment),
    ("/attachments/<int:attachment_id>", "GET", content.get_attachment),
    ("/attachments/<int:attachment_id>", "DELETE", content.remove_attachment),
    ("/attachments/<int:attachment_id>/content", "GET", content.attachment_content),
    ("/clues", "GET", cases.list_clues),
    ("/clues/<int:clue_id>", "GET", cases.get_clue),
    ("/rectification-items", "GET", cases.list_rectification_items),
    ("/rectification-items/<int:item_id>", "GET", cases.get_rectification_item),
    ("/tasks", "GET", tasks.list_tasks),
    ("/saved-filters", "GET", saved_filters.list_saved_filters),
    ("/saved-filters", "POST", saved_filters.create_saved_filter),
    ("/saved-filters/<int:filter_id>", "DELETE", saved_filters.delete_saved_filter),
    ("/tasks/<int:task_id>", "GET", tasks.get_task),
    ("/tasks/next", "POST", tasks.claim_next_task),
    ("/tasks/<int:task_id>/claim", "POST", tasks.claim_task),
    ("/tasks/<int:task_id>/unclaim", "POST", tasks.unclaim_task),
    ("/tasks/<int:task_id>/assign", "POST", tasks.assign_task),
    ("/tasks/<int:task_id>/delegate", "POST", tasks.delegate_task),
    ("/tasks/<int:task_id>/complete", "POST", tasks.complete_task),
    ("/tasks/<int:task_id>/resolve", "POST", tasks.resolve_task),
    ("/tasks/<int:task_id>/return", "POST", tasks.return_task),
    ("/notifications", "GET", notifications.list_notifications),
    ("/notifications/<int:notification_id>/read", "POST", notifications.read_notification),
    ("/notifications/read-all", "POST", notifications.read_all_notifications),
    ("/tasks/<int:task_id>/draft", "GET", drafts.get_draft),
    ("/tasks/<int:task_id>/draft", "PUT", drafts.save_draft),
    ("/audit/verify", "GET", audit.verify_audit_trail),
    ("/audit/export", "GET", audit.export_audit_trail),
    ("/tasks/<int:task_id>/extension-requests", "POST", extensions.request_extension),
    ("/extension-requests", "GET", extensions.list_extension_requests),
    ("/extension-requests/<int:request_id>/approve", "POST", extensions.approve_extension),
    ("/extension-requests/<int:request_id>/refuse", "POST", extensions.refuse_extension),
    ("/extension-requests/<int:request_id>/withdraw", "POST", extensions.withdraw_extension),
    ("/instances/<int:instance_id>/suspend", "POST", extensions.suspend_instance),
    ("/instances/<int:instance_id>/resume", "POST", extensions.resume_instance),
    ("/calendar", "GET", calendar.get_calendar),
    ("/calendar/days/<date>", "PUT", calendar.put_day),
    ("/calendar/days/<date>", "DELETE", calendar.delete_day),
    ("/plans", "GET", planning.list_plans),
    ("/plans", "POST", planning.create_plan),
    ("/plans/<int:plan_id>/units/<int:unit_id>", "PATCH", planning.update_plan_unit),
    ("/plans/<int:plan_id>/rounds", "GET", planning.list_rounds),
    ("/plans/<int:plan_id>/rounds", "POST", planning.create_round),
    ("/plans/<int:plan_id>/coverage", "GET", planning.coverage),
    ("/rounds/<int:round_id>", "PATCH", planning.update_round),
    ("/rounds/<int:round_id>/inspections", "GET", planning.list_inspections),
    ("/rounds/<int:round_id>/inspections", "POST", planning.create_inspection),
    ("/inspections/<int:inspection_id>", "PATCH", planning.update_inspection),
    ("/revisits", "POST", planning.create_revisit),
    ("/publications", "GET", publications.list_publications),
    ("/publications", "POST", publications.create_publication),
    ("/publications/<int:publication_id>/withdraw", "POST", publications.withdraw_publication),
    ("/inspections/<int:inspection_id>/reports", "GET", intake.get_inspection_reports),
    ("/inspections/<int:inspection_id>/reports/<kind>", "PUT", intake.put_inspection_report),
    ("/inspections/<int:inspection_id>/clues", "POST", intake.post_inspection_clues),
    ("/inspections/<int:inspection_id>/findings", "POST", intake.post_inspection_findings),
    ("/ledgers/rectification/<int:unit_id>", "GET", ledgers.get_rectification_ledger),
    ("/ledgers/rectification/<int:unit_id>/export", "GET", ledgers.export_rectification_ledger),
    ("/ledgers/rectification/<int:unit_id>/import/preview", "POST", ledgers.preview_ledger_import),
    ("/ledgers/rectification/<int:unit_id>/import", "POST", ledgers.confirm_ledger_import),
    ("/ledgers/rectification/<int:unit_id>/reconciliations", "POST", ledgers.reconcile_ledger),
    ("/ledgers/rectification/<int:unit_id>/reconciliations/diff", "GET", ledgers.ledger_reconciliation_diff),
    ("/ledgers/rectification-items/<int:item_id>", "PATCH", ledgers.edit_ledger_item),
    ("/ledgers/clues", "GET", ledgers.get_clue_ledger),
    ("/ledgers/clues/export", "GET", ledgers.export_clue_ledger),
    ("/designer/drafts", "GET", designer.list_definition_drafts),
    ("/designer/drafts/<key>", "GET", designer.get_definition_draft),
    ("/designer/drafts/<key>", "PUT", designer.save_definition_draft),
    ("/designer/drafts/<key>", "DELETE", designer.discard_definition_draft),
    ("/designer/validate", "POST", designer.validate_diagram),
    ("/designer/catalog", "GET", designer.get_catalog),
    ("/forms", "GET", forms.list_forms),
    ("/forms", "POST", forms.save_form),
    ("/forms/<name>", "GET", forms.get_form),
    ("/forms/<name>/versions/<int:version>", "GET", forms.get_form_version),
    ("/statistics", "GET", statistics.get_statistics),
    ("/reports", "GET", statistics.list_reports),
    ("/reports", "POST", statistics.create_report),
    ("/reports/<int:report_id>", "GET", statistics.get_report_pdf),
    ("/promotion-checks", "POST", statistics.create_promotion_check),
]

for rule, method, view in ROUTES:
    bp.add_url_rule(rule, view_func=view, methods=[method])
