"""Errors that fttoolkit raises for a user's mistake.

Every mistake a student or instructor can make through the public API (an
unknown node id, a negative delay, restarting a node that is running...)
raises a subclass of :class:`FtError` whose message says what was wrong and
what is allowed.  The command line prints that message without a traceback.
"""

__all__ = ["FtError", "UnknownNode", "BadParameter", "InvalidAction", "NoHandler", "HandlerError"]


class FtError(ValueError):
    """A user's mistake, explained in the message.

    Examples
    --------
    >>> raise FtError("speed must be positive; got 0")
    Traceback (most recent call last):
    ...
    fttoolkit.core.errors.FtError: speed must be positive; got 0

    Notes
    -----
    In IPython and Jupyter the error shows as one line (its class and message)
    instead of a traceback through fttoolkit's internals, through IPython's
    ``_render_traceback_`` hook.
    """

    def _render_traceback_(self):
        return [f"\x1b[31m{type(self).__name__}\x1b[0m: {self}"]


class UnknownNode(FtError):
    """A node id that is not part of the cluster."""


class BadParameter(FtError):
    """A parameter outside its allowed range or of the wrong kind."""


class InvalidAction(FtError):
    """An action that is not possible in the current state (restart a running node...)."""


class NoHandler(FtError):
    """A node received a message or timer for which its class defines no handler."""


class HandlerError(RuntimeError):
    """A node's handler raised an exception; the message says where and when.

    This is a bug in protocol code (perhaps a student's), not a user mistake,
    so the original exception is kept as ``__cause__``.
    """
