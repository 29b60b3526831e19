"""The webhook lag bench (W1) at its quick size: it runs end to end, every delivery verified and counted."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.timeout(170)
def test_the_webhook_bench_runs_quick_and_reports_its_row() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bench.webhooks", "--quick"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=160,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    row = json.loads(result.stdout.strip().splitlines()[-1])
    assert row["figure"] == "W1" and row["profile"] == "quick"
    assert row["deliveries"] >= row["expected"] > 0 and row["all_verified"] is True
    assert math.isfinite(row["value"]) and isinstance(row["pass"], bool)
