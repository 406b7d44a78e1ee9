---- MODULE MCPaxos3a1v2b ----
\* Paxos with 3 acceptors, 1 value(s), ballots 0..2, majority quorums (fttoolkit's explorer tests)
EXTENDS Paxos, TLC, FiniteSets
CONSTANTS a1, a2, a3, v1
MCAcceptor == {a1, a2, a3}
MCValue    == {v1}
MCQuorum   == {{a1, a2}, {a1, a3}, {a2, a3}}
MCBallot   == 0..2
Agreement  == Cardinality(V!chosen) <= 1
Inv1 == Inv!1
Inv2 == Inv!2
Inv3 == Inv!3
Inv4 == Inv!4
====
