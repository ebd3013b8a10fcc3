"""GET /users/{user_id}/tasks: the user's tasks in id order, a page at a time."""

from typing import Annotated

from tasks_core import environment, pagination, repository
from tasks_core.models import LIST_LIMIT_DEFAULT, CompletedFilter, ListLimit, Task, UserId
from tasks_core.observability import lambda_entrypoint
from tasks_core.openapi_docs import LINK, openapi_responses
from tasks_core.pagination import Cursor
from tasks_core.params import Path, Query
from tasks_core.resolver import TaskResolver
from tasks_core.responses import Response, json_response, user_path

app = TaskResolver()


@app.get(
    "/users/<user_id>/tasks",
    summary="List tasks",
    operation_id="listTasks",
    tags=["tasks"],
    responses=openapi_responses(200, "A page of tasks", list[Task], errors=(400, 403, 503), headers=LINK),
)
def list_tasks(
    user_id: Annotated[UserId, Path()],
    completed: Annotated[CompletedFilter | None, Query(description="Only tasks with this state")] = None,
    limit: Annotated[ListLimit, Query(description="Page size")] = LIST_LIMIT_DEFAULT,
    cursor: Annotated[Cursor | None, Query(description="From the previous page's Link, as it is")] = None,
) -> Response:
    key = environment.cursor_key()
    after_id = pagination.cursor_position(key, user_id, cursor)
    body, last_id = repository.list_tasks_json(
        environment.database(), user_id, limit=limit, after_id=after_id, completed=completed
    )
    headers = {}
    if last_id is not None:
        headers["Link"] = pagination.next_link(
            key, base_path=user_path(user_id), user_id=user_id, last_id=last_id, limit=limit, completed=completed
        )
    return json_response(200, body, headers)


lambda_handler = lambda_entrypoint(app, "ListTasks")
