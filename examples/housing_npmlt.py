"""The seed lecture's homeless-housing analysis with glmmx.npmlt.

R multgee's ``housing`` data (the package's copy: ``gx.datasets.load("housing")``): 362 homeless people, housing status (0 street, 1 community, 2 independent) at months 0, 6,
12, 24, by section 8 certificate (sec). 159 of the 1448 rows have a missing status.

The lecture fitted ``npmlt(y ~ factor(sec)*factor(time), random = ~1, id = id, k = 3)`` with
the NA rows kept: mixcat then reads the design misaligned and past its end (spec §7.5),
printing -2 log L 2598.265 and a coefficient with SE 2e-15. glmmx drops the NA rows (counted
in ``n_dropped``) and fits the real data. The mass-point plot goes to
<out>/housing_mass_points.png (needs matplotlib).

    python examples/housing_npmlt.py [--quick] [--out DIR]
"""

from __future__ import annotations

import sys
import warnings

import glmmx as gx
from _common import options, pyplot


def main(argv=None) -> int:
    args = options(__doc__, argv)
    housing = gx.datasets.load("housing")
    print(f"housing: {housing.height} rows, {housing['id'].n_unique()} people, "
          f"{housing['y'].null_count()} missing responses\n")
    formula = "y ~ factor(sec)*factor(time)"
    print(gx.select_k(formula, housing, id="id", k=range(1, 4) if args.quick else range(1, 6)), "\n")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit = gx.npmlt(formula, housing, random="~1", id="id", k=3)
    print(fit.summary())
    for w in caught:
        print("warning:", w.message)
    print(f"\nrows dropped for missing values: {fit.n_dropped} (mixcat kept them and printed -2 log L 2598.265)")
    print("\nmarginal probabilities of the first person's four visits:")
    print(fit.predict(housing.drop_nulls().head(4)))

    if pyplot() is None:
        return 0
    path = args.out / "housing_mass_points.png"
    fit.plot_mass_points(path)
    print(f"mass-point plot written to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
