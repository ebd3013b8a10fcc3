"""CloudFormation custom resource: apply the database migrations on deploy.

Create and Update apply the pending migrations (the same runner and advisory lock as
`make migrate`); Delete leaves the data alone. The function always answers CloudFormation,
SUCCESS or FAILED with the reason, also when it is about to time out, so a stack never waits an
hour for a custom resource that died.
"""

from typing import Any

from tasks_core.custom_resource import CustomResourceEvent, run_custom_resource
from tasks_core.migrate import migrate_database
from tasks_core.observability import logger
from tasks_core.settings import get_settings


def migrations_for(event: CustomResourceEvent) -> dict[str, Any]:
    """Create and Update: apply pending migrations and report which."""
    if event["RequestType"] == "Delete":
        return {"Applied": "none (delete keeps the data)"}
    applied = migrate_database(get_settings().database)
    logger.info("migrations applied", extra={"applied": applied})
    return {"Applied": ",".join(applied) or "none"}


@logger.inject_lambda_context
def lambda_handler(event: CustomResourceEvent, context: Any) -> None:
    run_custom_resource(event, context, migrations_for, physical_id="tasks-api-database-migrations")
