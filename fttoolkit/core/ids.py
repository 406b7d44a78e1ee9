"""Node identifiers and their deterministic ordering.

Node ids are short strings such as ``"n1"``.  They are always ordered with
:func:`id_key`, a natural order in which ``"n2"`` comes before ``"n10"``, so
that every loop over nodes runs in the same order on every machine.
"""

import re

__all__ = ["node_ids", "id_key", "sorted_ids"]

_SPLIT = re.compile(r"(\d+)")


def node_ids(count, prefix="n"):
    """Return the ids ``n1 .. n<count>``.

    Examples
    --------
    >>> node_ids(3)
    ['n1', 'n2', 'n3']
    """
    return [f"{prefix}{i}" for i in range(1, count + 1)]


def id_key(node_id):
    """Sort key that orders ids naturally (``n2`` before ``n10``).

    Examples
    --------
    >>> sorted(["n10", "n2", "n1"], key=id_key)
    ['n1', 'n2', 'n10']
    """
    return tuple((0, int(part)) if part.isdigit() else (1, part)
                 for part in _SPLIT.split(str(node_id)) if part != "")


def sorted_ids(ids):
    """Return ``ids`` as a list in natural order."""
    return sorted(ids, key=id_key)
