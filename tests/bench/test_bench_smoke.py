"""The benchmark suite at tiny N, so the harness never rots: it runs end to end and reports every figure.

How fast anything is does not matter here (bench/ and BENCHMARKS.md are for that); only that each of
P1-P6 is measured against its baseline and comes out as numbers."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[2]
FIGURES = ("P1", "P2", "P3", "P4", "P5", "P6")

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis]


def is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


@pytest.mark.timeout(170)
def test_the_suite_runs_at_tiny_n_and_reports_every_figure(tmp_path: Path) -> None:
    output = tmp_path / "bench.json"
    result = subprocess.run(
        [sys.executable, "-m", "bench", "--smoke", "--output", str(output), "--log-dir", str(tmp_path / "logs")],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=160,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-6000:]
    document = json.loads(result.stdout)
    assert document == json.loads(output.read_text())
    assert document["profile"] == "smoke"
    assert document["errors"] == {}
    assert set(document["figures"]) == set(FIGURES)
    assert {row["figure"] for row in document["results"]} == set(FIGURES)
    for key in FIGURES:
        figure = document["figures"][key]
        assert figure["rows"], key
        assert isinstance(figure["pass"], bool), key
        for row in figure["rows"]:
            assert is_number(row["value"]), (key, row)
            assert is_number(row["baseline"]), (key, row)
            assert row["ratio"] is None or is_number(row["ratio"]), (key, row)
            assert isinstance(row["pass"], bool) and row["target"], (key, row)
    for n, sizes in document["figures"]["P1"]["detail"].items():
        assert sizes["service"]["missing"] == 0 and sizes["baseline"]["missing"] == 0, n
    assert document["figures"]["P5"]["detail"]["close_codes"] == {"4401": 4}
    assert is_number(document["machine"]["nproc"])
