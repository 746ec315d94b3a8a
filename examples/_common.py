"""What every example script shares: its command line (``--quick`` for a small run, ``--out``
for where figures go), section headings, and matplotlib when it is installed."""

from __future__ import annotations

import argparse
from pathlib import Path

OUTPUT = Path(__file__).resolve().parent / "output"


def options(description: str, argv=None) -> argparse.Namespace:
    """The example's options: ``--quick`` (fewer sizes, repeats and candidates: the run the
    tests make) and ``--out DIR`` (default examples/output)."""
    parser = argparse.ArgumentParser(description=description.strip().splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small, fast run (what the tests execute)")
    parser.add_argument("--out", type=Path, default=OUTPUT, help="folder for the figures (default examples/output)")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    import polars as pl

    pl.Config.set_tbl_cols(-1)  # tables print whole, as R prints them
    pl.Config.set_tbl_rows(60)
    pl.Config.set_tbl_width_chars(160)
    return args


def section(title: str) -> None:
    print("\n" + "=" * 78 + f"\n{title}\n" + "=" * 78)


def pyplot():
    """matplotlib.pyplot on the file-only Agg backend, or None (with a note) when matplotlib is
    not installed."""
    try:
        import matplotlib
    except ImportError:
        print("matplotlib is not installed: no figures (pip install 'glmmx[plot]')")
        return None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def r_anova(table) -> str:
    """An ANOVA table (a polars DataFrame: term, npar, sum_sq, mean_sq, f_value) as lme4's
    ``anova(fit)`` prints it."""
    from glmmx.report.format import format_num
    from glmmx.report.format import table as r_table

    columns = [("npar", [str(v) for v in table["npar"]])]
    columns += [(label, format_num(table[col].to_list(), 4)) for label, col in
                [("Sum Sq", "sum_sq"), ("Mean Sq", "mean_sq"), ("F value", "f_value")]]
    return "Analysis of Variance Table\n" + r_table(table["term"].to_list(), columns)
