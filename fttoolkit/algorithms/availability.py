"""Availability mathematics: MTTF and MTTR, nines, series, parallel and quorum systems.

Every function here assumes that components fail and are repaired
**independently** of each other, and that each one's availability is its
long-run fraction of time up (a steady state).  Real failures are often
correlated (a shared power supply, a rack, a software bug, an operator): then
these numbers are upper bounds for redundant systems, sometimes far too
optimistic.  The course checks them against a simulated cluster with random,
independent crashes and repairs.

Examples
--------
>>> a = availability(mttf=999, mttr=1)
>>> a, nines(a), round(downtime_minutes_per_year(a))
(0.999, 3.0, 526)
>>> round(series(a, a), 6), round(parallel(a, a), 6)
(0.998001, 0.999999)
>>> round(majority(3, 0.99), 6)
0.999702

Notes
-----
The formulas are those of Gray & Siewiorek, "High-Availability Computer
Systems" (IEEE Computer 24(9), 1991): availability MTTF / (MTTF + MTTR), the
classes of "nines", and the series / parallel combination of modules.  The
k-out-of-n formula is the binomial one of reliability theory (Trivedi,
"Probability and Statistics with Reliability, Queuing, and Computer Science
Applications", 2nd ed. 2002, on k-out-of-n systems); a majority quorum is Gifford's weighted
voting ("Weighted Voting for Replicated Data", 1979) with equal votes.
"""

import math

from ..core.errors import BadParameter

__all__ = ["MINUTES_PER_YEAR", "availability", "unavailability", "nines", "from_nines",
           "downtime_minutes_per_year", "series", "parallel", "k_of_n", "majority", "mttr_for"]

#: Minutes in an average (Julian) year of 365.25 days.
MINUTES_PER_YEAR = 365.25 * 24 * 60


def _number(value, name):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise BadParameter(f"{name} must be a number; got {value!r}")
    if math.isnan(value):
        raise BadParameter(f"{name} must be a number; got NaN")
    return value


def _probability(value, name="an availability"):
    _number(value, name)
    if not 0.0 <= value <= 1.0:
        raise BadParameter(f"{name} is a probability, between 0 and 1; got {value!r}")
    return float(value)


def _duration(value, name):
    _number(value, name)
    if value < 0 or math.isinf(value):
        raise BadParameter(f"{name} must be a finite time >= 0; got {value!r}")
    return float(value)


def _count(value, name, low):
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadParameter(f"{name} must be a whole number; got {value!r}")
    if value < low:
        raise BadParameter(f"{name} must be at least {low}; got {value}")
    return value


def _availabilities(values, what):
    if len(values) == 1 and not isinstance(values[0], (int, float)):
        try:
            values = tuple(values[0])      # series([a, b]) as well as series(a, b)
        except TypeError:
            pass
    if not values:
        raise BadParameter(f"{what} needs at least one availability, e.g. {what}(0.99, 0.999)")
    return [_probability(a, f"{what}: each availability") for a in values]


def availability(mttf, mttr):
    """Steady-state availability of a component that fails and is repaired: MTTF / (MTTF + MTTR).

    Parameters
    ----------
    mttf : float
        Mean time to failure (any unit, the same as ``mttr``), >= 0.
    mttr : float
        Mean time to repair, >= 0.

    Returns
    -------
    float
        The long-run fraction of time the component is up, in [0, 1].

    Raises
    ------
    BadParameter
        For a negative, infinite or non-numeric time, or both times 0.

    Examples
    --------
    >>> availability(mttf=1000, mttr=1) > 0.999
    True
    >>> availability(99, 1)
    0.99

    Notes
    -----
    An alternating up/down process (a renewal process): each cycle lasts
    MTTF + MTTR on average, of which MTTF up.  Gray & Siewiorek,
    "High-Availability Computer Systems" (1991).  Combining components with
    :func:`series` or :func:`parallel` assumes they fail independently.
    """
    mttf = _duration(mttf, "mttf")
    mttr = _duration(mttr, "mttr")
    if mttf + mttr == 0:
        raise BadParameter("mttf and mttr cannot both be 0")
    return mttf / (mttf + mttr)


def unavailability(a):
    """The fraction of time down, 1 - a.

    >>> round(unavailability(0.999), 6)
    0.001
    """
    return 1.0 - _probability(a)


def nines(a):
    """The number of nines of an availability: -log10(1 - a) (0.999 -> 3.0, 0.9995 -> 3.3).

    Parameters
    ----------
    a : float
        An availability in [0, 1].

    Returns
    -------
    float
        Rounded to 9 decimals so that 0.999 gives exactly 3.0 (floating point
        alone gives 2.9999999999999996); ``math.inf`` for a = 1.

    Examples
    --------
    >>> nines(0.999), nines(0.99999), round(nines(0.9995), 2), nines(0.0)
    (3.0, 5.0, 3.3, 0.0)

    Notes
    -----
    "Availability classes" after Gray & Siewiorek (1991): class k means
    about k nines, i.e. unavailability 10**-k.
    """
    a = _probability(a)
    if a == 1.0:
        return math.inf
    return round(-math.log10(1.0 - a), 9) + 0.0


def from_nines(k):
    """The availability with ``k`` nines, 1 - 10**-k.

    >>> from_nines(3), from_nines(0)
    (0.999, 0.0)
    """
    _number(k, "the number of nines")
    if k < 0:
        raise BadParameter(f"the number of nines must be >= 0; got {k!r}")
    return 1.0 - 10.0 ** -k


def downtime_minutes_per_year(a):
    """Expected minutes down per year at availability ``a``: (1 - a) x 525,960 minutes.

    Examples
    --------
    >>> round(downtime_minutes_per_year(0.99999), 2)
    5.26
    >>> round(downtime_minutes_per_year(0.999) / 60, 2)
    8.77

    Notes
    -----
    A year of 365.25 days (:data:`MINUTES_PER_YEAR`).  This is an expectation
    under the steady-state assumption: a single year may see much more (one
    long outage) or none.
    """
    return (1.0 - _probability(a)) * MINUTES_PER_YEAR


def series(*availabilities):
    """Availability of components in series (all must be up): the product of theirs.

    Parameters
    ----------
    *availabilities : float
        One availability per component (a single list also works).

    Examples
    --------
    >>> round(series(0.99, 0.99, 0.99), 6)
    0.970299
    >>> series([0.5, 0.5])
    0.25

    Notes
    -----
    Assumes independent failures.  A chain is weaker than its weakest link:
    the result is at most the smallest availability.  Gray & Siewiorek,
    "High-Availability Computer Systems" (1991).
    """
    result = 1.0
    for a in _availabilities(availabilities, "series"):
        result *= a
    return result


def parallel(*availabilities):
    """Availability of redundant components in parallel (one up suffices): 1 - prod(1 - a_i).

    Parameters
    ----------
    *availabilities : float
        One availability per component (a single list also works).

    Examples
    --------
    >>> round(parallel(0.99, 0.99), 6)
    0.9999
    >>> parallel(0.9, 0.0)
    0.9

    Notes
    -----
    Assumes independent failures and a perfect, instant failover to a
    surviving component (see Chapter 3 for what failover really takes).
    Gray & Siewiorek, "High-Availability Computer Systems" (1991).
    """
    down = 1.0
    for a in _availabilities(availabilities, "parallel"):
        down *= 1.0 - a
    return 1.0 - down


def k_of_n(k, n, a):
    """Probability that at least ``k`` of ``n`` independent components are up, each with availability ``a``.

    Parameters
    ----------
    k : int
        Components needed, 0 <= k <= n.
    n : int
        Components in all, >= 1.
    a : float
        Availability of each component.

    Returns
    -------
    float
        sum over i = k..n of C(n, i) a**i (1 - a)**(n - i).

    Raises
    ------
    BadParameter
        For k > n, k < 0, n < 1, or ``a`` outside [0, 1].

    Examples
    --------
    >>> k_of_n(1, 2, 0.9) == parallel(0.9, 0.9), k_of_n(2, 2, 0.9) == series(0.9, 0.9)
    (True, True)
    >>> round(k_of_n(2, 3, 0.9), 3)
    0.972

    Notes
    -----
    The binomial distribution of the number of independent components up
    (Trivedi 2002).  :func:`series` is k = n and :func:`parallel` is k = 1.
    """
    n = _count(n, "n", 1)
    k = _count(k, "k", 0)
    if k > n:
        raise BadParameter(f"k (components needed) cannot exceed n (components in all); got k={k}, n={n}")
    a = _probability(a)
    return math.fsum(math.comb(n, i) * a ** i * (1.0 - a) ** (n - i) for i in range(k, n + 1))


def majority(n, a):
    """Probability that a strict majority of ``n`` independent replicas is up (a majority quorum is available).

    Parameters
    ----------
    n : int
        Replicas, >= 1.
    a : float
        Availability of each replica.

    Examples
    --------
    >>> round(majority(3, 0.9), 3), round(majority(5, 0.9), 4)
    (0.972, 0.9914)
    >>> majority(4, 0.9) == k_of_n(3, 4, 0.9)
    True

    Notes
    -----
    :func:`k_of_n` with k = floor(n/2) + 1: a majority of 2f + 1 replicas
    survives f crashes.  An even n buys nothing over n - 1 (4 replicas
    need 3, like 5 do; and tolerate one crash, like 3 do).  Independent
    failures assumed.  Gifford, "Weighted Voting for Replicated Data" (1979).
    """
    n = _count(n, "n", 1)
    return k_of_n(n // 2 + 1, n, a)


def mttr_for(target, mttf):
    """The longest mean time to repair that still reaches availability ``target``: MTTF (1 - A) / A.

    Examples
    --------
    >>> round(mttr_for(0.999, mttf=1000), 3)
    1.001
    >>> round(availability(1000, mttr_for(0.999, 1000)), 9)
    0.999

    Notes
    -----
    Solves A = MTTF / (MTTF + MTTR) for MTTR (Gray & Siewiorek 1991):
    halving the repair time buys as much availability as doubling the time
    between failures.
    """
    target = _probability(target, "target")
    if target == 0:
        raise BadParameter("target must be > 0: any repair time gives availability 0 only if mttf is 0")
    mttf = _duration(mttf, "mttf")
    return mttf * (1.0 - target) / target
