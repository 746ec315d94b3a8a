"""Command line: ``python -m glmmx demo``."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["demo"]:
        from glmmx.demo import main as demo

        demo()
        return 0
    print("usage: python -m glmmx demo    (a simulated longitudinal study fitted by Laplace and nAGQ = 10)")
    return 0 if args[:1] in (["-h"], ["--help"]) else 2


if __name__ == "__main__":
    raise SystemExit(main())
