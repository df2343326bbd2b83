"""Ports are kept per model version, without an engine: the lockfile's `ports:` keys
(`account_mrr.v1`), an older lockfile keyed by name alone, and the switches that keep a
version without a proven port off on the target."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from generator.errors import ConfigError
from generator.port.model import ModelVersion
from generator.port.write import project_config
from generator.write import lockfile
from generator.write.lockfile import LockEntry, Lockfile, port_key


def proof(source: str, file: str, rows: int = 3) -> dict:
    return {
        "source": source,
        "source_sha256": "1" * 64,
        "file": file,
        "sha256": "2" * 64,
        "engines": {"duckdb": "2.0.1", "spark": "4.3.0"},
        "row_sets": [{"name": "a sample of the real inputs (up to 1000 rows each)", "rows": rows}],
    }


V1 = proof("models/marts/account_mrr_v1.sql", "models/marts/spark/account_mrr_v1.sql")
V2 = proof("models/marts/account_mrr_v2.sql", "models/marts/spark/account_mrr_v2.sql", rows=5)


def two_versions(tmp_path: Path) -> Lockfile:
    lock = Lockfile(tmp_path / lockfile.LOCK_NAME)
    for version in (1, 2):
        files = {f"models/marts/account_mrr_v{version}.sql": "3" * 64, "models/marts/account_mrr.yml": "4" * 64}
        lock.record(LockEntry("account_mrr", version, "marts", files=files, provenance={"origin": "proposal-file"}))
    return lock


def older_lockfile(tmp_path: Path) -> bytes:
    """A lockfile as gen-model wrote it before ports were kept per version: keyed by name."""
    lock = two_versions(tmp_path)
    lock.ports = {"account_mrr": {"spark": dict(V1)}, "orders": {"spark": proof("models/orders.sql", "models/s.sql")}}
    text = lock.dumps()
    assert "\n  account_mrr:\n    spark:\n" in text  # the old shape
    lock.path.write_text(text, encoding="utf-8")
    return text.encode()


def test_the_key_is_the_model_and_its_version_as_dbt_selects_it():
    assert port_key("account_mrr", 1) == "account_mrr.v1"
    assert port_key("orders", None) == "orders"


def test_an_older_lockfile_keyed_by_name_loads_and_keeps_its_bytes(tmp_path):
    written = older_lockfile(tmp_path)
    lock = lockfile.load(tmp_path)
    assert lock.dumps().encode() == written  # read as it is, written back unchanged
    # the name-keyed record belongs to the version whose file it proves
    assert lock.ported("account_mrr", 1) == {"spark": V1}
    assert lock.ported("account_mrr", 2) == {}
    assert lock.ported("orders", None)["spark"]["source"] == "models/orders.sql"
    assert (tmp_path / lockfile.LOCK_NAME).read_bytes() == written  # loading writes nothing


def test_porting_another_version_keeps_the_older_versions_proof(tmp_path):
    older_lockfile(tmp_path)
    lock = lockfile.load(tmp_path)
    lock.record_port("account_mrr", "spark", V2, version=2)
    assert lock.ported("account_mrr", 1) == {"spark": V1}
    assert lock.ported("account_mrr", 2) == {"spark": V2}
    lock.path.write_text(lock.dumps(), encoding="utf-8")
    again = lockfile.load(tmp_path)
    assert sorted(again.ports) == ["account_mrr", "account_mrr.v2", "orders"]
    assert again.ported("account_mrr", 1) == {"spark": V1} and again.ported("account_mrr", 2) == {"spark": V2}


def test_porting_the_same_version_again_replaces_its_name_keyed_record(tmp_path):
    older_lockfile(tmp_path)
    lock = lockfile.load(tmp_path)
    newer = dict(V1, row_sets=[{"name": "unit test account_mrr_v1_logic", "rows": 9}])
    lock.record_port("account_mrr", "spark", newer, version=1)
    assert sorted(lock.ports) == ["account_mrr.v1", "orders"]
    assert lock.ported("account_mrr", 1) == {"spark": newer}


def test_each_version_keeps_its_own_proof_through_a_rewrite(tmp_path):
    lock = two_versions(tmp_path)
    lock.record_port("account_mrr", "spark", V1, version=1)
    lock.record_port("account_mrr", "spark", V2, version=2)
    lock.record_port("account_mrr", "databricks", V2, version=2)
    lock.path.write_text(lock.dumps(), encoding="utf-8")
    text = lock.path.read_text(encoding="utf-8")
    assert "\nports:\n  account_mrr.v1:\n    spark:\n" in text and "\n  account_mrr.v2:\n    databricks:\n" in text
    again = lockfile.load(tmp_path)
    assert again.ported("account_mrr", 1) == {"spark": V1}
    assert again.ported("account_mrr", 2) == {"databricks": V2, "spark": V2}
    assert again.dumps() == text


def test_a_damaged_version_record_is_located(tmp_path):
    lock = two_versions(tmp_path)
    lock.record_port("account_mrr", "spark", V1, version=1)
    data = yaml.safe_load(lock.dumps())
    del data["ports"]["account_mrr.v1"]["spark"]["sha256"]
    lock.path.write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(ConfigError) as damaged:
        lockfile.load(tmp_path)
    assert "ports.account_mrr.v1.spark must have exactly source" in str(damaged.value.problems)


PROJECT = (
    "name: gen_model\nmodels:\n  gen_model:\n"
    "    +enabled: \"{{ target.profile_name == 'gen_model' }}\"  # own profile only\n"
    "    marts:\n      +materialized: table\n"
    "unit_tests:\n  gen_model:\n    +enabled: \"{{ target.profile_name == 'gen_model' }}\"\n"
)
OFF = "{{ (target.profile_name == 'gen_model') and target.type != 'spark' }}"


def version(number: int) -> ModelVersion:
    return ModelVersion(
        number,
        f"models/marts/health_v{number}.sql",
        ("gen_model", "marts", "health", f"v{number}"),
        (("gen_model", "marts", "health", f"health_v{number}_logic"),),
    )


def test_a_version_without_a_port_stays_off_on_the_target_until_it_is_ported(tmp_path):
    (tmp_path / "dbt_project.yml").write_text(PROJECT)
    project = SimpleNamespace(project_dir=tmp_path, name="gen_model", model_paths=["models"])
    text = project_config(
        project, "models/marts/health_v2.sql", "health_v2", ["spark"], "spark", versions_off=(version(1),)
    )
    config = yaml.safe_load(text)
    # versions are configured by dbt's fqn (model, then `v1`), not by file name
    assert config["models"]["gen_model"]["marts"]["health"] == {"v1": {"+enabled": OFF}}
    assert config["unit_tests"]["gen_model"]["marts"]["health"] == {"health_v1_logic": {"+enabled": OFF}}
    assert "# own profile only" in text

    # v1 ported later: its switch-off on spark is lifted, the empty mappings go
    (tmp_path / "dbt_project.yml").write_text(text)
    again = yaml.safe_load(
        project_config(project, "models/marts/health_v1.sql", "health_v1", ["spark"], "spark", version_on=version(1))
    )
    assert "health" not in again["models"]["gen_model"]["marts"]
    assert again["unit_tests"]["gen_model"] == {"+enabled": "{{ target.profile_name == 'gen_model' }}"}
    assert again["models"]["gen_model"]["marts"]["spark"]["health_v1"] == {
        "+enabled": "{{ (target.profile_name == 'gen_model') and target.type == 'spark' }}"
    }


def test_a_persons_own_switch_on_a_version_is_not_overridden(tmp_path):
    from generator.port.write import PortWriteError

    config = yaml.safe_load(PROJECT)
    config["models"]["gen_model"]["marts"]["health"] = {"v1": {"+enabled": False}}
    (tmp_path / "dbt_project.yml").write_text(yaml.safe_dump(config))
    project = SimpleNamespace(project_dir=tmp_path, name="gen_model", model_paths=["models"])
    with pytest.raises(PortWriteError, match=r"already sets enabled for models\.gen_model\.marts\.health\.v1"):
        project_config(
            project, "models/marts/health_v2.sql", "health_v2", ["spark"], "spark", versions_off=(version(1),)
        )
