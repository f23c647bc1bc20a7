"""``make mutation``'s verdict (``tests/mutation.py``) counts what it should."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests import mutation

STATS = {
    "killed": 80,
    "survived": 8,
    "total": 100,
    "no_tests": 2,
    "skipped": 5,
    "suspicious": 0,
    "timeout": 5,
    "check_was_interrupted_by_user": 0,
    "segfault": 0,
}


def test_a_timeout_counts_as_caught_and_a_skipped_mutant_not_at_all() -> None:
    assert mutation.score(STATS) == pytest.approx(100 * 85 / 95)


def test_nothing_run_scores_zero() -> None:
    assert mutation.score({**STATS, "total": 5, "skipped": 5}) == 0.0


@pytest.mark.parametrize(("killed", "code"), [(81, 0), (80, 1)])
def test_the_target_decides_the_exit_code(
    killed: int,
    code: int,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    stats = {**STATS, "killed": killed, "survived": 95 - 5 - killed, "skipped": 0, "total": 95}
    (tmp_path / "mutants").mkdir()
    (tmp_path / mutation.STATS).write_text(json.dumps(stats))
    monkeypatch.chdir(tmp_path)
    assert mutation.main() == code
    assert "mutation score: " in capsys.readouterr().out


def test_without_a_run_it_says_what_to_do(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert mutation.main() == 2
    assert "make mutation" in capsys.readouterr().err
