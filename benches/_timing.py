"""Shared helpers for the benchmark scripts: repeat timing, and runners for glmmx, lme4 (R) and glmm.

Every runner returns a dict with ``median`` and ``min`` (seconds, warm-up excluded), ``times``,
``n`` (timed repeats), ``loglik``, ``converged`` and ``note``; ``None`` when the engine is absent.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import time
import warnings


def time_repeats(fit, data, repeat: int, budget: float | None = None, warmup_data=None) -> dict:
    """Call ``fit(warmup_data)`` once untimed (default: ``data``), then ``fit(data)`` up to
    ``repeat`` times timed.

    With ``budget`` (seconds) the timed repeats stop once they have used it, but never before 3
    (or ``repeat`` if smaller). Returns median, min, all times and the last result."""
    fit(data if warmup_data is None else warmup_data)
    times: list[float] = []
    while len(times) < repeat:
        t0 = time.perf_counter()
        result = fit(data)
        times.append(time.perf_counter() - t0)
        if budget is not None and len(times) >= min(3, repeat) and sum(times) > budget:
            break
    return {"median": statistics.median(times), "min": min(times), "times": times, "n": len(times), "result": result}


def fmt_time(seconds: float | None) -> str:
    """Seconds in a readable unit: 0.41 ms, 37.2 ms, 1.84 s."""
    if seconds is None:
        return "—"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.0f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.3g} ms"
    return f"{seconds:.3g} s"


def ratio(other: dict | None, ours: dict | None) -> str:
    """How many times slower ``other`` is than ``ours`` (medians), e.g. '23×'."""
    if not other or not ours or other.get("median") is None or ours.get("median") is None:
        return "—"
    return f"{other['median'] / ours['median']:.3g}×"


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MB (Linux reports ru_maxrss in kB)."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ---------------------------------------------------------------------------------------------
# glmmx
# ---------------------------------------------------------------------------------------------


def run_glmmx(df, formula: str, nagq: int, *, family: str = "binomial", repeat: int = 10,
              budget: float | None = None, warmup_data=None, **kwargs) -> dict:
    """Time ``gx.glmer(formula, data=df, family=family, nagq=nagq, **kwargs)`` (the whole public call)."""
    import glmmx as gx

    def fit(d):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return gx.glmer(formula, data=d, family=family, nagq=nagq, **kwargs)

    t = time_repeats(fit, df, repeat, budget, warmup_data)
    f = t.pop("result")
    return {**t, "loglik": f.loglik, "converged": bool(f.converged), "nagq": nagq,
            "note": f"glmmx {gx.__version__}"}


# ---------------------------------------------------------------------------------------------
# glmm (PyPI, Rust core): odd nagq 1..25 only, no nagq = 0
# ---------------------------------------------------------------------------------------------


def glmm_nagq(nagq: int) -> int | None:
    """The quadrature order glmm is timed at: nagq itself when odd (1..25), else the next odd
    order up (10 → 11: at least the accuracy asked for); None for nagq = 0, which glmm lacks."""
    if nagq < 1:
        return None
    q = nagq if nagq % 2 == 1 else nagq + 1
    return min(q, 25)


def run_glmm(df, formula: str, nagq: int, *, family: str = "binomial", repeat: int = 10,
             budget: float | None = None, warmup_data=None) -> dict | None:
    """Time ``glmm.fit(df, formula, family, nagq=q)`` at the nearest order glmm accepts."""
    try:
        from importlib.metadata import version

        import glmm
    except ImportError:
        return None
    q = glmm_nagq(nagq)
    if q is None:
        return {"median": None, "min": None, "loglik": None, "converged": None, "nagq": None,
                "note": "glmm has no nagq = 0"}

    def fit(d):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return glmm.fit(d, formula, family, nagq=q)

    t = time_repeats(fit, df, repeat, budget, warmup_data)
    f = t.pop("result")
    note = f"glmm {version('glmm')}" + (f", nagq={q} (glmm takes odd nagq <= 25)" if q != nagq else "")
    return {**t, "loglik": float(f.loglik), "converged": bool(f.converged), "nagq": q, "note": note}


# ---------------------------------------------------------------------------------------------
# lme4 (R): the data go through a CSV; the fits are timed inside one R process
# ---------------------------------------------------------------------------------------------

_R_SCRIPT = r"""
suppressMessages(library(lme4))
spec <- jsonlite::fromJSON(commandArgs(trailingOnly = TRUE)[1])
read <- function(path) {
  d <- if (requireNamespace("data.table", quietly = TRUE)) {
    as.data.frame(data.table::fread(path, na.strings = c("", "NA")))
  } else read.csv(path)
  for (col in names(spec$factors)) d[[col]] <- factor(d[[col]], levels = spec$factors[[col]])
  d
}
call <- sprintf("glmer(%s, data = d, family = %s, nAGQ = %d)", spec$formula, spec$family, spec$nagq)
fit <- function(d) suppressWarnings(suppressMessages(eval(parse(text = call))))
m <- fit(read(if (is.null(spec$warmup_csv)) spec$csv else spec$warmup_csv))  # warm-up, not timed
d <- read(spec$csv)
times <- c()
repeat {
  t0 <- as.numeric(Sys.time()); m <- fit(d); times <- c(times, as.numeric(Sys.time()) - t0)
  if (length(times) >= spec$n_repeat) break
  if (length(times) >= min(3, spec$n_repeat) && sum(times) > spec$budget) break
}
hwm <- grep("^VmHWM", readLines("/proc/self/status"), value = TRUE)
cat(jsonlite::toJSON(list(
  times = times, loglik = as.numeric(logLik(m)),
  converged = is.null(m@optinfo$conv$lme4$messages),
  message = paste(m@optinfo$conv$lme4$messages, collapse = "; "),
  call = call, peak_rss_mb = if (length(hwm)) as.numeric(gsub("[^0-9]", "", hwm)) / 1024 else NA,
  versions = sprintf("R %s.%s, lme4 %s", R.version$major, R.version$minor, packageVersion("lme4"))
), auto_unbox = TRUE, digits = NA))
"""

_R_OK: bool | None = None


def r_available() -> bool:
    """True when ``Rscript`` is on PATH and can load lme4 and jsonlite."""
    global _R_OK
    if _R_OK is None:
        _R_OK = shutil.which("Rscript") is not None and subprocess.run(
            ["Rscript", "-e", "suppressMessages({library(lme4); library(jsonlite)})"],
            capture_output=True, check=False).returncode == 0
    return _R_OK


def r_factors(df) -> dict[str, list[str]]:
    """Levels of the Enum/Categorical columns of a polars DataFrame, so R builds the same factors."""
    import polars as pl

    out = {}
    for name, dtype in df.schema.items():
        if isinstance(dtype, pl.Enum):
            out[name] = [str(v) for v in dtype.categories]
        elif isinstance(dtype, pl.Categorical):
            out[name] = sorted(str(v) for v in df[name].drop_nulls().unique())
    return out


def run_lme4(df, formula: str, nagq: int, *, family: str = "binomial", repeat: int = 10,
             budget: float = 60.0, warmup_data=None, timeout: float = 3600) -> dict | None:
    """Time lme4's ``glmer(formula, data, family, nAGQ = nagq)`` on the same data, inside one R
    process (R start-up, reading the CSV and the warm-up fit, on ``warmup_data`` if given, are not
    timed). None when R or lme4 is absent."""
    if not r_available():
        return None
    with tempfile.TemporaryDirectory() as tmp:
        csv = os.path.join(tmp, "data.csv")
        df.write_csv(csv)
        warm = None
        if warmup_data is not None:
            warm = os.path.join(tmp, "warmup.csv")
            warmup_data.write_csv(warm)
        spec = {"csv": csv, "formula": formula, "family": family, "nagq": int(nagq), "n_repeat": int(repeat),
                "budget": float(budget), "warmup_csv": warm, "factors": r_factors(df) or {}}
        script = os.path.join(tmp, "time_glmer.R")
        with open(script, "w") as fh:
            fh.write(_R_SCRIPT)
        try:
            proc = subprocess.run(["Rscript", script, json.dumps(spec)], capture_output=True, text=True,
                                  timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            return {"median": None, "min": None, "loglik": None, "converged": None, "nagq": nagq,
                    "note": f"lme4 timed out after {timeout:.0f} s"}
    if proc.returncode != 0:
        return {"median": None, "min": None, "loglik": None, "converged": None, "nagq": nagq,
                "note": "lme4 failed: " + (proc.stderr.strip().splitlines() or ["?"])[-1]}
    r = json.loads(proc.stdout.strip().splitlines()[-1])
    times = r["times"] if isinstance(r["times"], list) else [r["times"]]
    return {"median": statistics.median(times), "min": min(times), "times": times, "n": len(times),
            "loglik": float(r["loglik"]), "converged": r["converged"], "message": r["message"], "nagq": nagq,
            "peak_rss_mb": r["peak_rss_mb"], "call": r["call"], "note": r["versions"]}


# ---------------------------------------------------------------------------------------------
# output
# ---------------------------------------------------------------------------------------------


def table(rows: list[list], header: list[str]) -> str:
    """A plain left-aligned text table."""
    cells = [[str(c) for c in header]] + [["—" if c is None else str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def machine() -> str:
    """Date, cores and load average, for the head of every report."""
    import datetime
    import platform

    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (f"{datetime.datetime.now():%Y-%m-%d %H:%M}, {platform.machine()} {os.cpu_count()} cores, "
            f"load average {load}, Python {platform.python_version()}")


def report(args, run, text) -> None:
    """Run the benchmark (or load a saved JSON run with ``--show``) and print it as text or JSON."""
    if getattr(args, "show", None):
        with open(args.show) as fh:
            res = json.load(fh)
    else:
        res = run(args)
    print(json.dumps(res, indent=1) if args.format == "json" else text(res))


def public(res: dict | None) -> dict | None:
    """A runner result without the bulky raw fit object, ready for JSON."""
    return None if res is None else {k: v for k, v in res.items() if k != "result"}


def engine_table(results: dict[str, dict | None], base: str = "glmmx") -> str:
    """One row per engine: nagq used, median, min, repeats, ratio to ``base``, loglik, converged."""
    rows = []
    for name, r in results.items():
        if r is None:
            continue
        ll = None if r.get("loglik") is None else f"{r['loglik']:.6f}"
        conv = None if r.get("converged") is None else ("yes" if r["converged"] else "NO")
        rows.append([name, r.get("nagq"), fmt_time(r.get("median")), fmt_time(r.get("min")), r.get("n"),
                     ratio(r, results.get(base)), ll, conv])
    return table(rows, ["engine", "nagq", "median", "min", "repeats", f"÷ {base}", "loglik", "converged"])


def arguments(doc: str, *, engines: bool = True) -> argparse.ArgumentParser:
    """The command line every timing script shares: ``--format``, ``--show`` and, where lme4 and
    glmm run side by side (``engines``), ``--no-r`` and ``--no-glmm``; scripts add their own."""
    p = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    if engines:
        p.add_argument("--no-r", action="store_true", help="do not time lme4")
        p.add_argument("--no-glmm", action="store_true", help="do not time glmm")
    p.add_argument("--format", choices=["text", "json"], default="text")
    p.add_argument("--show", metavar="JSON", help="print a saved --format json run instead of running")
    return p
