"""Fitted models: ``glmer`` (one grouping factor), ``glmer_crossed`` (several; extends it),
``lmer`` and ``npmlt`` result classes, and ``predict`` (η, μ and the random part for new data).

A result holds the estimates, the design it came from and its Rust core, and computes tables,
summaries, predictions, simulations and refits from them.

May import: ``glmmx.formula``, ``glmmx.design``, ``glmmx.inference``, ``glmmx.report``,
``glmmx.batch`` (simulate, refit_many, bootstrap: a result names its batch adapter by
``_batch_kind``), ``glmmx.exceptions``. Not ``glmmx.models``: the fitting functions build results,
never the other way round.
"""
