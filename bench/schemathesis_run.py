"""Schemathesis over every operation of /openapi.json, against a real server on SQLite, as
the admin: every 5xx, undeclared status, wrong content type or body that does not match the
document is a failure. Prints operations, requests and failures (the target is zero).

    .venv/bin/python bench/schemathesis_run.py --examples 100

The test suite runs the same checks with few examples (tests/api/test_schemathesis.py).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.core.failures import FailureGroup

sys.path.insert(0, str(Path(__file__).parent))
from _server import print_table, running_server


@schemathesis.serializer("application/x-ndjson")
def _ndjson(ctx: Any, value: Any) -> bytes:
    """The bulk body: NDJSON text as generated from its `type: string` schema."""
    return value.encode() if isinstance(value, str) else json.dumps(value).encode()


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def check_operation(
    op: Any, base_url: str, auth: dict[str, str], examples: int
) -> tuple[int, list[str]]:
    """(requests, failures) of one operation: up to 3 failures reported, the run goes on."""
    requests = 0
    failures: list[str] = []

    @settings(
        max_examples=examples,
        derandomize=True,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=op.as_strategy())
    def one(case: Any) -> None:
        nonlocal requests
        if len(failures) >= 3:
            return
        requests += 1
        resp = case.call(base_url=base_url, headers=auth, timeout=30)
        try:
            case.validate_response(resp, checks=CHECKS, headers=auth)
        except FailureGroup as e:
            failures.append(
                f"{op.method.upper()} {op.path}: [{resp.status_code}] {case.formatted_path} "
                f"query={case.query} body={str(case.body)[:200]!r}\n{str(e)[:1500]}"
            )

    one()
    return requests, failures


def run(base_url: str, token: str, examples: int) -> tuple[int, int, list[str]]:
    """(operations, requests, failures) of a derandomized run of `examples` per operation."""
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    auth = {"Authorization": f"Bearer {token}"}
    operations = requests = 0
    failures: list[str] = []
    for result in schema.get_all_operations():
        n, failed = check_operation(result.ok(), base_url, auth, examples)
        operations += 1
        requests += n
        failures.extend(failed)
    return operations, requests, failures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=100, help="Examples per operation.")
    args = parser.parse_args()
    started = time.perf_counter()
    with running_server("sqlite") as server:
        operations, requests, failures = run(server.url, server.token, args.examples)
    seconds = time.perf_counter() - started
    for f in failures:
        print(f, "\n")
    kinds = Counter(f.split(":", 1)[0] for f in failures)
    print_table(
        ["operations", "requests", "failures", "failing operations", "seconds"],
        [[operations, requests, len(failures), len(kinds), round(seconds, 1)]],
    )


if __name__ == "__main__":
    main()
