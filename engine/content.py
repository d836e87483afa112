"""Comments and evidence attachments (佐证材料) on a case or one of its tasks.

Reading: whoever may see the case (engine.permissions), or works on one of its tasks; anyone else —
the inspected unit for a clue, a recused person — is told the case does not exist. Writing: while
the case is running, the holder or a candidate of the task (of any open task of the case, when the
comment or file is for the case as a whole), or the 巡察办 over the case. Every addition, withdrawal
and every download of a clue's file is an audit event on the case's stream.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from pathlib import Path
from typing import BinaryIO

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from models import Attachment, Comment, HumanTask, InstanceStatus, ProcessInstance, TaskStatus

from . import audit, filestore
from .actors import Actor
from .context import EngineContext
from .errors import Conflict, FormInvalid, NotFound, NotPermitted, TaskNotActive
from .permissions import allows_on_case, can_see_instance, is_candidate, is_recused
from .taskaccess import lock_instance

MAX_COMMENT_CHARS = 5000
MAX_REASON_CHARS = 500


# -- who may see and who may write ------------------------------------------------------------------------------


def visible_instance(session: Session, actor: Actor, instance_id: int) -> ProcessInstance:
    """The case, if the actor may read its comments and files; NotFound otherwise (never 403)."""
    instance = session.get(ProcessInstance, instance_id)
    if instance is None or not _may_read(session, actor, instance):
        raise NotFound("案件不存在或无权查看。", "The case does not exist or is not visible to you.")
    return instance


def _may_read(session: Session, actor: Actor, instance: ProcessInstance) -> bool:
    if is_recused(actor, instance):
        return False
    if can_see_instance(actor, instance):
        return True
    # Someone who works on one of its tasks sees what was said and attached to the case.
    tasks = session.execute(select(HumanTask).where(HumanTask.instance_id == instance.id)).scalars()
    return any(actor.user_id in (t.assignee_id, t.owner_id, t.completed_by_id) or is_candidate(actor, t)
               for t in tasks)


def may_write(session: Session, actor: Actor, instance: ProcessInstance, task: HumanTask | None = None) -> bool:
    """May the actor add comments and files now (to ``task``, or to the case as a whole)?"""
    if instance.status != InstanceStatus.RUNNING or is_recused(actor, instance):
        return False
    if allows_on_case(actor, "case", "annotate", instance):
        return True
    tasks = [task] if task is not None else session.execute(select(HumanTask).where(
        HumanTask.instance_id == instance.id, HumanTask.status == TaskStatus.READY)).scalars()
    return any(t.status == TaskStatus.READY and (t.assignee_id == actor.user_id or is_candidate(actor, t))
               for t in tasks)


def _task_of(session: Session, instance: ProcessInstance, task_id: int | None) -> HumanTask | None:
    if task_id is None:
        return None
    task = session.get(HumanTask, task_id)
    if task is None or task.instance_id != instance.id:
        raise NotFound("任务不存在或不属于此案件。", "The task does not exist or is not part of this case.",
                       {"task_id": task_id})
    return task


def _require_writer(session: Session, actor: Actor, instance: ProcessInstance, task: HumanTask | None) -> None:
    if instance.status != InstanceStatus.RUNNING:
        raise Conflict("案件不在办理中，不能再添加评论或材料。", "The case is not running; nothing can be added to it.",
                       {"status": instance.status})
    if task is not None and task.status != TaskStatus.READY:
        raise TaskNotActive("该任务已办结或已取消。", "This task has already been completed or cancelled.",
                            {"status": task.status})
    if not may_write(session, actor, instance, task):
        raise NotPermitted("只有任务的办理人、候选人或巡察办可以添加评论和佐证材料。",
                           "Only the task's holder or candidates, or the inspection office, may add comments and "
                           "evidence.")


def _locked_for_writing(session: Session, actor: Actor, instance_id: int, task_id: int | None
                        ) -> tuple[ProcessInstance, HumanTask | None]:
    """Visibility first (so an invisible case looks absent), then the row lock, then the checks on
    the locked state."""
    visible_instance(session, actor, instance_id)
    instance = lock_instance(session, instance_id)
    task = _task_of(session, instance, task_id)
    if task is not None:
        session.refresh(task)
    _require_writer(session, actor, instance, task)
    return instance, task


def _audit(session: Session, ctx: EngineContext, actor: Actor, instance: ProcessInstance, event_type: str,
           payload: dict[str, object], *, changes_case: bool = True) -> None:
    now = ctx.clock.now()
    if changes_case:
        instance.updated_at = now
    audit.record_case(session, instance, [audit.EventDraft(event_type, payload, instance.id)], at=now,
                      actor_id=actor.user_id, actor_name=actor.username)


# -- comments -------------------------------------------------------------------------------------------------


def add_comment(session: Session, ctx: EngineContext, actor: Actor, instance_id: int, body: str,
                task_id: int | None = None) -> Comment:
    """A comment on the case (or one of its tasks), audited as ``comment_added``."""
    text = body.strip().replace("\r\n", "\n") if isinstance(body, str) else ""
    if not text or len(text) > MAX_COMMENT_CHARS:
        zh, en = ("请填写评论内容。", "Write something.") if not text else (
            f"评论不能超过 {MAX_COMMENT_CHARS} 字。", f"A comment is at most {MAX_COMMENT_CHARS} characters.")
        raise FormInvalid("评论有错误。", "The comment has errors.", {"fields": {"body": {"message_zh": zh,
                                                                                       "message_en": en}}})
    instance, task = _locked_for_writing(session, actor, instance_id, task_id)
    comment = Comment(instance_id=instance.id, task_guid=task.task_guid if task else None, author_id=actor.user_id,
                      body=text, created_at=ctx.clock.now())
    session.add(comment)
    session.flush()
    _audit(session, ctx, actor, instance, "comment_added", {
        "comment_id": comment.id, "task_id": task.id if task else None, "body": text})
    return comment


def list_comments(session: Session, actor: Actor, instance_id: int, *, task_id: int | None = None
                  ) -> list[Comment]:
    """The case's comments, oldest first (only those on ``task_id`` if given)."""
    instance = visible_instance(session, actor, instance_id)
    query = (select(Comment).where(Comment.instance_id == instance.id).options(selectinload(Comment.author))
             .order_by(Comment.created_at, Comment.id))
    if (task := _task_of(session, instance, task_id)) is not None:
        query = query.where(Comment.task_guid == task.task_guid)
    return list(session.execute(query).scalars())


# -- attachments ----------------------------------------------------------------------------------------------


def store_attachment(session: Session, ctx: EngineContext, actor: Actor, instance_id: int, filename: str | None,
                     stream: BinaryIO, task_id: int | None = None) -> Attachment:
    """Store an evidence file for the case (or one of its tasks) and record it, audited as
    ``attachment_added``. Raises TooLarge (413) or FileRefused (422, naming the file)."""
    # Check before reading a byte, store without holding the case's lock, then lock and check again.
    instance = visible_instance(session, actor, instance_id)
    _require_writer(session, actor, instance, _task_of(session, instance, task_id))
    stored = filestore.store(ctx.attachments_dir, filename, stream, ctx.max_upload_bytes)
    instance, task = _locked_for_writing(session, actor, instance_id, task_id)
    row = Attachment(instance_id=instance.id, task_guid=task.task_guid if task else None, filename=stored.filename,
                     content_type=stored.content_type, size=stored.size, sha256=stored.sha256,
                     storage_key=stored.storage_key, uploaded_by_id=actor.user_id, uploaded_at=ctx.clock.now())
    session.add(row)
    session.flush()
    _audit(session, ctx, actor, instance, "attachment_added", {
        "attachment_id": row.id, "task_id": task.id if task else None, "filename": row.filename,
        "content_type": row.content_type, "size": row.size, "sha256": row.sha256})
    return row


def list_attachments(session: Session, actor: Actor, instance_id: int, *, task_id: int | None = None
                     ) -> list[Attachment]:
    """The case's attachments, oldest first, withdrawn ones included (they say so)."""
    instance = visible_instance(session, actor, instance_id)
    query = (select(Attachment).where(Attachment.instance_id == instance.id)
             .options(selectinload(Attachment.uploaded_by), selectinload(Attachment.removed_by))
             .order_by(Attachment.uploaded_at, Attachment.id))
    if (task := _task_of(session, instance, task_id)) is not None:
        query = query.where(Attachment.task_guid == task.task_guid)
    return list(session.execute(query).scalars())


def get_attachment(session: Session, actor: Actor, attachment_id: int) -> Attachment:
    row = session.get(Attachment, attachment_id)
    if row is None:
        raise NotFound("附件不存在。", "The attachment does not exist.")
    try:
        visible_instance(session, actor, row.instance_id)
    except NotFound:
        raise NotFound("附件不存在。", "The attachment does not exist.") from None
    return row


def open_attachment(session: Session, ctx: EngineContext, actor: Actor, attachment_id: int
                    ) -> tuple[Attachment, Path]:
    """The row and its stored file, for a download. A withdrawn file is not served."""
    row = get_attachment(session, actor, attachment_id)
    if row.removed_at is not None:
        raise NotFound("该附件已撤回，不再提供下载。", "This attachment was withdrawn and is no longer available.",
                       {"attachment_id": row.id})
    path = filestore.path_of(ctx.attachments_dir, row.storage_key)
    if not path.is_file():
        raise NotFound("附件文件缺失，请联系管理员。", "The attachment's file is missing; contact the administrator.",
                       {"attachment_id": row.id})
    return row, path


def download_is_audited(instance: ProcessInstance) -> bool:
    """Reading a clue's file reads the clue: every download of one is recorded."""
    return instance.case_kind == "clue"


def record_download(session: Session, ctx: EngineContext, actor: Actor, attachment: Attachment) -> None:
    """``attachment_downloaded`` on the case's stream (in the caller's transaction)."""
    instance = lock_instance(session, attachment.instance_id)
    _audit(session, ctx, actor, instance, "attachment_downloaded", {
        "attachment_id": attachment.id, "filename": attachment.filename, "sha256": attachment.sha256},
        changes_case=False)


def may_remove(actor: Actor, instance: ProcessInstance, row: Attachment) -> bool:
    return (row.removed_at is None and instance.status == InstanceStatus.RUNNING and not is_recused(actor, instance)
            and (row.uploaded_by_id == actor.user_id
                 or allows_on_case(actor, "case", "annotate", instance)))


def remove_attachment(session: Session, ctx: EngineContext, actor: Actor, attachment_id: int,
                      reason: str | None = None) -> Attachment:
    """Withdraw a file uploaded by mistake (its uploader, or the 巡察办, while the case runs). The row,
    the stored file and the audit keep it; ``attachment_removed`` records before and after."""
    row = get_attachment(session, actor, attachment_id)
    instance = lock_instance(session, row.instance_id)
    session.refresh(row)
    text = (reason or "").strip()
    if len(text) > MAX_REASON_CHARS:
        raise FormInvalid("撤回理由过长。", "The reason is too long.", {"fields": {"reason": {
            "message_zh": f"不能超过 {MAX_REASON_CHARS} 字。",
            "message_en": f"At most {MAX_REASON_CHARS} characters."}}})
    if row.removed_at is not None:
        raise Conflict("该附件已撤回。", "This attachment has already been withdrawn.", {"attachment_id": row.id})
    if instance.status != InstanceStatus.RUNNING:
        raise Conflict("案件不在办理中，附件不能撤回。", "The case is not running; its files cannot be withdrawn.",
                       {"status": instance.status})
    if not may_remove(actor, instance, row):
        raise NotPermitted("只有上传人或巡察办可以撤回附件。",
                           "Only the uploader or the inspection office may withdraw an attachment.")
    now = ctx.clock.now()
    row.removed_at, row.removed_by_id, row.removal_reason = now, actor.user_id, text or None
    session.flush()
    _audit(session, ctx, actor, instance, "attachment_removed", {
        "attachment_id": row.id, "filename": row.filename, "sha256": row.sha256,
        "changes": {"removed_at": [None, now.isoformat()], "removed_by": [None, actor.username],
                    "removal_reason": [None, row.removal_reason]}})
    return row


# -- evidence fields of task forms ------------------------------------------------------------------------------


def evidence_lookup(session: Session, instance_id: int) -> Callable[[Collection[int]], set[int]]:
    """For engine.forms.validate: which of these ids are live (not withdrawn) attachments of the case."""
    def live(ids: Collection[int]) -> set[int]:
        if not ids:
            return set()
        return set(session.execute(select(Attachment.id).where(
            Attachment.instance_id == instance_id, Attachment.id.in_(list(ids)),
            Attachment.removed_at.is_(None))).scalars())
    return live


def task_ids(session: Session, guids: Sequence[str | None]) -> dict[str, int]:
    """Task guid → human task id, for showing which task a comment or file came with."""
    wanted = {g for g in guids if g}
    if not wanted:
        return {}
    return dict(session.execute(select(HumanTask.task_guid, HumanTask.id).where(HumanTask.task_guid.in_(wanted))).all())
