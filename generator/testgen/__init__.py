"""Tests for generated models: derived data tests, unit-test fixtures, the hollow-test check, mutation."""
