"""Lamport's ``Paxos`` (single-decree, without leaders or learners), ported for the explorer.

State, as in the TLA+ module: for each acceptor ``a``, ``maxBal[a]`` (the
highest ballot it has promised or voted in, or -1), ``maxVBal[a]`` and
``maxVal[a]`` (its latest vote, or ``-1`` and ``None``); and ``msgs``, the set
of every message ever sent (it never shrinks):

* ``1a(bal)``: a leader begins ballot ``bal``;
* ``1b(acc, bal, mbal, mval)``: ``acc`` promises ``bal`` and reports its latest vote;
* ``2a(bal, val)``: the ballot-``bal`` leader asks acceptors to vote ``val``;
* ``2b(acc, bal, val)``: ``acc`` votes ``val`` in ballot ``bal``.

Actions: ``Phase1a(b)``, ``Phase2a(b, v)``, ``Phase1b(a)``, ``Phase2b(a)``.
The invariants are those of TLC's ``MCPaxos3_inv.cfg``: ``Inv1`` (``TypeOK``),
``Inv2`` (each acceptor's latest vote is one of its 2b messages), ``Inv3``
(what every 1b and 2a message asserts is true: a 2a value was shown safe,
one value per ballot), ``Inv4`` (``V!Inv``, the invariant of the ``Voting``
specification this one refines: votes are safe, one value per ballot) and
``Agreement`` (at most one value chosen: ``Cardinality(V!chosen) <= 1``).

Encoding (for speed; see :class:`PaxosSpec`): a state is one integer.  The
low bits hold one small code per acceptor for ``(maxBal, maxVBal, maxVal)``;
above them, ``msgs`` is a bit set over the finite universe of messages,
enumerated once for the constants.  Successors and invariants are computed
from slices of these bits and remembered per slice (they are pure functions
of the slice), so most states cost a few dictionary lookups.

Bugs (to show that the explorer catches them)
---------------------------------------------
``vote-ignoring-promise``
    ``Phase2b`` without its guard ``m.bal >= maxBal[a]``: an acceptor votes
    in a ballot lower than one it promised;
``ignore-promised-values``
    ``Phase2a`` without the condition on the 1b messages' votes: a leader
    proposes any value, ignoring the votes its quorum reported.

Examples
--------
>>> from fttoolkit.check.explore import explore
>>> result = explore(PaxosSpec(acceptors=3, values=2, max_ballot=1))
>>> result.distinct, result.generated, result.depth
(3921, 23563, 17)

Notes
-----
A faithful port of ``Paxos.tla`` (tlaplus/Examples, by Leslie Lamport), the
algorithm of Lamport, "The Part-Time Parliament" (ACM TOCS, 1998) and "Paxos
Made Simple" (2001); its refinement of ``Voting.tla`` and ``Consensus.tla`` is
that of Lamport, Merz and Doligez's TLAPS proof.  With 3 acceptors, 2 values
and ballots 0..1, TLC finds 3,921 distinct states (23,563 generated, depth 17).
"""

from itertools import combinations

from ...core.errors import BadParameter
from ..explore import Spec
from .tcommit import check_bugs, check_count

__all__ = ["PaxosSpec", "BUGS", "majorities"]

BUGS = {
    "vote-ignoring-promise": "an acceptor votes (Phase2b) in a ballot lower than one it promised",
    "ignore-promised-values": "a leader (Phase2a) proposes any value, ignoring the votes its quorum reported",
}


def majorities(n):
    """All sets of ``n // 2 + 1`` of the acceptors ``0 .. n-1``, as sorted tuples.

    >>> majorities(3)
    [(0, 1), (0, 2), (1, 2)]
    """
    return [q for q in combinations(range(n), n // 2 + 1)]


def _bits(mask):
    """The indices of the set bits of ``mask``, lowest first."""
    out = []
    while mask:
        low = mask & -mask
        out.append(low.bit_length() - 1)
        mask ^= low
    return out


class PaxosSpec(Spec):
    """Single-decree Paxos as specified in ``Paxos.tla``, for given constants.

    Parameters
    ----------
    acceptors : int
        The number of acceptors ``a1 ... aN`` (1 to 5).
    values : int
        The number of values ``v1 ... vK`` (1 to 4).
    max_ballot : int
        Ballots are ``0 .. max_ballot`` (0 to 5).
    quorums : iterable of iterables of int, optional
        The quorums, as sets of acceptor indices (0-based); default: every
        majority.  They must be non-empty and pairwise intersect (Paxos.tla's
        ``QuorumAssumption``).
    bugs : iterable of str
        Named bugs to switch on (see the module documentation).

    Examples
    --------
    >>> spec = PaxosSpec(acceptors=3, values=2, max_ballot=1)
    >>> init = spec.initial_states()[0]
    >>> [label for label, _ in spec.next_states(init)]
    ['Phase1a(0)', 'Phase1a(1)']
    >>> print(spec.describe(spec.next_states(init)[1][1]))
    maxBal: a1=-1 a2=-1 a3=-1   votes (maxVBal, maxVal): a1=(-1, None) a2=(-1, None) a3=(-1, None)
    msgs: 1a(1)

    Notes
    -----
    Lamport, "Paxos Made Simple" (2001) and the TLA+ module ``Paxos.tla``.
    Each existential witness of an action is one successor computed, as TLC
    computes them (TLC enumerates every ``\\E`` it meets while computing
    successors, and turns ``\\A x \\in S : P`` into a conjunction of the
    ``P`` instances): ``Phase2a(b, v)`` yields, for each quorum ``Q``, one
    successor per choice of a ballot-``b`` 1b message from each member of
    ``Q`` (one choice unless a bug lets an acceptor promise ``b`` twice),
    times, when some reported a vote, the number of 1b messages ``m``
    carrying the highest vote with value ``v``; ``Phase1b(a)`` one per
    enabling 1a message, ``Phase2b(a)`` one per enabling 2a message.
    """

    name = "paxos-spec"

    def __init__(self, acceptors=3, values=2, max_ballot=1, quorums=None, bugs=()):
        self.n = check_count("acceptors", acceptors, 1, 5)
        self.k = check_count("values", values, 1, 4)
        self.max_ballot = check_count("max_ballot", max_ballot, 0, 5)
        self.bugs = check_bugs(bugs, BUGS)
        self.acceptor_names = tuple(f"a{i}" for i in range(1, self.n + 1))
        self.value_names = tuple(f"v{i}" for i in range(1, self.k + 1))
        self.quorums = self._check_quorums(majorities(self.n) if quorums is None else quorums)
        self._layout()
        self._successor_memo = [{} for _ in range(self.n)]
        self._inv2_needs = tuple((shift, self._inv2_table(a)) for a, shift in enumerate(self.shifts))
        self._phase2a_memo = {}
        self._memo = {"Inv3": [{} for _ in range(self.n + 1)], "Inv4": {}, "Agreement": {}}
        self.invariants = {"Inv1": self.inv1, "Inv2": self.inv2, "Inv3": self.inv3, "Inv4": self.inv4,
                           "Agreement": self.agreement}

    def _check_quorums(self, quorums):
        out = []
        for q in quorums:
            members = tuple(sorted(set(q)))
            if not members or any(not isinstance(a, int) or not 0 <= a < self.n for a in members):
                raise BadParameter(f"a quorum must be a non-empty set of acceptor indices 0..{self.n - 1}; "
                                   f"got {tuple(q)!r}")
            out.append(members)
        if not out:
            raise BadParameter("there must be at least one quorum")
        for q1, q2 in combinations(out, 2):
            if not set(q1) & set(q2):
                raise BadParameter(f"quorums must intersect (QuorumAssumption); {q1} and {q2} do not")
        return out

    # ------------------------------------------------------------------ encoding
    def _layout(self):
        n, k, nb = self.n, self.k, self.max_ballot + 1
        self.nb = nb
        self.nb1 = nb1 = nb + 1                      # ballots plus -1
        self.pairs = pairs = nb1 * (k + 1)           # (mbal, mval) pairs, -1/None included
        self.ncodes = ncodes = nb1 * pairs           # (maxBal, maxVBal, maxVal) per acceptor
        self.width = width = max(1, (ncodes - 1).bit_length())
        self.acc_bits = acc_bits = width * n
        self.field_mask = (1 << width) - 1
        # msgs bit positions: 1a, then 2a, then 2b, then 1b.
        self.o2a = nb
        self.o2b = self.o2a + nb * k
        self.o1b = self.o2b + n * nb * k
        self.nbits = self.o1b + n * nb * pairs
        self.low_mask = (1 << self.o2b) - 1                                 # 1a and 2a bits
        m2a = ((1 << (nb * k)) - 1) << self.o2a
        m2b = ((1 << (n * nb * k)) - 1) << self.o2b
        m1b = ((1 << (n * nb * pairs)) - 1) << self.o1b
        acc_mask = (1 << acc_bits) - 1
        self.key_phase2a = m2a | m1b                                        # over msgs
        self.key_inv3 = acc_mask | ((m2a | m2b) << acc_bits)                # over the state
        self.key_inv4 = acc_mask | (m2b << acc_bits)
        self.key_agreement = m2b << acc_bits
        self.shifts = tuple(width * a for a in range(n))
        self._row_1b, self._row_2b = (1 << (nb * pairs)) - 1, (1 << (nb * k)) - 1
        self._row_2b_bits = nb * k
        self._inv3_slices = tuple((width * a, self.o1b + a * nb * pairs, self.o2b + a * nb * k) for a in range(n))
        self.phase1a = tuple((f"Phase1a({b})", 1 << (acc_bits + b)) for b in range(nb))

    def code(self, max_bal, max_vbal, max_val):
        """The code of one acceptor's ``(maxBal, maxVBal, maxVal)``; ``max_val`` 0 = None, else 1..K."""
        return (max_bal + 1) + self.nb1 * ((max_vbal + 1) + self.nb1 * max_val)

    def decode_code(self, code):
        """``(maxBal, maxVBal, maxVal)`` of an acceptor's code (``maxVal`` 0 = None, else 1..K)."""
        return code % self.nb1 - 1, (code // self.nb1) % self.nb1 - 1, code // (self.nb1 * self.nb1)

    def bit_2a(self, b, v):
        return self.o2a + b * self.k + v

    def bit_2b(self, a, b, v):
        return self.o2b + (a * self.nb + b) * self.k + v

    def bit_1b(self, a, b, mbal, mval):
        """``mval``: 0 = None, else 1..K."""
        return self.o1b + (a * self.nb + b) * self.pairs + (mbal + 1) + self.nb1 * mval

    def messages(self, state):
        """The messages of ``state`` as tuples, in bit order.

        ``("1a", bal)``, ``("2a", bal, val)``, ``("2b", acc, bal, val)``,
        ``("1b", acc, bal, mbal, mval)``, with names (``"a1"``, ``"v2"``,
        ``None``) and ballots as integers.
        """
        out = []
        for i in _bits(state >> self.acc_bits):
            if i < self.o2a:
                out.append(("1a", i))
            elif i < self.o2b:
                b, v = divmod(i - self.o2a, self.k)
                out.append(("2a", b, self.value_names[v]))
            elif i < self.o1b:
                ab, v = divmod(i - self.o2b, self.k)
                a, b = divmod(ab, self.nb)
                out.append(("2b", self.acceptor_names[a], b, self.value_names[v]))
            else:
                ab, pair = divmod(i - self.o1b, self.pairs)
                a, b = divmod(ab, self.nb)
                mval, mbal = divmod(pair, self.nb1)
                out.append(("1b", self.acceptor_names[a], b, mbal - 1,
                            self.value_names[mval - 1] if mval else None))
        return out

    def variables(self, state):
        """The TLA+ variables of ``state``: ``maxBal``, ``maxVBal``, ``maxVal`` (dicts by acceptor) and ``msgs``.

        >>> spec = PaxosSpec(acceptors=1, values=1, max_ballot=0)
        >>> spec.variables(spec.initial_states()[0])
        {'maxBal': {'a1': -1}, 'maxVBal': {'a1': -1}, 'maxVal': {'a1': None}, 'msgs': []}
        """
        out = {"maxBal": {}, "maxVBal": {}, "maxVal": {}}
        for a, name in enumerate(self.acceptor_names):
            mb, vb, vv = self.decode_code((state >> self.shifts[a]) & self.field_mask)
            out["maxBal"][name], out["maxVBal"][name] = mb, vb
            out["maxVal"][name] = self.value_names[vv - 1] if vv else None
        out["msgs"] = self.messages(state)
        return out

    # ------------------------------------------------------------------ Init and Next
    def initial_states(self):
        """``Init``: every acceptor at ``(-1, -1, None)``, no message sent."""
        code = self.code(-1, -1, 0)
        return [sum(code << shift for shift in self.shifts)]

    def next_states(self, state):
        """``Next``: one ``(label, state)`` per successor computed (see the class Notes)."""
        out = [(label, state | bit) for label, bit in self.phase1a]
        msgs = state >> self.acc_bits
        key = msgs & self.key_phase2a
        entries = self._phase2a_memo.get(key)
        if entries is None:
            entries = self._phase2a_memo[key] = self._phase2a(key)
        for label, bit in entries:
            out.append((label, state | bit))
        low = (msgs & self.low_mask) * self.ncodes
        field_mask = self.field_mask
        for a, shift in enumerate(self.shifts):
            code = (state >> shift) & field_mask
            memo = self._successor_memo[a]
            entries = memo.get(low + code)
            if entries is None:
                entries = memo[low + code] = self._acceptor_steps(a, code, low // self.ncodes)
            for label, delta, bit in entries:
                out.append((label, (state + delta) | bit))
        return out

    def _phase2a(self, msgs):
        """``\\E b, v : Phase2a(b, v)`` for the 1b and 2a messages in ``msgs``: ``[(label, bit)]``."""
        out = []
        index = {name: a for a, name in enumerate(self.acceptor_names)}
        ones = [(index[m[1]], m[2], m[3], m[4])                  # (acceptor index, bal, mbal, mval name)
                for m in self.messages(msgs << self.acc_bits) if m[0] == "1b"]
        for b in range(self.nb):
            if any((msgs >> self.bit_2a(b, v)) & 1 for v in range(self.k)):
                continue                                   # ~ \E m \in msgs : m.type = "2a" /\ m.bal = b
            for v in range(self.k):
                value = self.value_names[v]
                witnesses = 0
                for q in self.quorums:                     # \E Q \in Quorum
                    q1b = [m for m in ones if m[0] in q and m[1] == b]
                    each = 1                               # \A a \in Q : \E m \in Q1b : m.acc = a
                    for a in q:
                        each *= sum(1 for m in q1b if m[0] == a)
                    if not each:
                        continue
                    q1bv = [m for m in q1b if m[2] >= 0]
                    if "ignore-promised-values" in self.bugs or not q1bv:
                        witnesses += each
                        continue
                    witnesses += each * sum(1 for m in q1bv   # \E m \in Q1bv : m.mval = v /\ ...
                                            if m[3] == value and all(m[2] >= mm[2] for mm in q1bv))
                label, bit = f"Phase2a({b}, {value})", 1 << (self.acc_bits + self.bit_2a(b, v))
                out.extend([(label, bit)] * witnesses)
        return tuple(out)

    def _acceptor_steps(self, a, code, low):
        """``Phase1b(a)`` and ``Phase2b(a)`` from acceptor code ``code`` and the 1a/2a bits ``low``.

        Returns ``[(label, delta, bit)]``: the successor is ``(state + delta) | bit``.
        """
        out = []
        name, shift, top = self.acceptor_names[a], self.shifts[a], self.acc_bits
        mb, vb, vv = self.decode_code(code)
        for b in range(self.nb):                           # Phase1b(a): \E m \in msgs : m.type = "1a"
            if (low >> b) & 1 and b > mb:
                new = self.code(b, vb, vv)
                out.append((f"Phase1b({name}) receives 1a({b})", (new - code) << shift,
                            1 << (top + self.bit_1b(a, b, vb, vv))))
        for b in range(self.nb):                           # Phase2b(a): \E m \in msgs : m.type = "2a"
            for v in range(self.k):
                if (low >> self.bit_2a(b, v)) & 1 and (b >= mb or "vote-ignoring-promise" in self.bugs):
                    new = self.code(b, b, v + 1)
                    out.append((f"Phase2b({name}) receives 2a({b}, {self.value_names[v]})",
                                (new - code) << shift, 1 << (top + self.bit_2b(a, b, v))))
        return tuple(out)

    # ------------------------------------------------------------------ the invariants
    def _fields(self, state):
        return [self.decode_code((state >> shift) & self.field_mask) for shift in self.shifts]

    def _votes(self, state):
        """``votes[a]`` as a bit set over ``b * K + v`` for each acceptor (from its 2b messages)."""
        row = self.nb * self.k
        twob = (state >> (self.acc_bits + self.o2b)) & ((1 << (self.n * row)) - 1)
        return [(twob >> (a * row)) & ((1 << row) - 1) for a in range(self.n)]

    def inv1(self, state):
        """``Inv1`` = ``TypeOK``: every variable within its type (``msgs \\subseteq Message``)."""
        if state < 0 or state >> (self.acc_bits + self.nbits):
            return False
        return all((state >> shift) & self.field_mask < self.ncodes for shift in self.shifts)

    def inv2(self, state):
        """``Inv2``: ``maxVBal[a] = -1`` implies ``maxVal[a] = None``, else ``<<maxVBal[a], maxVal[a]>> \\in votes[a]``."""
        msgs = state >> self.acc_bits
        field_mask = self.field_mask
        for shift, needs in self._inv2_needs:
            need = needs[(state >> shift) & field_mask]     # the 2b message the latest vote needs
            if need and (need < 0 or not msgs & need):
                return False
        return True

    def _inv2_table(self, a):
        """Per code of acceptor ``a``: 0 (no vote, fine), -1 (never holds) or the bit of the 2b message needed."""
        table = []
        for code in range(1 << self.width):
            _, vb, vv = self.decode_code(code)
            if code >= self.ncodes:
                table.append(-1)
            elif vb == -1:
                table.append(0 if vv == 0 else -1)
            else:
                table.append(-1 if vv == 0 else 1 << self.bit_2b(a, vb, vv - 1))
        return tuple(table)

    def inv3(self, state):
        """``Inv3``: every 1b message's promise and vote hold; every 2a value was shown safe, one per ballot."""
        msgs = state >> self.acc_bits
        field_mask, width, memos = self.field_mask, self.width, self._memo["Inv3"]
        for a, (shift, o1b, o2b) in enumerate(self._inv3_slices):
            key = (((((msgs >> o1b) & self._row_1b) << self._row_2b_bits) | ((msgs >> o2b) & self._row_2b)) << width
                   | (state >> shift) & field_mask)
            ok = memos[a].get(key)
            if ok is None:
                ok = memos[a][key] = self._inv3_1b(a, key)
            if not ok:
                return False
        key = state & self.key_inv3
        ok = memos[-1].get(key)
        if ok is None:
            ok = memos[-1][key] = self._inv3_2a(key)
        return ok

    def _inv3_1b(self, a, key):
        """``\\A m \\in msgs : m.type = "1b" /\\ m.acc = a => ...`` from ``a``'s code, 2b and 1b bits."""
        mb = self.decode_code(key & self.field_mask)[0]
        key >>= self.width
        votes = [0] * a + [key & self._row_2b]
        for i in _bits(key >> self._row_2b_bits):
            b, pair = divmod(i, self.pairs)
            mval, mbal = divmod(pair, self.nb1)
            if mb < b:                                       # maxBal[m.acc] >= m.bal
                return False
            if mbal - 1 >= 0 and (mval == 0 or not self._voted(votes, a, mbal - 1, mval - 1)):
                return False                                 # m.mbal >= 0 => <<m.mbal, m.mval>> \in votes[m.acc]
        return True

    def _inv3_2a(self, state):
        """``\\A m \\in msgs : m.type = "2a" => ...`` from the acceptor codes, 2a and 2b bits."""
        mb = [f[0] for f in self._fields(state)]
        votes = self._votes(state)
        twoa = [divmod(i - self.o2a, self.k) for i in _bits((state >> self.acc_bits) & self.low_mask)
                if i >= self.o2a]
        for bal, v in twoa:
            if not any(self._shows_safe_at(mb, votes, q, bal, v) for q in self.quorums):
                return False
            if any(b2 == bal and v2 != v for b2, v2 in twoa):
                return False
        return True

    def inv4(self, state):
        """``Inv4`` = ``V!Inv``: Voting's ``TypeOK /\\ VotesSafe /\\ OneValuePerBallot`` under the refinement mapping."""
        key = state & self.key_inv4
        memo = self._memo["Inv4"]
        ok = memo.get(key)
        if ok is None:
            ok = memo[key] = self._inv4(key)
        return ok

    def _inv4(self, state):
        mb = [f[0] for f in self._fields(state)]
        votes = self._votes(state)
        if not all(-1 <= b <= self.max_ballot for b in mb):          # V!TypeOK (votes: by construction)
            return False
        for a in range(self.n):                                       # VotesSafe
            for i in _bits(votes[a]):
                b, v = divmod(i, self.k)
                if not self._safe_at(mb, votes, b, v):
                    return False
        for b in range(self.nb):                                      # OneValuePerBallot
            voted = {v for a in range(self.n) for v in range(self.k) if self._voted(votes, a, b, v)}
            if len(voted) > 1:
                return False
        return True

    def agreement(self, state):
        """``Agreement``: ``Cardinality(V!chosen) <= 1``."""
        key = state & self.key_agreement
        memo = self._memo["Agreement"]
        ok = memo.get(key)
        if ok is None:
            ok = memo[key] = len(self.chosen(key)) <= 1
        return ok

    def chosen(self, state):
        """``V!chosen``: the values chosen by a quorum in some ballot (names)."""
        votes = self._votes(state)
        return [self.value_names[v] for v in range(self.k)
                if any(all(self._voted(votes, a, b, v) for a in q) for b in range(self.nb) for q in self.quorums)]

    # Voting's operators over (maxBal list, votes bit sets).
    def _voted(self, votes, a, b, v):
        return (votes[a] >> (b * self.k + v)) & 1

    def _did_not_vote_at(self, votes, a, b):
        return not (votes[a] >> (b * self.k)) & ((1 << self.k) - 1)

    def _none_other_choosable_at(self, mb, votes, b, v):
        return any(all(self._voted(votes, a, b, v) or (mb[a] > b and self._did_not_vote_at(votes, a, b))
                       for a in q) for q in self.quorums)

    def _safe_at(self, mb, votes, b, v):
        return all(self._none_other_choosable_at(mb, votes, c, v) for c in range(b))

    def _shows_safe_at(self, mb, votes, q, b, v):
        if not all(mb[a] >= b for a in q):
            return False
        return any((c == -1 or any(self._voted(votes, a, c, v) for a in q))
                   and all(self._did_not_vote_at(votes, a, d) for d in range(c + 1, b) for a in q)
                   for c in range(-1, b))

    # ------------------------------------------------------------------ text
    def describe(self, state):
        names = self.acceptor_names
        fields = self._fields(state)
        bals = " ".join(f"{n}={mb}" for n, (mb, _, _) in zip(names, fields))
        voted = " ".join(f"{n}=({vb}, {self.value_names[vv - 1] if vv else None})"
                         for n, (_, vb, vv) in zip(names, fields))
        text = []
        for m in sorted(self.messages(state), key=lambda m: m[0]):     # 1a, 1b, 2a, 2b (stable within a type)
            if m[0] == "1b":
                text.append(f"1b({m[1]}, {m[2]}, {m[3]}, {m[4]})")
            else:
                text.append(f"{m[0]}({', '.join(map(str, m[1:]))})")
        return f"maxBal: {bals}   votes (maxVBal, maxVal): {voted}\nmsgs: {' '.join(text) or '{}'}"
