"""The run store's tables as they are now (SQLAlchemy Core), one definition for SQLite and PostgreSQL.

How a database reaches this shape, step by step and once, is fmnist.migrations' job."""
from __future__ import annotations

from sqlalchemy import (
    CheckConstraint,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)

ACTIVE = ("queued", "running")
STATUSES = ("queued", "running", "finished", "stopped", "failed")
STATUS_CHECK = "status IN ('queued', 'running', 'finished', 'stopped', 'failed')"

metadata = MetaData()

runs = Table(
    "runs", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", Text, nullable=False),
    Column("preset", Text, nullable=False),
    Column("kind", Text, nullable=False),
    Column("config", Text, nullable=False),
    Column("user", Text, nullable=False, server_default=""),
    Column("dedup_key", Text),
    Column("status", Text, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("started_at", Float),
    Column("ended_at", Float),
    Column("pid", Integer),
    Column("proc_start", Float),
    Column("heartbeat", Float),
    Column("stop_requested_at", Float),
    Column("error", Text),
    Column("train_acc", Float), Column("val_acc", Float), Column("test_acc", Float),
    Column("params", Integer), Column("epochs", Integer), Column("seconds", Float),
    Column("best_epoch", Integer), Column("stopped_early", Integer),
    Column("model_path", Text), Column("model_sha256", Text),
    Column("test_views", Integer, nullable=False, server_default="0"),
    # version 2
    Column("executor", Text),      # "local" or "ray": who runs its worker
    Column("handle", Text),        # the executor's name for that work (pid:start time, a Ray job id)
    Column("node", Text),          # the host its worker ran on
    Column("parent_id", Integer),  # the run this one continues
    Column("sweep_id", Integer),   # the sweep this run is a trial of
    Column("group_key", Text),     # runs of one configuration repeated with other seeds
    CheckConstraint(STATUS_CHECK, name="runs_status_check"),
)
Index("runs_status", runs.c.status)

epochs = Table(
    "epochs", metadata,
    Column("run_id", Integer, ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("epoch", Integer, primary_key=True),
    Column("loss", Float), Column("accuracy", Float), Column("val_loss", Float), Column("val_accuracy", Float),
    Column("seconds", Float),
    Column("ended_at", Float),  # version 3: when the epoch's row was written, so a countdown starts from it
)

evaluations = Table(
    "evaluations", metadata,
    Column("run_id", Integer, ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("created_at", Float, nullable=False),
    Column("payload", Text, nullable=False),
)

# version 2
artifacts = Table(  # a model's bytes, for app servers that share no filesystem with the worker's node
    "artifacts", metadata,
    Column("run_id", Integer, ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("sha256", String(64), nullable=False),
    Column("suffix", Text, nullable=False),
    Column("data", LargeBinary, nullable=False),
)

user_caps = Table(  # an instructor's per-student limit on active runs, over the server's default
    "user_caps", metadata,
    Column("user", Text, primary_key=True),
    Column("cap", Integer, nullable=False),
)

sweeps = Table(
    "sweeps", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", Text, nullable=False),
    Column("spec", Text, nullable=False),  # JSON: base config, space, sampler, pruner, trial cap
    Column("user", Text, nullable=False, server_default=""),
    Column("status", Text, nullable=False, server_default="active"),  # active | stopped | done
    Column("created_at", Float, nullable=False),
)

leases = Table(  # who supervises the store: one holder at a time, renewed every tick
    "leases", metadata,
    Column("name", Text, primary_key=True),
    Column("holder", Text, nullable=False),
    Column("expires_at", Float, nullable=False),
)

# version 4
class_rounds = Table(  # classroom mode: the leaderboard counts runs created since the latest round began
    "class_rounds", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("started_at", Float, nullable=False),
    Column("revealed_at", Float),  # when the instructor showed the round's test accuracy
)

schema_version = Table(
    "schema_version", metadata,
    Column("version", Integer, primary_key=True),
    Column("applied_at", Float, nullable=False),
    Column("what", Text, nullable=False),
)
