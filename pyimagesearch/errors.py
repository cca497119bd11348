"""The one exception every module raises for a mistake in the user's input.

It lives apart from ``cli`` (which reports it) so that the modules ``cli``
itself uses, such as ``storage``, can raise it without importing ``cli``.
"""


class UserError(Exception):
    """A problem with the user's input, reported as one line, exit code 2."""


class SettingError(UserError, ValueError):
    """A setting too small for the data, found by the Python API (a
    ``ValueError`` to its caller) that the scripts report as ``UserError``."""
