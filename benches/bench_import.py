"""Wall time of `python -c "import glmmx"` in a fresh interpreter: median and min of --repeat
subprocess runs (after one untimed warm-up run of each), next to a bare `python -c pass` (runs
alternate), the difference of the medians, and glmmx's own cumulative time from
`python -X importtime`. Target (issue #4): under 30 ms.

    python benches/bench_import.py [--repeat 30] [--python PATH] [--format text|json]
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time

import _timing as T

TARGET = 0.030


def run(args) -> dict:
    """Alternate bare and import runs, so that a change of load hits both alike."""
    py = args.python
    version = subprocess.run([py, "-c", "import glmmx; print(glmmx.__version__, glmmx.__file__)"],
                             check=True, capture_output=True, text=True).stdout.strip()
    cmds = {"bare": [py, "-c", "pass"], "import": [py, "-c", "import glmmx"],
            "importtime": [py, "-X", "importtime", "-c", "import glmmx"]}
    times = {k: [] for k in cmds}
    for i in range(args.repeat + 1):  # run 0 is the warm-up
        for k, cmd in cmds.items():
            t0 = time.perf_counter()
            proc = subprocess.run(cmd, check=True, capture_output=True, text=True)
            if i and k == "importtime":  # glmmx's own cumulative import time, as Python reports it
                line = [x for x in proc.stderr.splitlines() if x.rstrip().endswith("| glmmx")][-1]
                times[k].append(int(line.split("|")[1]) * 1e-6)
            elif i:
                times[k].append(time.perf_counter() - t0)
    out = {k: {"median": statistics.median(v), "min": min(v), "n": len(v), "times": v} for k, v in times.items()}
    return {"machine": T.machine(), "python": py, "glmmx": version, **out,
            "import_cost": out["import"]["median"] - out["bare"]["median"]}


def text(res: dict) -> str:
    rows = [[f"{res['python']} -c pass", T.fmt_time(res["bare"]["median"]), T.fmt_time(res["bare"]["min"]), ""],
            [f"{res['python']} -c \"import glmmx\"", T.fmt_time(res["import"]["median"]),
             T.fmt_time(res["import"]["min"]),
             f"< {T.fmt_time(TARGET)}: {'met' if res['import']['median'] < TARGET else 'MISSED'}"]]
    return "\n".join([f"Import time, median and min of {res['import']['n']} runs; glmmx {res['glmmx']}",
                      f"  {res['machine']}", "", T.table(rows, ["command", "median", "min", "target"]), "",
                      (f"difference of the medians: {res['import_cost'] * 1e3:+.1f} ms; glmmx's own cumulative import "
                       f"time (-X importtime): median {T.fmt_time(res['importtime']['median'])}, "
                       f"min {T.fmt_time(res['importtime']['min'])}")])


def main(argv=None):
    p = T.arguments(__doc__, engines=False)
    p.add_argument("--repeat", type=int, default=30)
    p.add_argument("--python", default=sys.executable, help="interpreter to time (default: this one)")
    args = p.parse_args(argv)
    T.report(args, run, text)


if __name__ == "__main__":
    main()
