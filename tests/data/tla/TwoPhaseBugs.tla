---- MODULE TwoPhaseBugs ----
\* Broken variants of TwoPhase (fttoolkit's explorer tests; ours, not Lamport's).
EXTENDS TwoPhase
TCConsistentBar == TC!TCConsistent

\* commit-without-all-prepared: the TM commits once one Prepared message has arrived
TMCommitEarly == /\ tmState = "init"
                 /\ tmPrepared # {}
                 /\ tmState' = "committed"
                 /\ msgs' = msgs \cup {[type |-> "Commit"]}
                 /\ UNCHANGED <<rmState, tmPrepared>>
NextCommitEarly == \/ TMCommitEarly \/ TMAbort
                   \/ \E rm \in RM : TMRcvPrepared(rm) \/ RMPrepare(rm) \/ RMChooseToAbort(rm)
                                     \/ RMRcvCommitMsg(rm) \/ RMRcvAbortMsg(rm)
SpecCommitEarly == TPInit /\ [][NextCommitEarly]_<<rmState, tmState, tmPrepared, msgs>>

\* abort-after-prepared: a prepared RM may still abort on its own
RMAbortPrepared(rm) == /\ rmState[rm] \in {"working", "prepared"}
                       /\ rmState' = [rmState EXCEPT ![rm] = "aborted"]
                       /\ UNCHANGED <<tmState, tmPrepared, msgs>>
NextAbortPrepared == \/ TMCommit \/ TMAbort
                     \/ \E rm \in RM : TMRcvPrepared(rm) \/ RMPrepare(rm) \/ RMAbortPrepared(rm)
                                       \/ RMRcvCommitMsg(rm) \/ RMRcvAbortMsg(rm)
SpecAbortPrepared == TPInit /\ [][NextAbortPrepared]_<<rmState, tmState, tmPrepared, msgs>>
====
