---- MODULE PaxosBugs ----
\* Broken variants of Paxos (fttoolkit's explorer tests; ours, not Lamport's):
\* 3 acceptors, 2 values, ballots 0..1, majority quorums, as MCPaxos3.
EXTENDS Paxos, TLC, FiniteSets
CONSTANTS a1, a2, a3, v1, v2
MCAcceptor == {a1, a2, a3}
MCValue    == {v1, v2}
MCQuorum   == {{a1, a2}, {a1, a3}, {a2, a3}}
MCBallot   == 0..1
Agreement  == Cardinality(V!chosen) <= 1
Inv1 == Inv!1
Inv2 == Inv!2
Inv3 == Inv!3
Inv4 == Inv!4

\* vote-ignoring-promise: Phase2b without its guard m.bal \geq maxBal[a]
Phase2bNoPromise(a) == \E m \in msgs : /\ m.type = "2a"
                                       /\ maxBal' = [maxBal EXCEPT ![a] = m.bal]
                                       /\ maxVBal' = [maxVBal EXCEPT ![a] = m.bal]
                                       /\ maxVal' = [maxVal EXCEPT ![a] = m.val]
                                       /\ Send([type |-> "2b", acc |-> a,
                                                bal |-> m.bal, val |-> m.val])
NextNoPromise == \/ \E b \in Ballot : \/ Phase1a(b)
                                      \/ \E v \in Value : Phase2a(b, v)
                 \/ \E a \in Acceptor : Phase1b(a) \/ Phase2bNoPromise(a)
SpecNoPromise == Init /\ [][NextNoPromise]_vars

\* ignore-promised-values: Phase2a without the condition on the votes the 1b messages report
Phase2aAnyValue(b, v) ==
  /\ ~ \E m \in msgs : m.type = "2a" /\ m.bal = b
  /\ \E Q \in Quorum :
        LET Q1b == {m \in msgs : /\ m.type = "1b"
                                 /\ m.acc \in Q
                                 /\ m.bal = b}
        IN  \A a \in Q : \E m \in Q1b : m.acc = a
  /\ Send([type |-> "2a", bal |-> b, val |-> v])
  /\ UNCHANGED <<maxBal, maxVBal, maxVal>>
NextAnyValue == \/ \E b \in Ballot : \/ Phase1a(b)
                                     \/ \E v \in Value : Phase2aAnyValue(b, v)
                \/ \E a \in Acceptor : Phase1b(a) \/ Phase2b(a)
SpecAnyValue == Init /\ [][NextAnyValue]_vars
====
