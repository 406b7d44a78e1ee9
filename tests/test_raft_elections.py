"""Chapter 6's election formulas against the simulator: the contested-round probability and the
expected time of the first leader."""

import math
import statistics

import pytest

from fttoolkit.core.errors import BadParameter
from fttoolkit.doors.raft import contested_probability, expected_first_leader_ticks, first_election


@pytest.mark.parametrize("delay", [5, 20, 40])
def test_contested_first_rounds_happen_as_often_as_the_formula_says(delay):
    runs = [first_election(seed, nodes=5, election_ticks=150, delay=delay) for seed in range(200)]
    measured = sum(r["candidates"] >= 2 for r in runs) / len(runs)
    p = contested_probability(5, 150, delay)
    sigma = math.sqrt(p * (1 - p) / len(runs))
    # timers are whole ticks, so a tie at exactly d counts too: the simulation sits a little above
    assert p - 3 * sigma <= measured <= p + 3 * sigma + 0.03, (measured, p)
    # a contested round is not a lost one: with 5 nodes most contested rounds still elect
    assert sum(r["lost_rounds"] > 0 for r in runs) <= sum(r["candidates"] >= 2 for r in runs)


def test_the_first_leader_comes_when_the_formula_says_when_delays_are_short():
    runs = [first_election(seed, nodes=5, election_ticks=150, delay=10) for seed in range(200)]
    ticks = [r["leader_tick"] for r in runs]
    assert abs(statistics.median(ticks) - expected_first_leader_ticks(5, 150, 10)) <= 12
    assert min(ticks) >= 150 + 2 * 10              # the earliest timeout, then a request and a reply


def test_the_formulas_limits_and_bad_arguments():
    assert contested_probability(5, 150, 0) == 0.0
    assert contested_probability(5, 150, 300) == 1.0
    assert contested_probability(3, 150, 10) < contested_probability(9, 150, 10)    # more nodes, more clashes
    with pytest.raises(BadParameter, match="window_ticks > 0"):
        contested_probability(5, 0, 10)
