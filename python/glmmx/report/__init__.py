"""What a fit shows: R-style printing (``format``), the summaries of glmer, lmer and npmlt
(``glmer_summary``, ``lmer_summary``, ``npmlt_summary``), plots (matplotlib, optional: ``plot``
for caterpillar plots of conditional modes, ``mass_plot`` for mass points) and progress bars of
long work (``progress``).

May import: ``glmmx.exceptions`` and the standard library (numpy, polars, matplotlib, tqdm/rich
where a function needs them). The summaries read a fit's attributes; they import no result class.
"""
