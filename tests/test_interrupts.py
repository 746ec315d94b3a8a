"""Long work stops on Ctrl-C and leaves its model usable; pools survive fork; thread counts
are bounded.

Each interrupt test runs a child Python process that starts a long call, sends it SIGINT
after a second and reports how long the call took to give up, then uses the same model
again."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

import glmmx as gx

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

SETUP = """
import sys, time
import numpy as np, polars as pl
import glmmx as gx

def clustered(n, size, seed=1):
    rng = np.random.default_rng(seed)
    g = np.arange(n) // size
    x = rng.normal(size=n)
    eta = -0.3 + 0.7 * x + rng.normal(0, 1.0, g.max() + 1)[g]
    return pl.DataFrame({"y": (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(int), "x": x, "g": g})

def crossed(n, seed=1):
    rng = np.random.default_rng(seed)
    s, i = rng.integers(0, 3000, n), rng.integers(0, 2000, n)
    x = rng.normal(size=n)
    return pl.DataFrame({"s": s, "i": i, "x": x, "y": x + 0.1 * (s % 7) + rng.normal(size=n)})

def ordinal(n_clusters, size, seed=1):
    rng = np.random.default_rng(seed)
    g = np.arange(n_clusters * size) // size
    x = rng.normal(size=g.size)
    eta = 0.8 * x + rng.choice([-1.0, 1.0], n_clusters)[g] + rng.logistic(size=g.size)
    return pl.DataFrame({"y": np.digitize(eta, [-1.0, 0.0, 1.0]) + 1, "x": x, "g": g})
"""

CASES = {
    # name: (what to set up, the long call, a short call on the same model afterwards)
    "glmer_fit": ("df = clustered(600_000, 10)", "gx.glmer('y ~ x + (1 | g)', data=df, family='binomial', nagq=10)", "gx.glmer('y ~ x + (1 | g)', data=df.head(2000), family='binomial')"),
    "glmer_bootstrap": (
        "fit = gx.glmer('y ~ x + (1 | g)', data=clustered(400, 8), family='binomial', nagq=10)",
        "fit.bootstrap(nsim=10**6, seed=1, progress=False)",
        "fit.bootstrap(nsim=4, seed=2, progress=False)",
    ),
    "glmer_bootstrap_one_thread": (
        "fit = gx.glmer('y ~ x + (1 | g)', data=clustered(400, 8), family='binomial', nagq=10)",
        "fit.bootstrap(nsim=10**6, seed=1, progress=False, threads=1)",
        "fit.bootstrap(nsim=4, seed=2, progress=False, threads=1)",
    ),
    "glmer_bootstrap_progress": (
        "fit = gx.glmer('y ~ x + (1 | g)', data=clustered(400, 8), family='binomial', nagq=10)",
        "fit.bootstrap(nsim=10**6, seed=1, progress=True)",
        "fit.bootstrap(nsim=4, seed=2, progress=True)",
    ),
    "lmer_crossed_fit": ("df = crossed(600_000)", "gx.lmer('y ~ x + (1 | s) + (1 | i)', data=df)", "gx.lmer('y ~ x + (1 | s)', data=df.head(3000))"),
    "lmer_bootstrap": (
        "fit = gx.lmer('y ~ x + (1 | s)', data=crossed(3000))",
        "fit.bootstrap(nsim=10**6, seed=1, progress=False)",
        "fit.bootstrap(nsim=4, seed=2, progress=False)",
    ),
    "npmlt_bootstrap": (
        "fit = gx.npmlt('y ~ x', data=ordinal(300, 6), id='g', k=3)",
        "fit.bootstrap(nsim=10**6, seed=1, progress=False)",
        "fit.bootstrap(nsim=2, seed=2, progress=False)",
    ),
}

CHILD = """
{setup}
print("ready", flush=True)
try:
    {call}
    print("finished", flush=True)
except KeyboardInterrupt:
    print("interrupted", time.perf_counter(), flush=True)
{after}
print("usable", flush=True)
"""


def run_interrupted(setup: str, call: str, after: str, wait: float = 1.0):
    """Start the child, interrupt it `wait` seconds after it is ready; (first line after the
    signal, seconds from the signal to that line, the rest of its output)."""
    code = SETUP + CHILD.format(setup=setup, call=call, after=after)
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "ready", child.stderr.read()
        time.sleep(wait)
        sent = time.perf_counter()
        child.send_signal(signal.SIGINT)
        line = child.stdout.readline().split()
        returned = float(line[1]) - sent if line and line[0] == "interrupted" else float("nan")
        rest, err = child.communicate(timeout=120)
    finally:
        child.kill()
    return line, returned, rest, err


# Known gap (issue #14): the 2,000-column crossed lmer is factored in panels now, but in a clean
# CI clone it once came back 0.386 s after SIGINT (5 of 5 runs under 0.2 s on the work machine):
# some step of that fit is still not interruptible. Not strict until that step is found.
SLOW_TO_STOP = {"lmer_crossed_fit": "one step of the 2,000-column crossed lmer is not interruptible yet (seen 0.39 s once)"}


@pytest.mark.parametrize(
    "name", [pytest.param(n, marks=pytest.mark.xfail(reason=SLOW_TO_STOP[n], strict=False)) if n in SLOW_TO_STOP else n for n in CASES]
)
def test_ctrl_c_stops_long_work_within_a_fifth_of_a_second(name):
    line, returned, rest, err = run_interrupted(*CASES[name])
    assert line and line[0] == "interrupted", f"the call was not interrupted: {line} {err}"
    assert returned < 0.2, f"{name}: back {returned:.3f} s after SIGINT"
    assert rest.strip() == "usable", f"the model is not usable after the interrupt: {rest!r} {err}"


def test_a_call_that_is_not_interrupted_is_unaffected():
    code = SETUP + textwrap.dedent("""
        fit = gx.glmer('y ~ x + (1 | g)', data=clustered(400, 8), family='binomial')
        print(fit.bootstrap(nsim=6, seed=1, progress=False).table["sim"].n_unique())
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "6"


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork")
def test_the_core_works_in_forked_children_after_the_parent_used_every_pool():
    # the children use only the core (the parent's fitted model): polars itself does not
    # survive fork (its thread pool hangs in the child; polars asks for "spawn"), so a child
    # that builds a DataFrame would hang whatever glmmx does
    code = SETUP + textwrap.dedent("""
        import multiprocessing as mp
        fit = gx.glmer('y ~ x + (1 | g)', data=clustered(60_000, 10), family='binomial', nagq=5)
        fit.bootstrap(nsim=4, seed=1, progress=False)
        fit.bootstrap(nsim=4, seed=1, progress=False, threads=2)
        theta, beta = list(fit.theta), list(fit.beta)

        def child(seed):
            default = fit._core.fit(n_agq=5, max_iter=1000, theta0=None, beta0=None, threads=None)
            two = fit._core.fit(n_agq=5, max_iter=1000, theta0=None, beta0=None, threads=2)
            y = fit.simulate(nsim=2, seed=seed)
            return default.deviance == two.deviance, y.shape

        with mp.get_context("fork").Pool(2) as pool:
            print(pool.map(child, [1, 2, 3]))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[(True, (60000, 2)), (True, (60000, 2)), (True, (60000, 2))]"


@pytest.mark.parametrize("threads", [10**6, 257, 2**64])
def test_thread_counts_are_bounded(threads):
    import numpy as np
    import polars as pl

    rng = np.random.default_rng(1)
    df = pl.DataFrame({"y": rng.integers(0, 2, 200), "x": rng.normal(size=200), "g": np.arange(200) // 5})
    with pytest.raises(gx.ModelSpecError, match="threads must be at most 256"):
        gx.glmer("y ~ x + (1 | g)", data=df, family="binomial", threads=threads)
    fit = gx.glmer("y ~ x + (1 | g)", data=df, family="binomial")
    with pytest.raises(gx.ModelSpecError, match="threads must be at most 256"):
        fit.bootstrap(nsim=2, threads=threads, progress=False)
