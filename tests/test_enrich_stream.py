"""Compiled models stream: Arrow batches in read order, repeated keys resolved at the end.

The model hands dbt-duckdb a `pyarrow.RecordBatchReader`, which DuckDB writes as it reads,
so memory holds a few batches rather than the input. These tests pin what that must not
change: the same rows as a whole-frame dedupe, exactness that does not rest on the key
hash, bounded batches, deterministic order, and a bad row failing the write as a whole.
Parquet is read twice (keys, then rows); NDJSON is decoded once, its good rows spilled to
a temporary Arrow file and the chosen versions streamed back.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

import duckdb
import polars as pl
import pyarrow as pa
import pytest

from generator.enrich.compiler import compile_spec

REPO = Path(__file__).resolve().parents[1]
RAW = REPO / "tests" / "fixtures" / "raw"
STAGING = REPO / "models" / "staging"


class Compiled:
    """A compiled model run without dbt, through the runtime it loads. Under `on_error:
    quarantine` the Python model is `<name>__checked`; `build` and `quarantined` return what
    the model's and the quarantine's SQL select from it."""

    def __init__(self, path: Path):
        checked = path.with_name(f"{path.stem}__checked.py")
        path = checked if checked.is_file() else path
        spec = importlib.util.spec_from_file_location(path.stem, path)
        self.module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(self.module)
        self.rt, self.spec = self.module.rt, self.module.SPEC

    def stream(self, raw_dir: Path, lookup: pl.DataFrame | None = None) -> pa.RecordBatchReader:
        return self.rt.stream(self.spec, raw_dir, lookup)

    def build(self, raw_dir: Path, lookup: pl.DataFrame | None = None) -> pl.DataFrame:
        frame = self.rt.build(self.spec, raw_dir, lookup)
        if self.spec.checked:
            frame = frame.filter(pl.col("_error").is_null()).select(list(self.spec.output_schema))
        return frame

    def quarantined(self, raw_dir: Path, lookup: pl.DataFrame | None = None) -> pl.DataFrame:
        frame = self.rt.build(self.spec, raw_dir, lookup).filter(pl.col("_error").is_not_null())
        return frame.select(source_file="_source_file", source_row="_source_row", error="_error")


load = Compiled


def events_module():
    return load(STAGING / "events" / "stg_events__events.py")


def whole_frame_events(raw_dir: Path) -> pl.DataFrame:
    """The reference: every file in memory, earliest received copy per event_id."""
    frame = pl.read_parquet(sorted((raw_dir / "events").glob("*.parquet")))
    frame = frame.with_row_index("_read").sort(["event_id", "received_at", "_read"])
    return frame.unique("event_id", keep="first", maintain_order=True)


def test_the_stream_has_the_rows_of_a_whole_frame_dedupe():
    frame = events_module().build(RAW)
    expected = whole_frame_events(RAW)
    assert frame.height == expected.height == frame["event_id"].n_unique()
    got = dict(zip(frame["event_id"], frame["received_at"], strict=True))
    assert got == dict(zip(expected["event_id"], expected["received_at"], strict=True))


def test_exactness_does_not_rest_on_the_key_hash(monkeypatch):
    module = events_module()
    honest = module.build(RAW)
    # Every key hashing alike holds every row back: slower, but the same rows.
    monkeypatch.setattr(module.rt, "key_hash", lambda spec: pl.lit(7, pl.UInt64))
    colliding = module.build(RAW)
    assert colliding.sort("event_id").equals(honest.sort("event_id"))


def test_rows_stream_in_read_order_and_repeated_keys_come_last_sorted():
    module = events_module()
    frame = module.build(RAW)
    assert frame.equals(module.build(RAW)), "the same input gives the same rows in the same order"
    files = sorted((RAW / "events").glob("*.parquet"))
    read = pl.read_parquet(files)
    repeated = read.filter(pl.col("event_id").is_duplicated())["event_id"].unique()
    tail = frame.tail(repeated.len())
    assert tail["event_id"].to_list() == sorted(repeated.to_list())
    head = frame.head(frame.height - repeated.len())
    order = read.filter(~pl.col("event_id").is_in(repeated.implode()))["event_id"]
    assert head["event_id"].to_list() == order.to_list()


def test_model_returns_a_stream_in_bounded_batches(tmp_path, monkeypatch):
    module = events_module()
    monkeypatch.setattr(module.rt, "BATCH_ROWS", 4)
    reader = module.stream(RAW)
    assert isinstance(reader, pa.RecordBatchReader)
    assert reader.schema == module.spec.arrow_schema
    sizes = [batch.num_rows for batch in reader]
    assert sum(sizes) == module.build(RAW).height
    assert max(sizes) <= 4


def test_duckdb_writes_the_stream_as_dbt_duckdb_does(tmp_path):
    module = events_module()
    connection = duckdb.connect(str(tmp_path / "w.duckdb"))
    connection.register("df", module.stream(RAW))
    connection.execute("create table events as select * from df")
    types = connection.execute(
        "select column_name, lower(data_type) from duckdb_columns() where table_name = 'events'"
    ).fetchall()
    assert types[:2] == [("event_id", "varchar"), ("account_id", "varchar")]
    assert ("occurred_at", "timestamp with time zone") in types
    assert connection.execute("select count(*) from events").fetchall() == [(30,)]


def test_a_bad_row_fails_the_write_and_nothing_is_created(tmp_path):
    spec = tmp_path / "stg_crm__contacts.enrich.yml"
    spec.write_text((STAGING / "crm" / spec.name).read_text().replace("on_error: quarantine", "on_error: fail"))
    compile_spec(spec)
    module = load(tmp_path / "stg_crm__contacts.py")
    accounts = pl.DataFrame({"account_id": ["acc_00001"], "domain": ["acme.com"]})
    connection = duckdb.connect(str(tmp_path / "w.duckdb"))
    connection.register("df", module.stream(RAW / "malformed", accounts))
    with pytest.raises(duckdb.Error) as raised:
        connection.execute("create table contacts as select * from df")
    assert "3 bad row(s) in crm/contacts.ndjson; nothing was loaded (on_error: fail)" in str(raised.value)
    assert "crm/contacts.ndjson:13: created_at: cannot parse 'yesterday'" in str(raised.value)
    assert connection.execute("select count(*) from duckdb_tables()").fetchall() == [(0,)]


def test_without_dedupe_every_copy_of_a_repeated_key_is_a_bad_row(tmp_path, monkeypatch):
    raw = tmp_path / "raw"
    shutil.copytree(RAW / "crm", raw / "crm")
    spec = tmp_path / "stg_crm__contacts.enrich.yml"
    text = (STAGING / "crm" / spec.name).read_text()
    text = text[: text.index("dedupe:")] + text[text.index("lookup:") :]
    spec.write_text(text)
    compile_spec(spec)
    module = load(tmp_path / "stg_crm__contacts.py")
    warned = []
    monkeypatch.setattr(module.rt, "warn", warned.append)
    accounts = pl.DataFrame({"account_id": ["acc_00001"], "domain": ["acme.com"]})
    frame = module.build(raw, accounts)
    lines = [json.loads(line) for line in (raw / "crm" / "contacts.ndjson").read_text().splitlines() if line]
    counts: dict[str, int] = {}
    for record in lines:
        counts[record["id"]] = counts.get(record["id"], 0) + 1
    assert sorted(frame["contact_id"]) == sorted(k for k, n in counts.items() if n == 1)
    bad = module.quarantined(raw, accounts)
    repeated_lines = sum(n for n in counts.values() if n > 1)
    assert bad.height == repeated_lines > 0
    assert set(bad["error"]) == {"duplicate key contact_id (the spec has no dedupe)"}
    # Once per run of stg_crm__contacts__checked (build and quarantined above each run it).
    assert set(warned) == {
        f"stg_crm__contacts: {repeated_lines} bad row(s) in crm/contacts.ndjson were set aside in "
        "stg_crm__contacts__quarantine"
    }


# -- NDJSON: decoded once, good rows set aside, the chosen versions streamed back -----------


def crm_module():
    return load(STAGING / "crm" / "stg_crm__contacts.py")


ACCOUNTS = pl.DataFrame({"account_id": ["acc_00001"], "domain": ["acme.com"]})


def chosen_lines(raw_dir: Path) -> list[int]:
    """The reference: the line of each contact's latest good version (ties: the later line),
    in line order, from the raw text and the quarantine's list of bad lines."""
    quarantine = load(STAGING / "crm" / "stg_crm__contacts.py").quarantined(raw_dir, ACCOUNTS)
    bad = set(quarantine["source_row"])
    latest: dict[str, tuple[str, int]] = {}
    path = raw_dir / "crm" / "contacts.ndjson"
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip() or number in bad:
            continue
        record = json.loads(line)
        stamp = record["updatedAt"].replace("Z", "+00:00")
        if record["id"] not in latest or stamp >= latest[record["id"]][0]:
            latest[record["id"]] = (stamp, number)
    return sorted(number for _, number in latest.values())


def test_ndjson_stream_loads_the_latest_good_version_of_each_key_in_read_order(monkeypatch):
    module = crm_module()
    monkeypatch.setattr(module.rt, "warn", lambda message: None)
    frame = module.build(RAW, ACCOUNTS)
    assert frame.equals(module.build(RAW, ACCOUNTS)), "the same input gives the same rows in the same order"
    path = RAW / "crm" / "contacts.ndjson"
    lines = path.read_text().splitlines()
    expected = [json.loads(lines[number - 1]) for number in chosen_lines(RAW)]
    assert frame["contact_id"].to_list() == [record["id"] for record in expected]
    assert frame["contact_id"].is_unique().all()
    assert frame.height < len([line for line in lines if line.strip()]), "the fixture repeats keys"


def test_ndjson_batches_and_chunks_do_not_change_the_rows(monkeypatch):
    module = crm_module()
    monkeypatch.setattr(module.rt, "warn", lambda message: None)
    whole = module.build(RAW, ACCOUNTS)
    # A batch of 3 lines decoded 97 bytes at a time: many spill files, the same result.
    monkeypatch.setattr(module.rt, "BATCH_LINES", 3)
    monkeypatch.setattr(module.rt, "CHUNK_BYTES", 97)
    assert module.build(RAW, ACCOUNTS).equals(whole)


def test_ndjson_spill_files_are_removed_when_the_stream_ends_or_is_dropped(tmp_path, monkeypatch):
    import gc
    import tempfile

    module = crm_module()
    monkeypatch.setattr(module.rt, "warn", lambda message: None)
    monkeypatch.setattr(module.rt, "BATCH_LINES", 5)
    monkeypatch.setattr(module.rt, "CHUNK_BYTES", 500)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    spilled = []
    write_ipc = pl.DataFrame.write_ipc

    def record(frame, path, **kwargs):
        spilled.append(Path(path))
        return write_ipc(frame, path, **kwargs)

    monkeypatch.setattr(pl.DataFrame, "write_ipc", record)
    reader = module.stream(RAW, ACCOUNTS)
    assert sum(batch.num_rows for batch in reader) > 0
    assert len(spilled) > 1 and all(path.parent.parent == tmp_path for path in spilled)
    assert list(tmp_path.iterdir()) == []
    spilled.clear()
    reader = module.stream(RAW, ACCOUNTS)
    reader.read_next_batch()  # DuckDB stops reading: a failed write, say
    assert spilled and spilled[0].exists()
    del reader
    gc.collect()
    assert list(tmp_path.iterdir()) == []


def test_ndjson_on_error_fail_raises_before_any_row_is_handed_over(tmp_path):
    spec = tmp_path / "stg_crm__contacts.enrich.yml"
    spec.write_text((STAGING / "crm" / spec.name).read_text().replace("on_error: quarantine", "on_error: fail"))
    compile_spec(spec)
    module = load(tmp_path / "stg_crm__contacts.py")
    reader = module.stream(RAW / "malformed", ACCOUNTS)
    with pytest.raises(module.rt.EnrichError, match=r"3 bad row\(s\) in crm/contacts.ndjson"):
        reader.read_next_batch()


def test_ndjson_across_files_matches_one_file_split_in_two(tmp_path, monkeypatch):
    raw = tmp_path / "raw"
    (raw / "crm").mkdir(parents=True)
    lines = (RAW / "crm" / "contacts.ndjson").read_text().splitlines(keepends=True)
    half = len(lines) // 2
    (raw / "crm" / "contacts_1.ndjson").write_text("".join(lines[:half]))
    (raw / "crm" / "contacts_2.ndjson").write_text("".join(lines[half:]))
    spec = tmp_path / "stg_crm__contacts.enrich.yml"
    spec.write_text((STAGING / "crm" / spec.name).read_text().replace("crm/contacts.ndjson", "crm/contacts_*.ndjson"))
    compile_spec(spec)
    split = load(tmp_path / "stg_crm__contacts.py")
    whole = crm_module()
    monkeypatch.setattr(whole.rt, "warn", lambda message: None)
    assert split.build(raw, ACCOUNTS).equals(whole.build(RAW, ACCOUNTS))
