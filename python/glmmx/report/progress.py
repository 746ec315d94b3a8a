"""Progress bars for long batches: tqdm when installed, else rich, else a line on stderr.

The batch itself runs in Rust without the GIL; a Python thread polls its counter a few times
a second, so the bar costs the fits nothing. Ctrl-C while the bar runs cancels the batch
(it stops before its next replicate) and raises KeyboardInterrupt.
"""

from __future__ import annotations

import sys
import threading
import time


class _TextBar:
    def __init__(self, total: int, desc: str):
        self.total, self.desc, self.start, self.n = total, desc, time.perf_counter(), 0

    def update_to(self, n: int) -> None:
        self.n = n
        elapsed = time.perf_counter() - self.start
        rate = n / elapsed if elapsed > 0 else 0.0
        eta = (self.total - n) / rate if rate > 0 else float("nan")
        sys.stderr.write(f"\r{self.desc}: {n}/{self.total} fits, {rate:.0f}/s, ETA {eta:.0f}s   ")
        sys.stderr.flush()

    def close(self) -> None:
        sys.stderr.write("\n")


class _TqdmBar:
    def __init__(self, total: int, desc: str):
        from tqdm.auto import tqdm

        self.bar = tqdm(total=total, desc=desc, unit="fit")

    def update_to(self, n: int) -> None:
        self.bar.update(n - self.bar.n)

    def close(self) -> None:
        self.bar.close()


class _RichBar:
    def __init__(self, total: int, desc: str):
        from rich.progress import Progress

        self.progress = Progress(*Progress.get_default_columns())
        self.progress.start()
        self.task = self.progress.add_task(desc, total=total)

    def update_to(self, n: int) -> None:
        self.progress.update(self.task, completed=n)

    def close(self) -> None:
        self.progress.stop()


def progress_bar(total: int, desc: str = "refits"):
    """The best progress bar available."""
    for bar in (_TqdmBar, _RichBar):
        try:
            return bar(total, desc)
        except ImportError:
            continue
    return _TextBar(total, desc)


def run_with_progress(work, counter, total: int, enabled: bool, desc: str = "refits"):
    """Run ``work()`` (which releases the GIL) while a bar follows ``counter.done``."""
    if not enabled:
        return work()
    result, error, done = [], [], threading.Event()

    def target():
        try:
            result.append(work())
        except BaseException as exc:  # re-raised in the caller's thread
            error.append(exc)
        finally:
            done.set()

    bar = progress_bar(total, desc)
    threading.Thread(target=target, daemon=True).start()
    # the main thread sleeps and polls: Thread.join interrupted by Ctrl-C may mark a running
    # thread as stopped (CPython 3.11), so the end of the work is an Event set by the worker
    try:
        while not done.is_set():
            time.sleep(0.1)
            bar.update_to(counter.done)
    except KeyboardInterrupt:
        # Ctrl-C reaches this (the main) thread: stop the batch at its next replicate, and
        # wait for it (through further Ctrl-C too) so that its model is free again
        counter.cancel()
        _wait_through_interrupts(done)
        raise
    finally:
        bar.update_to(counter.done)
        bar.close()
    if error:
        raise error[0]
    return result[0]


def _wait_through_interrupts(done: threading.Event) -> None:
    while True:
        try:
            if done.wait(0.05):
                return
        except KeyboardInterrupt:
            continue
