"""Which random-effects terms a prediction adds, as lme4's ``predict(re.form =, allow.new.levels =)``.

``re_form`` names the terms: a one-sided formula of random-effects terms of the model
(``"~(1 | Subject)"``), or ``None``, ``"NA"`` or ``"~0"`` for none (the population
prediction); left out, every term is added (``re=False`` for none). A grouping level of new
data that the fit has not seen is an error naming it, unless ``allow_new_levels=True``: then
its random effect is 0, the population value, as lme4.
"""

from __future__ import annotations

from glmmx.exceptions import ModelSpecError

ALL = object()  # re_form not given: follow re=
_NONE = ("NA", "~0", "~ 0", "~-1", "0")


def _term_key(term) -> tuple:
    return term.group_label, term.lhs.intercept, tuple(term.lhs.term_labels)


def _label(term) -> str:
    lhs = " + ".join((["1"] if term.lhs.intercept else ["0"]) + list(term.lhs.term_labels))
    return f"({lhs} | {term.group_label})"


def included(spec, re, re_form) -> tuple[bool, ...]:
    """For each random-effects term of the fit (``spec.random``), whether it is added."""
    n = len(spec.random)
    if re_form is ALL:
        if not isinstance(re, bool):
            raise ModelSpecError(
                f"re must be True or False, not {re!r}; to add some random-effects terms only, "
                "name them with re_form='~(1 | group)'")
        return (re,) * n
    if re is not True:
        raise ModelSpecError("give re_form or re=False, not both")
    if re_form is None or (isinstance(re_form, str) and re_form.strip() in _NONE):
        return (False,) * n
    if not isinstance(re_form, str):
        raise ModelSpecError(f"re_form must be a formula such as '~(1 | group)', None or 'NA', not {type(re_form).__name__}")
    from glmmx.formula.algebra import parse_formula

    text = re_form if "~" in re_form else "~" + re_form
    asked = parse_formula(text)
    if asked.fixed.term_labels:
        raise ModelSpecError(f"re_form {re_form!r} names fixed effects ({', '.join(asked.fixed.term_labels)}); "
                             "it names random-effects terms only, e.g. '~(1 | group)'")
    have = [_term_key(r.term) for r in spec.random]
    for t in asked.random:
        if _term_key(t) not in have:
            raise ModelSpecError(f"re_form names {_label(t)}, which is not a random-effects term of the model; "
                                 f"its terms are {', '.join(_label(r.term) for r in spec.random)}")
    keys = {_term_key(t) for t in asked.random}
    return tuple(k in keys for k in have)


def check_new_levels(spec, new_levels, include, allow_new_levels: bool) -> None:
    """Refuse grouping levels the fit has not seen in an added term, naming them."""
    if not isinstance(allow_new_levels, bool):
        raise ModelSpecError(f"allow_new_levels must be True or False, not {allow_new_levels!r}")
    if allow_new_levels or new_levels is None:
        return
    for r, new, used in zip(spec.random, new_levels, include):
        if used and new:
            shown = ", ".join(map(repr, new[:5])) + (f" and {len(new) - 5} more" if len(new) > 5 else "")
            raise ModelSpecError(
                f"new data have level(s) {shown} of {r.term.group_label} not in the fit; pass "
                "allow_new_levels=True to predict them at the population value (random effect 0), "
                "or leave the term out with re_form")
