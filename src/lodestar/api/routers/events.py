"""GET /api/v1/events: the change feed, followed by cursor."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from starlette.responses import Response

from lodestar.api import presenters as p
from lodestar.api.deps import Reader, Services
from lodestar.api.openapi import READ, answers, json_ok, ref
from lodestar.api.routers.assets import json_response
from lodestar.catalog import BadRequest

router = APIRouter(prefix="/api/v1", tags=["events"], default_response_class=Response)


@router.get(
    "/events",
    summary="Change events after a cursor, oldest first",
    responses=answers(json_ok(ref("EventPage"), "The events after the cursor"), *READ),
)
def events(
    svc: Services,
    _: Reader,
    after: Annotated[
        str, Query(description="Cursor: the last event seen; 0 from the start.")
    ] = "0",
    kind: Annotated[list[str] | None, Query(description="Only these asset kinds.")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> Response:
    if not after.isdigit() or len(after) > 18:
        raise BadRequest("'after' is an event cursor: a number from a previous page, or 0")
    items = svc.catalog.events(after=int(after), limit=limit, kinds=kind)
    if not items and int(after) > 0 and int(after) > (last := svc.catalog.last_event()):
        # A follower whose cursor is past the end (another server's, or a restored database)
        # would otherwise wait forever for events that were numbered before it.
        raise BadRequest(
            f"'after' {after} is past the last event, {last}: this cursor is not from this "
            "catalog; start again from 0 or from the last event you stored"
        )
    cursor = str(items[-1].seq) if items else after
    return json_response({"data": [p.event_json(e) for e in items], "paging": {"after": cursor}})
