"""python -m sample_data --scale N [--raw-dir DIR] [--warehouse PATH] [--seed 42]"""

from __future__ import annotations

import argparse
import sys

from sample_data import DEFAULT_SEED, SampleDataError, default_raw_dir, default_warehouse, generate


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m sample_data",
        description="Generate Northwind Cloud's raw data: DuckDB tables and raw files.",
    )
    parser.add_argument(
        "--scale",
        type=float,
        default=1.0,
        help="size multiplier: 1 = 500 accounts, 100,000 events (default 1; 0.1 works)",
    )
    parser.add_argument(
        "--raw-dir",
        default=None,
        help=f"where the non-SQL files go (default $GEN_MODEL_RAW_PATH or {default_raw_dir()})",
    )
    parser.add_argument(
        "--warehouse",
        default=None,
        help=f"the DuckDB file (default $GEN_MODEL_DUCKDB_PATH or {default_warehouse()})",
    )
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"random seed (default {DEFAULT_SEED})")
    args = parser.parse_args(argv)
    try:
        summary = generate(scale=args.scale, raw_dir=args.raw_dir, warehouse=args.warehouse, seed=args.seed)
    except SampleDataError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(summary.format())
    return 0


if __name__ == "__main__":
    sys.exit(main())
