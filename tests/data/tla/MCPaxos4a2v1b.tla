---- MODULE MCPaxos4a2v1b ----
\* Paxos with 4 acceptors, 2 value(s), ballots 0..1, majority quorums (fttoolkit's explorer tests)
EXTENDS Paxos, TLC, FiniteSets
CONSTANTS a1, a2, a3, a4, v1, v2
MCAcceptor == {a1, a2, a3, a4}
MCValue    == {v1, v2}
MCQuorum   == {{a1, a2, a3}, {a1, a2, a4}, {a1, a3, a4}, {a2, a3, a4}}
MCBallot   == 0..1
Agreement  == Cardinality(V!chosen) <= 1
Inv1 == Inv!1
Inv2 == Inv!2
Inv3 == Inv!3
Inv4 == Inv!4
====
