"""Property-based API tests: schemathesis drives every operation of /openapi.json.

In process: no generated input may produce a 5xx, and every response must match the schema it documents.
Over HTTP: ``schemathesis run --checks all`` (every check, every phase: examples and boundaries, fuzzing,
negative data, stateful links, undeclared methods) finds nothing on every operation, against a uvicorn
server on 127.0.0.1; ``positive_data_acceptance`` runs as tests/schemathesis_hooks.py's variant, which knows
the few rules JSON Schema cannot say (the service-area polygon, parameters that depend on each other).
Both read tests/schemathesis.toml: cases per operation (fewer for siting and export, which solve a MIP or
draw a file) and the real procedure those two are asked about half the time.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import response_schema_conformance

from app.main import create_app

CHECKS = [not_a_server_error, response_schema_conformance]
CONFIG = Path(__file__).resolve().parent.parent / "schemathesis.toml"
# Short enough for a fuzzing run (a hard siting question then gets the greedy sites), long enough for CBC to
# solve the procedure tests/schemathesis.toml asks about.
SITING_TIME_LIMIT_S = "2"


@pytest.fixture(scope="module")
def api_schema(service):  # type: ignore[no-untyped-def]
    """The app's own OpenAPI document, served in-process, with the suite's schemathesis settings."""
    config = SchemathesisConfig.from_path(str(CONFIG))
    return schemathesis.openapi.from_asgi("/openapi.json", create_app(service), config=config)


def test_every_operation_survives_generated_input(api_schema) -> None:  # type: ignore[no-untyped-def]
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 10
    labels = {operation.label for operation in operations}
    assert {"POST /v1/coverage/sites", "POST /v1/coverage/export"} <= labels
    for operation in operations:
        examples = api_schema.config.generation_for(operation=operation).max_examples

        @given(case=operation.as_strategy())
        @settings(max_examples=examples, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def check(case) -> None:  # type: ignore[no-untyped-def]
            case.call_and_validate(checks=CHECKS)

        check()


def test_schemathesis_checks_all_find_nothing(tmp_path) -> None:
    from scripts.bench_postgis import serve_api

    cli = shutil.which("schemathesis") or os.path.join(os.path.dirname(sys.executable), "schemathesis")
    seen = tmp_path / "seen.txt"
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # the project
    env = {
        **os.environ,
        "SCHEMATHESIS_HOOKS": "tests.schemathesis_hooks",
        "GANDAN_SCHEMATHESIS_SEEN": str(seen),
        "PYTHONPATH": os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH", "")) if p),
    }
    server_env = {"GANDAN_BACKEND": "embedded", "GANDAN_SITING_TIME_LIMIT_S": SITING_TIME_LIMIT_S}
    with serve_api(server_env, workers=1) as server:
        run = subprocess.run(
            [cli, "--config-file", str(CONFIG), "run", f"{server.url}/openapi.json", "--checks", "all",
             "--exclude-checks", "positive_data_acceptance", "--seed", "15", "--no-color"],
            capture_output=True, text=True, timeout=900, env=env, check=False,
            cwd=tmp_path,  # its cache goes there, not into the repository
        )
    tail = run.stdout[-6000:]
    assert run.returncode == 0, tail
    assert " passed" in tail and "failed" not in tail, tail
    # The domain-rule variant of positive_data_acceptance ran, on (nearly) every operation.
    assert len(set(seen.read_text().split("\n")) - {""}) >= 15
