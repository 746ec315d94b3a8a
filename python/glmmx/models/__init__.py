"""The fitting functions a user calls: ``glmer``, ``lmer`` (and ``anova`` of lmer fits),
``npmlt`` (and ``select_k``), ``fit_many``. Each reads as validate → design → Rust core → result.

May import everything below it: ``glmmx.formula``, ``glmmx.design``, ``glmmx.results``,
``glmmx.batch``, ``glmmx.checks``, ``glmmx.exceptions`` and the compiled core.
"""
