"""The seed's five front doors, the FailureRecovery factory, and the views of Chapter 3's models and the quorum store."""

import pytest

import fttoolkit
from fttoolkit import FailureRecovery, PrimaryBackup, QuorumStore, WriteAheadLog
from fttoolkit.core.errors import BadParameter
from fttoolkit.viz.adapters import PrimaryBackupView, QuorumView, WalView, adapter_for
from fttoolkit.viz.export import export_png


def test_the_five_front_doors_of_the_seed_article_exist_and_run():
    for name in ("Paxos", "Raft", "DistributedTransaction", "FailureDetection", "FailureRecovery"):
        assert name in fttoolkit.__all__
        door = getattr(fttoolkit, name)(seed=1)
        door.run(until=50)
        assert door.now == 50


def test_failure_recovery_builds_either_model_and_names_the_allowed_ones():
    assert isinstance(FailureRecovery("wal", seed=2), WriteAheadLog)
    pb = FailureRecovery("primary-backup", nodes=3, seed=2)
    assert isinstance(pb, PrimaryBackup) and pb.ids[-1] == "zk"
    with pytest.raises(BadParameter, match="unknown recovery model 'raid'; models: wal, primary-backup"):
        FailureRecovery("raid")


def table_marks(cluster):
    table = adapter_for(cluster.node_class).table(cluster.sim)
    return table, [[(c.text, c.mark) for c in row] for row in table.rows]


def test_wal_view_marks_applied_checkpointed_and_torn_records():
    cluster = WriteAheadLog()
    cluster.load_preset("torn_record")
    assert isinstance(adapter_for(cluster.node_class), WalView)
    table, rows = table_marks(cluster)
    disk = cluster.log("n1")
    cells = rows[0][-len(disk):]
    for entry, (text, mark) in zip(disk, cells):
        if entry["torn"]:
            assert (text, mark) == ("torn", "odd")
        else:
            assert mark == "good" and text.startswith(str(entry["lsn"]))
    # crash during a checkpoint: the records the checkpoint covers are faded, the torn one is orange
    cluster.load_preset("crash_during_checkpoint")
    _, rows = table_marks(cluster)
    marks = [m for _, m in rows[0][4:]]
    assert "faded" in marks and "odd" in marks


def test_primary_backup_view_shows_split_brain_and_lost_writes():
    fenced = PrimaryBackup()
    fenced.load_preset("partition_fenced")
    _, rows = table_marks(fenced)
    assert all(mark != "odd" for _, mark in rows[-1])          # nothing acknowledged twice or lost
    brain = PrimaryBackup()
    brain.load_preset("split_brain")
    assert isinstance(adapter_for(brain.node_class), PrimaryBackupView)
    _, rows = table_marks(brain)
    acked = rows[-1]
    assert acked[0][0] == "clients" and any("," in text and mark == "odd" for text, mark in acked)
    node = brain.sim.nodes["zk"]
    assert adapter_for(brain.node_class).caption(node).startswith("epoch 2")


def test_quorum_view_marks_stale_copies(tmp_path):
    cluster = QuorumStore()
    cluster.load_preset("stale_read")
    assert isinstance(adapter_for(cluster.node_class), QuorumView)
    violation = cluster.violations[0]
    cluster.rewind(cluster.sim.steps_until(violation.tick + 1))
    _, rows = table_marks(cluster)
    assert ("1 @1.n1", "good") in [cell for row in rows for cell in row]
    assert sum(1 for row in rows for cell in row if cell[1] == "odd") == 2     # n2 and n3 lack the write
    assert export_png(cluster, tmp_path / "q.png").stat().st_size > 10_000
