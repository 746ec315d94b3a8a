"""`import glmmx` stays light: polars, numpy, scipy, the formula machinery and the compiled
core load on first use (the import time itself is measured in benches/bench_import.py)."""

import subprocess
import sys


def test_import_loads_no_heavy_modules():
    code = (
        "import sys, glmmx; "
        "heavy = [m for m in ('polars', 'numpy', 'scipy', 'pandas', 'glmmx._core', 'glmmx.formula', 'glmmx.design', 'glmmx.formula.algebra', 'glmmx.design.build') if m in sys.modules]; "
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"imported at `import glmmx`: {out.stdout.strip()}"


def test_public_names_resolve_lazily():
    import glmmx

    for name in glmmx.__all__:
        assert getattr(glmmx, name) is not None
