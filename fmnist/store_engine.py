"""Where the run store lives and how it is reached: the SQLite path's checks, one pooled engine for SQLite or
PostgreSQL, the store-wide write lock, and the message for a store that cannot be used."""
from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

BUSY_TIMEOUT_MS = 30_000  # a class of writers waits its turn rather than failing
WRITE_LOCK_KEY = 20240329  # PostgreSQL advisory lock id that stands for "the store's write lock"


class StoreError(RuntimeError):
    pass


@contextmanager
def writing(engine: Engine, where: str):
    """One write transaction, holding the store's write lock from its first statement."""
    with explained(where):
        with engine.begin() as conn:
            if engine.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": WRITE_LOCK_KEY})
            yield conn


def read_all(engine: Engine, where: str, stmt) -> list:
    """The statement's rows, read in autocommit: readers never take the write lock."""
    with explained(where):
        with engine.connect().execution_options(fmnist_read=True) as conn:
            return conn.execute(stmt).all()


@contextmanager
def explained(where: str):
    """A database error becomes a StoreError that says what to do."""
    try:
        yield
    except DBAPIError as exc:
        raise StoreError(explain(where, exc.orig or exc)) from exc
    except SQLAlchemyError as exc:
        raise StoreError(explain(where, exc)) from exc


def locate(where: Path | str, create: bool) -> tuple[str, Path | None]:
    text_where = str(where)
    if "://" in text_where and not text_where.startswith("sqlite"):
        return text_where, None
    path = Path(text_where.split(":///", 1)[1]) if text_where.startswith("sqlite") else Path(where)
    _check_sqlite_path(path, create)
    return f"sqlite:///{path}", path


def _check_sqlite_path(path: Path, create: bool) -> None:
    if not path.exists():
        if not create:
            raise StoreError(f"No run store at {path}. "
                             "Start the app or run `python -m fmnist runs` once to create one.")
        if not os.access(path.parent if path.parent.exists() else path.parent.parent, os.W_OK):
            raise StoreError(f"Cannot create the run store in {path.parent}: the folder is not writable. "
                             "Set FMNIST_HOME to a folder you can write to.")
        path.parent.mkdir(parents=True, exist_ok=True)
    elif not os.access(path, os.W_OK) or not os.access(path.parent, os.W_OK):
        raise StoreError(f"The run store {path} (or its folder) is read-only. Make it writable, "
                         "or set FMNIST_HOME to a folder you can write to.")


def with_driver(url: str) -> str:
    """A plain postgresql:// URL names psycopg 3, not SQLAlchemy's default psycopg2 (the run store and the
    sweeps' Optuna storage both connect through this)."""
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url[len("postgresql://"):]
    return url


def make_engine(url: str) -> Engine:
    if not url.startswith("sqlite"):
        url = with_driver(url)
        try:
            return create_engine(url, pool_size=10, max_overflow=40, pool_pre_ping=True)
        except (ImportError, SQLAlchemyError) as exc:
            raise StoreError(f"Cannot use the database {safe_url(url)}: {exc}. "
                             "Install the driver with `pip install 'psycopg[binary]'`.") from exc
    engine = create_engine(url, pool_size=10, max_overflow=40,
                           connect_args={"timeout": BUSY_TIMEOUT_MS / 1000, "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _prepare(dbapi_conn, _record):
        dbapi_conn.isolation_level = None  # SQLAlchemy, not the driver, says when a transaction begins
        for pragma in (f"busy_timeout={BUSY_TIMEOUT_MS}", "journal_mode=WAL", "foreign_keys=ON", "synchronous=NORMAL"):
            dbapi_conn.execute(f"PRAGMA {pragma}")

    @event.listens_for(engine, "begin")
    def _begin(conn):
        if not conn.get_execution_options().get("fmnist_read"):  # readers run in autocommit and never lock
            conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def safe_url(url: str) -> str:
    """The URL without its password, for messages."""
    from sqlalchemy.engine import make_url
    try:
        return make_url(url).render_as_string(hide_password=True)
    except SQLAlchemyError:
        return "the database"


def explain(where: str, exc: BaseException) -> str:
    text_ = " ".join(str(exc).split())
    if "readonly" in text_ or "read-only" in text_:
        return f"The run store {where} is read-only ({text_}). Make it writable or set FMNIST_HOME elsewhere."
    if "full" in text_:
        return f"The run store {where} could not be written: {text_}. Free some disk space and try again."
    if "not a database" in text_ or "malformed" in text_ or "schema version" in text_:
        return (f"The run store {where} cannot be used: {text_}. It was left untouched; move it aside "
                "(for example to runs.db.bad) and the lab starts a new, empty store.")
    if "connection" in text_.lower() and "refused" in text_.lower():
        return (f"The run store {where} cannot be reached: {text_}. Start the database server or fix "
                "FMNIST_DATABASE_URL.")
    return f"The run store {where} failed: {text_}."
