---- MODULE TCommitBugs ----
\* A broken variant of TCommit (fttoolkit's explorer tests; ours, not Lamport's).
EXTENDS TCommit
\* commit-alone: a prepared RM commits without waiting for the others (canCommit dropped)
DecideAlone(rm) == \/ /\ rmState[rm] = "prepared"
                      /\ rmState' = [rmState EXCEPT ![rm] = "committed"]
                   \/ /\ rmState[rm] \in {"working", "prepared"}
                      /\ notCommitted
                      /\ rmState' = [rmState EXCEPT ![rm] = "aborted"]
NextAlone == \E rm \in RM : Prepare(rm) \/ DecideAlone(rm)
SpecAlone == TCInit /\ [][NextAlone]_rmState
====
