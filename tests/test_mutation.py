"""``make mutation``'s verdict (``bench/mutation.py``) counts what it should, and every piece of
code left unmutated says why."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import mutation

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
    assert mutation.main([]) == code
    assert "mutation score: " in capsys.readouterr().out


def test_without_a_run_it_says_what_to_do(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert mutation.main([]) == 2
    assert "make mutation" in capsys.readouterr().err


def test_every_piece_of_code_left_unmutated_says_why() -> None:
    found = list(mutation.equivalents())
    assert len(found) > 10
    for equivalent in found:
        assert equivalent.why, equivalent.where
        assert equivalent.code, equivalent.where


def test_a_pragma_without_a_reason_is_refused(tmp_path: Path) -> None:
    (tmp_path / "bot").mkdir()
    (tmp_path / "cogs").mkdir()
    (tmp_path / "bot" / "x.py").write_text("# a comment\nvalue = 1  # pragma: no mutate\n")
    with pytest.raises(ValueError, match=r"bot/x.py:2: a no-mutate pragma without"):
        list(mutation.equivalents(tmp_path))


def test_the_page_lists_survivors_and_the_reasons(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    meta = tmp_path / "mutants" / "bot" / "x.py.meta"
    meta.parent.mkdir(parents=True)
    meta.write_text(
        json.dumps({"exit_code_by_key": {"bot.x.x_f__mutmut_2": 0, "bot.x.x_f__mutmut_1": 1}})
    )
    monkeypatch.chdir(tmp_path)
    text = mutation.page(STATS, 90.0)
    assert "- `bot.x.x_f__mutmut_2` (`mutmut show bot.x.x_f__mutmut_2`)" in text
    assert "x_f__mutmut_1" not in text
    assert "| `bot/facts/pool.py:" in text
