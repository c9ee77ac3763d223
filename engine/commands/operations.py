"""The officials' hand-on operations: transfer, delegate, return, withdraw, comment, urge."""

from __future__ import annotations

from engine.commands.tasks import TaskCommands


class TaskOperations(TaskCommands):
    """转办, 委派, 退回, 撤回, 审批意见 and 催办 on human tasks."""
