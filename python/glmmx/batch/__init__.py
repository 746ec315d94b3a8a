"""Many fits of one model: simulation studies and the parametric bootstrap.

A fitted model's design is prepared once; the Rust core refits it to each new response on
every core with the GIL released, each fit started from the original estimates, replicate k's
simulated response drawn from its own random stream. Results therefore do not depend on the
number of threads or on how replicates are split. With ``executor=`` (any
``concurrent.futures.Executor``, or a Dask ``distributed.Client``) the replicates are cut into
chunks, each chunk runs the same Rust batch on a worker, and the results come back in order:
the table equals the local one.

- ``cores``: a batch's Rust cores rebuilt from a payload (what an executor ships), and one run.
- ``adapters``: per kind of fit (glmer, crossed glmer, lmer, npmlt), its payload, simulation and
  the names of what the refits estimate.
- ``engine``: ``simulate``, ``refit_many`` and ``bootstrap``, locally or over an executor.
- ``bootstrap``: ``BootstrapResult`` and its intervals.

May import: the compiled core, ``glmmx.report.progress``, ``glmmx.checks``, ``glmmx.exceptions``.
It reads a fit through its adapter and imports no result class, so the results can call it.
"""
