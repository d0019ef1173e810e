"""Cron schedules have five fields (issue 10): a sixth, which croniter would read as seconds,
is refused with how to write it, in a stored pipeline (over HTTP) and in a recipe file."""

from __future__ import annotations

import pytest

from lodestar.ingest.errors import ConfigError
from lodestar.ingest.recipe import parse_recipe
from lodestar.model.cron import check_cron

from .support import Api, problem_of, unique

SOURCE = {"type": "sqlite", "config": {"path": "/srv/shop.sqlite", "service": "s"}}


@pytest.mark.parametrize("good", ["*/30 * * * *", "0 3 * * 1-5", " 0 * * * * "])
def test_five_fields_are_a_schedule(good: str) -> None:
    assert check_cron(good) == good.strip()


@pytest.mark.parametrize(
    ("bad", "says"),
    [
        ("*/10 * * * * *", "five fields, not 6"),
        ("0 0 * * * * 2027", "five fields, not 7"),
        ("* * * *", "five fields, not 4"),
        ("61 * * * *", "not a cron expression"),
        ("", "five fields, not 0"),
    ],
)
def test_anything_else_is_refused_with_how_to_write_it(bad: str, says: str) -> None:
    with pytest.raises(ValueError, match=says) as e:
        check_cron(bad)
    assert "'*/30 * * * *'" in str(e.value)


def test_a_recipe_with_six_fields_is_refused() -> None:
    recipe = {"pipeline": "shop", "schedule": "*/10 * * * * *", "source": SOURCE}
    with pytest.raises(ConfigError, match="five fields, not 6"):
        parse_recipe(recipe)
    assert parse_recipe({**recipe, "schedule": "*/10 * * * *"}).schedule == "*/10 * * * *"


def test_a_stored_pipeline_with_six_fields_is_a_422_and_nothing_is_stored(api: Api) -> None:
    name = unique("cron")
    body = {"name": name, "recipe": {"source": SOURCE}, "schedule": "*/10 * * * * *"}
    resp = api.put("ingestion-pipelines", body)
    assert resp.status_code == 422, resp.text
    assert "five fields, not 6" in problem_of(resp)["detail"]
    assert api.by_name("ingestion-pipelines", name).status_code == 404
    assert api.put("ingestion-pipelines", {**body, "schedule": "*/10 * * * *"}).status_code == 201
