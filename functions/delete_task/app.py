"""DELETE /users/{user_id}/tasks/{task_id}: delete one of the user's tasks."""

from typing import Annotated

from tasks_core import conditional, environment, repository
from tasks_core.models import Message, TaskId, UserId
from tasks_core.observability import lambda_entrypoint
from tasks_core.openapi_docs import openapi_responses
from tasks_core.params import Header, Path
from tasks_core.resolver import TaskResolver
from tasks_core.responses import Response, json_response

app = TaskResolver()
DELETED = Message(message="Task deleted successfully").model_dump_json()


@app.delete(
    "/users/<user_id>/tasks/<task_id>",
    summary="Delete a task",
    operation_id="deleteTask",
    tags=["tasks"],
    responses=openapi_responses(200, "The task was deleted", Message, errors=(400, 403, 404, 412, 503)),
)
def delete_task(
    user_id: Annotated[UserId, Path()],
    task_id: Annotated[TaskId, Path()],
    if_match: Annotated[
        str | None, Header(alias="If-Match", description="Delete only if the task's ETag is one of these (or *)")
    ] = None,
) -> Response:
    repository.delete_task(environment.database(), user_id, task_id, conditional.if_match_tags(if_match))
    return json_response(200, DELETED)


lambda_handler = lambda_entrypoint(app, "DeleteTask")
