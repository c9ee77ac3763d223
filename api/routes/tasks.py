"""The officials' inbox and task operations."""

from __future__ import annotations

from flask.views import MethodView

from api import auth
from api.parsing import Blueprint
from api.schemas import (
    CommentInSchema,
    CommentListSchema,
    CommentSchema,
    CompletedSchema,
    CompleteSchema,
    HandOnSchema,
    PageArgsSchema,
    ReasonSchema,
    ReturnSchema,
    TaskCountsSchema,
    TaskDetailSchema,
    TaskPageSchema,
    TaskQuerySchema,
    TaskSummarySchema,
    UrgeSchema,
)

blp = Blueprint("tasks", __name__, url_prefix="/api/v1", description="Task inbox and operations")


@blp.route("/tasks")
class Tasks(MethodView):
    @blp.arguments(TaskQuerySchema, location="query")
    @blp.response(200, TaskPageSchema)
    def get(self, args: dict) -> dict:
        """The inbox: mine (assigned to me), candidate (my group's, unclaimed) or all, filtered and paged."""
        return auth.engine().inbox(auth.current(), **args)


@blp.route("/tasks/counts")
class TaskCounts(MethodView):
    @blp.response(200, TaskCountsSchema)
    def get(self) -> dict:
        """How many tasks each inbox tab holds."""
        return auth.engine().task_counts(auth.current())


@blp.route("/tasks/<string:task_id>")
class Task(MethodView):
    @blp.response(200, TaskDetailSchema)
    def get(self, task_id: str) -> dict:
        """A task with its form, the data it shows and why it is assigned where it is."""
        return auth.engine().get_task(task_id, by=auth.current())


@blp.route("/tasks/<string:task_id>/claim")
class Claim(MethodView):
    @blp.response(200, TaskSummarySchema)
    def post(self, task_id: str) -> dict:
        """Take a task of my group; 409 when someone else holds it."""
        return auth.engine().claim(task_id, auth.current())


@blp.route("/tasks/<string:task_id>/unclaim")
class Unclaim(MethodView):
    @blp.response(200, TaskSummarySchema)
    def post(self, task_id: str) -> dict:
        """Give a claimed task back to the group."""
        return auth.engine().unclaim(task_id, auth.current())


@blp.route("/tasks/<string:task_id>/complete")
class Complete(MethodView):
    @blp.arguments(CompleteSchema)
    @blp.response(200, CompletedSchema)
    def post(self, args: dict, task_id: str) -> dict:
        """Submit the form: 422 with an error per field; 409 when the task is already done."""
        return auth.engine().complete(task_id, auth.current(), args["data"])


@blp.route("/tasks/<string:task_id>/transfer")
class Transfer(MethodView):
    @blp.arguments(HandOnSchema)
    @blp.response(200, TaskSummarySchema)
    def post(self, args: dict, task_id: str) -> dict:
        """转办: another official of the same group now owns the task."""
        return auth.engine().transfer(task_id, auth.current(), args["to"], args["comment"])


@blp.route("/tasks/<string:task_id>/delegate")
class Delegate(MethodView):
    @blp.arguments(HandOnSchema)
    @blp.response(200, TaskSummarySchema)
    def post(self, args: dict, task_id: str) -> dict:
        """委派: a colleague works the task, then it comes back to me to confirm."""
        return auth.engine().delegate(task_id, auth.current(), args["to"], args["comment"])


@blp.route("/tasks/<string:task_id>/return")
class Return(MethodView):
    @blp.arguments(ReturnSchema)
    @blp.response(200, CompletedSchema)
    def post(self, args: dict, task_id: str) -> dict:
        """退回: send the instance back to an earlier user task, with a reason."""
        return auth.engine().return_task(task_id, auth.current(), args["reason"], args["to_element"])


@blp.route("/tasks/<string:task_id>/withdraw")
class Withdraw(MethodView):
    @blp.arguments(ReasonSchema)
    @blp.response(200, CompletedSchema)
    def post(self, args: dict, task_id: str) -> dict:
        """撤回: take back a task I completed while the next step is untouched."""
        return auth.engine().withdraw(task_id, auth.current(), args["reason"])


@blp.route("/tasks/<string:task_id>/urge")
class Urge(MethodView):
    @blp.arguments(UrgeSchema)
    @blp.response(200, TaskSummarySchema)
    def post(self, args: dict, task_id: str) -> dict:
        """催办: recorded, and the task rises in its officials' inbox."""
        return auth.engine().urge(task_id, auth.current(), args["comment"])


@blp.route("/tasks/<string:task_id>/comments")
class Comments(MethodView):
    @blp.arguments(PageArgsSchema, location="query")
    @blp.response(200, CommentListSchema)
    def get(self, args: dict, task_id: str) -> dict:
        """审批意见 and the reasons given on this task, in order, paged."""
        return auth.engine().comments_page(task_id, auth.current(), args["cursor"], args["limit"])

    @blp.arguments(CommentInSchema)
    @blp.response(201, CommentSchema)
    def post(self, args: dict, task_id: str) -> dict:
        """Add an 审批意见 to the task; it shows in the instance history."""
        return auth.engine().add_comment(task_id, auth.current(), args["text"])
