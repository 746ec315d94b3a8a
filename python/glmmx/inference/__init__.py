"""Inference after a fit: Satterthwaite degrees of freedom for lmer's t tests and its type III
ANOVA (lmerTest's numbers); exact (Clopper–Pearson) intervals for a binomial proportion such as a
simulated power (``binomial``).

May import: ``glmmx.design`` (to code contrasts as the fit coded its terms),
``glmmx.exceptions``, numpy and scipy. Not the results or models that call it.
"""
