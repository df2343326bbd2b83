"""Every SQL model, hand-written or generated, follows the project's style (.sqlfluff).

Generated models are written by gen-model's formatter, so this is also a test of it: a
formatter change that breaks the dbt style (keyword case, trailing commas, explicit
aliases, indentation) fails here.
"""

from pathlib import Path

import pytest

sqlfluff = pytest.importorskip("sqlfluff")

REPO = Path(__file__).resolve().parents[1]
MODELS = sorted((REPO / "models").rglob("*.sql"))


@pytest.mark.parametrize("path", MODELS, ids=lambda p: p.stem)
def test_model_follows_the_project_sql_style(path, monkeypatch):
    monkeypatch.chdir(REPO)  # sqlfluff reads .sqlfluff from the working directory up
    violations = sqlfluff.lint(path.read_text(), config_path=str(REPO / ".sqlfluff"))
    assert [f"{v['start_line_no']}:{v['start_line_pos']} {v['code']} {v['description']}" for v in violations] == []


def test_the_style_check_can_fail():
    bad = "SELECT a, b c\nFROM {{ ref('x') }}\n"
    violations = sqlfluff.lint(bad, config_path=str(REPO / ".sqlfluff"))
    codes = {v["code"] for v in violations}
    assert {"CP01", "AL02"} <= codes  # uppercase keyword; implicit column alias
