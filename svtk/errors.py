"""Errors that the CLI reports as a message (no traceback) with exit code 2.

Raise :class:`UserError` (or a subclass) for anything the user can fix: a bad config value, a
missing file, a stage that was finished with other settings, a missing Debian package. Bugs stay
ordinary exceptions and keep their traceback.
"""


class UserError(Exception):
    """Something the user can fix; the message says what and where."""
