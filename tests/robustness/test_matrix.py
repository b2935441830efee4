"""The robustness matrix (issue 11): every contract-valid extract publishes.

One `dap run` per case (tests/robustness/cases.py), run once per session by ``run_matrix`` with two
workers in parallel, each with its own Dagster instance. For every case: exit code 0 and a published
version; every analysis marked not estimable shows its reason in its table, in the WARN check that names
it and in its report; no check failed with severity ERROR (a non-blocking ERROR would be a check the
publication rule does not account for); and the analyses a case was built to break are marked not
estimable. The table of the matrix is printed at the end of the session.
"""

from __future__ import annotations

import json
import os

import pytest

from dap import publication
from ml.reporting import not_estimable_text
from orchestration.defs.evaluation import _slug
from tests.robustness import matrix as mx
from tests.robustness.cases import Result, cases
from tests.robustness.conftest import MATRIX_TABLE

pytestmark = pytest.mark.slow

CASES = {case.name: case for case in cases()}


@pytest.fixture(scope="session")
def results(tmp_path_factory, request):
    """The matrix, run once per session. Under pytest-xdist every worker asks for it: the first runs it
    (in a folder shared by the workers), the others wait on its lock and read its results."""
    shared = os.environ.get("PYTEST_XDIST_WORKER") is not None
    root = (
        tmp_path_factory.getbasetemp().parent / "robustness_matrix"
        if shared
        else tmp_path_factory.mktemp("robustness_matrix")
    )
    root.mkdir(parents=True, exist_ok=True)
    with publication.exclusive_lock(root / "matrix.lock", wait=True):
        saved = root / "results.json"
        if shared and saved.exists():
            found = {r["case"]: Result(**r) for r in json.loads(saved.read_text())}
        else:
            found = mx.run_matrix(root, list(CASES.values()), int(os.environ.get("DA_MATRIX_WORKERS", "2")))
    request.config.stash[MATRIX_TABLE] = mx.table(found) + f"\n(runs in {root})"
    return root, found


@pytest.mark.parametrize("name", list(CASES))
def test_case_publishes_and_says_why_where_it_cannot_estimate(results, name):
    root, found = results
    case, result = CASES[name], found[name]
    assert result.exit_code == 0 and result.published, result.output_tail
    folder = mx.case_dir(root, case)
    manifest = mx.manifest(folder)

    checks = {(a["key"], c["name"]): c for a in manifest["assets"] for c in a.get("checks", [])}
    errors = [
        f"{key}:{c['name']}" for key, c in checks.items() if not c["passed"] and c["severity"] == "ERROR"
    ]
    assert not errors, f"checks failed with severity ERROR in a published run: {errors}"

    for table, label, reason in mx.not_estimable_rows(folder):
        where = f"{table} [{label}]"
        assert reason.strip(), f"{where}: not estimable without a reason"
        check = checks.get(mx.WARN_CHECKS[table])
        assert check and not check["passed"] and check["severity"] == "WARN", f"{where}: no WARN check"
        assert reason in check["description"], f"{where}: the WARN check does not name it"
        if table == "analytics.effect_estimates":
            page = mx.report_text(folder, "evaluation", f"{_slug(label.split(', ')[0])}.html")
        else:
            page = mx.report_text(folder, "regression.html" if "regression" in table else "typology.html")
        assert not_estimable_text(reason) in page, f"{where}: the report does not show the reason"

    rows = mx.published_tables(folder)
    for expect in case.expect:
        frame = rows[expect.table]
        chosen = frame.loc[frame[expect.column].astype(str).str.contains(expect.value, regex=False)]
        assert len(chosen), f"{expect}: no such rows"
        marked = chosen["status"] == expect.status
        assert marked.all() if expect.every else marked.any(), chosen[["status", "reason"]].to_string()
        if expect.reason:
            assert chosen.loc[marked, "reason"].str.contains(expect.reason, regex=False).all()
