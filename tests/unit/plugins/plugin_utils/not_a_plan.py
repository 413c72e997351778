"""Inputs that are not a memory plan at all, and the start of the refusal each must get.

Every public filter that takes a plan checks it with plugin_utils/plan_input.plan_entries first;
their tests share these cases and add their own (a missing summary, a bad entry).
"""

WITHOUT_SERVICES = [
    (None, "input: NoneType without a 'services' mapping"),
    ([], "input: list without a 'services' mapping"),
    ({}, "input: dict without a 'services' mapping"),
    ({"services": []}, "input: dict without a 'services' mapping"),
]
