"""generator.testgen.kinds: one module per test kind, every one of them registered."""

from __future__ import annotations

import pkgutil

from generator.testgen import kinds
from generator.testgen.kinds import KINDS, fail_calc
from generator.testgen.testsql import MIRRORED


def test_every_kind_module_is_in_the_registry_under_its_name():
    modules = {info.name for info in pkgutil.iter_modules(kinds.__path__)} - {
        "base",
        "evidence",
    }  # what the kinds share
    registered = {kind.__name__.rsplit(".", 1)[-1] for kind in KINDS.values()}
    assert registered == modules, "a kind module without its line in KINDS (or the reverse)"
    for name, kind in KINDS.items():
        assert kind.NAME == name
        assert callable(kind.failing_rows) and callable(kind.corruptions), name


def test_the_mirrored_tests_are_the_registered_kinds():
    assert MIRRORED == tuple(KINDS)


def test_fail_calc_is_count_unless_the_macro_sets_it():
    assert fail_calc("not_null") == "count(*)"
    assert fail_calc("someone_else.custom") == "count(*)"
    assert fail_calc("gen_model.equal_rowcount") == "coalesce(sum(row_count_difference), 0)"
    assert fail_calc("gen_model.fewer_rows_than") == "coalesce(sum(excess_rows), 0)"


def test_every_kind_derived_per_column_has_a_derive():
    from generator.testgen.derive import COLUMN_KINDS

    for kind in COLUMN_KINDS:
        assert kind in KINDS.values() and callable(kind.derive), kind.__name__


def test_a_test_is_covered_by_one_that_states_the_same_by_its_kind():
    from generator.testgen.datatests import DataTest
    from generator.testgen.existing import already_covered

    combination = "gen_model.unique_combination_of_columns"
    unique_a = DataTest("unique", "A")
    assert already_covered(DataTest(combination, None, {"combination_of_columns": ["a"]}), [unique_a]) is unique_a
    pair = DataTest(combination, None, {"combination_of_columns": ["B", "a"]})
    assert already_covered(DataTest(combination, None, {"combination_of_columns": ["a", "b"]}), [pair]) is pair
    quoted = DataTest("accepted_values", "s", {"values": ["x", "y"], "quote": False})
    assert already_covered(DataTest("accepted_values", "s", {"values": ["y", "x"]}), [quoted]) is quoted
    assert already_covered(DataTest("not_null", "s"), [unique_a, quoted]) is None
