"""The rules of API.md as the models enforce them, without a database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from tasks_core.models import (
    CompletedFilter,
    ListLimit,
    Task,
    TaskCreate,
    TaskId,
    TaskUpdate,
    UserId,
)


def error_types(exc: ValidationError) -> dict[str, str]:
    return {".".join(str(part) for part in error["loc"]): error["type"] for error in exc.errors()}


class TestTaskCreate:
    def test_minimal(self) -> None:
        task = TaskCreate.model_validate({"title": "x"})
        assert (task.title, task.description, task.completed) == ("x", None, False)

    @pytest.mark.parametrize(
        ("title", "expected"),
        [
            (" a ", "a"),
            ("\u2028a\u2029", "a"),
            ("\x1c\x1da\x1e\x1f", "a"),  # str.isspace() characters beyond Unicode's White_Space
            ("a\u200bb", "a\u200bb"),  # a zero-width space is not white space
        ],
    )
    def test_title_is_stripped(self, title: str, expected: str) -> None:
        assert TaskCreate.model_validate({"title": title}).title == expected

    @pytest.mark.parametrize(
        ("body", "field", "kind"),
        [
            ({}, "title", "missing"),
            ({"title": ""}, "title", "value_error"),
            ({"title": "\u3000"}, "title", "value_error"),
            ({"title": "x" * 501}, "title", "value_error"),
            ({"title": True}, "title", "string_type"),
            ({"title": b"bytes"}, "title", "string_type"),
            ({"title": "a\x00"}, "title", "value_error"),
            ({"title": "\ud800"}, "title", "value_error"),
            ({"title": "x", "description": "\udc00"}, "description", "string_unicode"),
            ({"title": "x", "description": "x" * 5001}, "description", "string_too_long"),
            ({"title": "x", "completed": "false"}, "completed", "bool_type"),
            ({"title": "x", "completed": 0}, "completed", "bool_type"),
            ({"title": "x", "extra": None}, "extra", "extra_forbidden"),
        ],
    )
    def test_rejected(self, body: dict[str, Any], field: str, kind: str) -> None:
        with pytest.raises(ValidationError) as caught:
            TaskCreate.model_validate(body)
        assert error_types(caught.value) == {field: kind}

    def test_lengths_count_code_points(self) -> None:
        assert len(TaskCreate.model_validate({"title": "\U0001f600" * 500}).title) == 500
        with pytest.raises(ValidationError):
            TaskCreate.model_validate({"title": "\U0001f600" * 501})


class TestTaskUpdate:
    def test_only_given_fields_are_set(self) -> None:
        update = TaskUpdate.model_validate({"description": None})
        assert update.model_fields_set == {"description"}
        assert update.model_dump(exclude_unset=True) == {"description": None}

    def test_empty(self) -> None:
        assert TaskUpdate.model_validate({}).model_fields_set == set()

    @pytest.mark.parametrize("field", ["title", "completed"])
    def test_null_is_rejected_for_title_and_completed(self, field: str) -> None:
        with pytest.raises(ValidationError) as caught:
            TaskUpdate.model_validate({field: None})
        assert caught.value.errors()[0]["ctx"]["error"].args == ("must not be null",)

    def test_title_rules_apply(self) -> None:
        assert TaskUpdate.model_validate({"title": " t "}).title == "t"
        with pytest.raises(ValidationError):
            TaskUpdate.model_validate({"title": " "})


class TestParameters:
    @pytest.mark.parametrize("value", ["1", "42", "0042", "9223372036854775807"])
    def test_task_id_valid(self, value: str) -> None:
        assert TypeAdapter(TaskId).validate_python(value) == int(value)

    @pytest.mark.parametrize(
        "value", ["0", "-1", "+1", " 1", "1 ", "1_0", "1e3", "0x10", "\u0661", "9223372036854775808"]
    )
    def test_task_id_invalid(self, value: str) -> None:
        with pytest.raises(ValidationError):
            TypeAdapter(TaskId).validate_python(value)

    @pytest.mark.parametrize("value", ["a", "a" * 128, "auth0|x", "a.b_c~d@e:f+g-h", "0"])
    def test_user_id_valid(self, value: str) -> None:
        assert TypeAdapter(UserId).validate_python(value) == value

    @pytest.mark.parametrize("value", ["", "a" * 129, "a b", "a/b", "é", "a#b", "a\n"])
    def test_user_id_invalid(self, value: str) -> None:
        with pytest.raises(ValidationError):
            TypeAdapter(UserId).validate_python(value)

    @pytest.mark.parametrize(("value", "expected"), [("1", 1), ("200", 200), ("007", 7)])
    def test_limit_valid(self, value: str, expected: int) -> None:
        assert TypeAdapter(ListLimit).validate_python(value) == expected

    @pytest.mark.parametrize("value", ["0", "201", "-5", "ten", "", "1.0"])
    def test_limit_invalid(self, value: str) -> None:
        with pytest.raises(ValidationError):
            TypeAdapter(ListLimit).validate_python(value)

    def test_completed_filter(self) -> None:
        adapter = TypeAdapter(CompletedFilter)
        assert adapter.validate_python("true") is True
        assert adapter.validate_python("false") is False
        for value in ("True", "1", "yes", "", "on"):
            with pytest.raises(ValidationError):
                adapter.validate_python(value)


class TestTaskOutput:
    @pytest.mark.parametrize(
        ("moment", "text"),
        [
            (datetime(2026, 11, 26, 21, 14, 3, 512345, tzinfo=UTC), "2026-11-26T21:14:03.512345Z"),
            (datetime(2026, 11, 26, 21, 14, 3, tzinfo=UTC), "2026-11-26T21:14:03.000000Z"),
            (
                datetime(2026, 11, 26, 23, 14, 3, 1, tzinfo=timezone(timedelta(hours=2))),
                "2026-11-26T21:14:03.000001Z",
            ),
        ],
    )
    def test_timestamps_are_utc_with_microseconds(self, moment: datetime, text: str) -> None:
        task = Task(
            id=1, title="t", description=None, completed=False, user_id="u", created_at=moment, updated_at=moment
        )
        dumped = task.model_dump(mode="json")
        assert dumped["created_at"] == text
        assert dumped["updated_at"] == text
