"""Front doors: each protocol composed with the simulator, behind one shared shape."""

from .base import REGISTRY, FrontDoor, door_for, register
from .broadcast import Broadcast
from .detection import FailureDetection, HeartbeatDetection, PhiDetection
from .multipaxos import MultiPaxos
from .paxos import Paxos
from .primary_backup import PrimaryBackup
from .pbft import ByzantineAgreement
from .quorum import QuorumStore
from .raft import Raft
from .raft_kv import RaftKV
from .recovery import FailureRecovery, WriteAheadLog
from .swim import SwimDetection
from .threepc import ThreePhaseCommit
from .transactions import DistributedTransaction

__all__ = ["FrontDoor", "REGISTRY", "register", "door_for", "Broadcast", "Paxos", "Raft", "MultiPaxos", "ThreePhaseCommit", "DistributedTransaction",
           "FailureDetection", "HeartbeatDetection", "PhiDetection", "SwimDetection",
           "ByzantineAgreement", "FailureRecovery", "WriteAheadLog", "QuorumStore", "RaftKV", "PrimaryBackup"]
