"""Private to this collection (no stable API): the filters' error wrapping.

The logic lives in the other plugin_utils modules as plain Python that raises its own errors (so it is
testable without Ansible); a filter must raise AnsibleFilterError for Ansible to report the
message as a task failure instead of a traceback.
"""

import functools

from ansible.errors import AnsibleFilterError


def as_filter_errors(*error_types):
    """Decorate a filter so that `error_types` reach Ansible as AnsibleFilterError, message unchanged."""

    def decorate(function):
        @functools.wraps(function)
        def filter_function(*args, **kwargs):
            try:
                return function(*args, **kwargs)
            except error_types as error:
                raise AnsibleFilterError(str(error)) from error

        return filter_function

    return decorate
