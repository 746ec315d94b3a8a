"""From a parsed formula and a data frame to float64 model matrices with R's column names.

- ``frame``: the model frame (every variable the model uses, evaluated with polars; rows with a
  missing value dropped as ``na.omit`` does).
- ``levels``: R's factor levels and their order.
- ``coding``: contrasts, interactions and the aliased columns lme4 drops.
- ``build``: ``build_design`` (lme4's ``lFormula``) and ``model_matrix`` (new data coded as the
  training data were).
- ``response``: the GLMM response (0/1, two-level factor, ``cbind``, counts) as y and trials.
- ``aggregate``: ``uncount``, a table of counts of identical rows expanded.

May import: ``glmmx.formula``, ``glmmx.exceptions``, polars and numpy. The public names below
are those of ``build``.
"""

from glmmx.design.build import (
    Design,
    DesignSpec,
    ModelMatrix,
    NewDesign,
    RandomBlock,
    build_design,
    factor_levels,
    model_matrix,
    r_sort_key,
)

__all__ = ["Design", "DesignSpec", "ModelMatrix", "NewDesign", "RandomBlock", "build_design", "factor_levels", "model_matrix", "r_sort_key"]
