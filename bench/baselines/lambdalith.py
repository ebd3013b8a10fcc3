"""The lambdalith: the original spec's design, one FastAPI + SQLModel app for every route, on Mangum.

It is written the way the FastAPI and SQLModel tutorials write it (a table model family, an
`AsyncSession` per request from a dependency, `session.get`/`add`/`commit`/`refresh`), against
the product's own schema (tasks_core/migrations/0001_initial.sql). It is a baseline, not a second
product: routes, status codes and bodies follow docs/API.md as far as FastAPI naturally goes
(its validation errors stay 422, its 404 body is `{"detail": ...}`).

Engine: SQLAlchemy's async engine with asyncpg, as the spec has it. It works under Mangum
because Mangum keeps one event loop for the process (`asyncio.get_event_loop()` at import,
`run_until_complete` per invocation), so the pooled asyncpg connection survives between
invocations as psycopg's does in the product. Lifespan is off: with "auto", Mangum runs the
app's startup and shutdown around every invocation.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Path, Query, Response
from mangum import Mangum
from sqlalchemy import Column, DateTime, text
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine
from sqlmodel import Field, SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

USER_ID = Annotated[str, Path(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._~@:+|\-]{1,128}$")]
TASK_ID = Annotated[int, Path(ge=1, le=2**63 - 1)]


def _now() -> datetime:
    return datetime.now(UTC)


class User(SQLModel, table=True):
    """The owner of tasks (the product creates it on a user's first task)."""

    __tablename__ = "users"

    id: str = Field(primary_key=True)
    created_at: datetime = Field(default_factory=_now, sa_column=Column(DateTime(timezone=True), nullable=False))
    updated_at: datetime = Field(default_factory=_now, sa_column=Column(DateTime(timezone=True), nullable=False))


class TaskBase(SQLModel):
    """Fields a client may send."""

    title: str = Field(min_length=1, max_length=500)
    description: str | None = Field(default=None, max_length=5000)
    completed: bool = False


class Task(TaskBase, table=True):
    """The tasks table."""

    __tablename__ = "tasks"

    id: int | None = Field(default=None, primary_key=True)
    user_id: str = Field(foreign_key="users.id", index=True)
    created_at: datetime = Field(default_factory=_now, sa_column=Column(DateTime(timezone=True), nullable=False))
    updated_at: datetime = Field(default_factory=_now, sa_column=Column(DateTime(timezone=True), nullable=False))


class TaskCreate(TaskBase):
    """POST body."""


class TaskUpdate(SQLModel):
    """PUT/PATCH body: any subset of the fields."""

    title: str | None = Field(default=None, min_length=1, max_length=500)
    description: str | None = Field(default=None, max_length=5000)
    completed: bool | None = None


class TaskPublic(TaskBase):
    """A task as returned."""

    id: int
    user_id: str
    created_at: datetime
    updated_at: datetime


# One engine per process, created at import (the cold start), connecting on first use. The URL
# is SQLAlchemy's (postgresql+asyncpg://...). One pooled connection, as a Lambda environment
# serves one request at a time; served by uvicorn, LAMBDALITH_POOL_SIZE sets more.
engine = create_async_engine(
    os.environ["LAMBDALITH_DATABASE_URL"], pool_size=int(os.environ.get("LAMBDALITH_POOL_SIZE", "1")), max_overflow=0
)
session_factory = async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)


async def get_session() -> AsyncIterator[AsyncSession]:
    """One session per request."""
    async with session_factory() as session:
        yield session


Session = Annotated[AsyncSession, Depends(get_session)]
app = FastAPI(title="Task API (lambdalith)")


async def _owned_task(session: AsyncSession, user_id: str, task_id: int) -> Task:
    task = await session.get(Task, task_id)
    if task is None or task.user_id != user_id:
        raise HTTPException(status_code=404, detail="Task not found")
    return task


@app.post("/users/{user_id}/tasks", status_code=201, response_model=TaskPublic)
async def create_task(user_id: USER_ID, body: TaskCreate, session: Session, response: Response) -> Task:
    """Create a task (and its user on first use)."""
    if await session.get(User, user_id) is None:
        session.add(User(id=user_id))
        await session.flush()  # no relationship() here, so the unit of work would not order the inserts
    task = Task.model_validate(body, update={"user_id": user_id})
    session.add(task)
    await session.commit()
    await session.refresh(task)
    response.headers["Location"] = f"/users/{user_id}/tasks/{task.id}"
    return task


@app.get("/users/{user_id}/tasks", response_model=list[TaskPublic])
async def list_tasks(
    user_id: USER_ID,
    session: Session,
    completed: bool | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 100,
) -> Any:
    """The user's tasks in id order."""
    query = select(Task).where(Task.user_id == user_id)
    if completed is not None:
        query = query.where(Task.completed == completed)
    result = await session.exec(query.order_by(col(Task.id)).limit(limit))
    return result.all()


@app.get("/users/{user_id}/tasks/{task_id}", response_model=TaskPublic)
async def get_task(user_id: USER_ID, task_id: TASK_ID, session: Session) -> Task:
    """One of the user's tasks."""
    return await _owned_task(session, user_id, task_id)


@app.put("/users/{user_id}/tasks/{task_id}", response_model=TaskPublic)
@app.patch("/users/{user_id}/tasks/{task_id}", response_model=TaskPublic)
async def update_task(user_id: USER_ID, task_id: TASK_ID, body: TaskUpdate, session: Session) -> Task:
    """Change the fields present in the body."""
    task = await _owned_task(session, user_id, task_id)
    changes = body.model_dump(exclude_unset=True)
    if changes:
        task.sqlmodel_update(changes)
        task.updated_at = _now()
        session.add(task)
        await session.commit()
        await session.refresh(task)
    return task


@app.delete("/users/{user_id}/tasks/{task_id}")
async def delete_task(user_id: USER_ID, task_id: TASK_ID, session: Session) -> dict[str, str]:
    """Delete one of the user's tasks."""
    task = await _owned_task(session, user_id, task_id)
    await session.delete(task)
    await session.commit()
    return {"message": "Task deleted successfully"}


@app.get("/health")
async def health(session: Session) -> dict[str, str]:
    """The app runs and the database answers."""
    await session.execute(text("SELECT 1"))
    return {"status": "ok", "database": "ok"}


lambda_handler = Mangum(app, lifespan="off")
