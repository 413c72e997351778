"""Inputs that are not a memory plan at all, and the start of the refusal each must get.

Every public filter that takes a plan checks it with plugin_utils/plan_input.plan_entries first;
their tests share these cases and add their own (a missing summary, a bad entry).
"""

WITHOUT_SERVICES = [
    (None, "input is empty (null), with no 'services' mapping"),
    ([], "input is a list, with no 'services' mapping"),
    ({}, "input is a mapping, with no 'services' mapping"),
    ({"services": []}, "input is a mapping, with no 'services' mapping"),
]
