"""The SQLite plumbing under the mock's state (:mod:`vismock.mockserver.state`).

One database file in WAL mode is shared by every worker process of the server
(each opens its own connections): readers never block the writer, and writes
are short ``BEGIN IMMEDIATE`` transactions so a read-modify-write (poll
counting, consuming a fault rule) is atomic across processes. Each thread gets
its own connection; a process forked with an open connection opens a new one
(SQLite connections must not cross ``fork``).
"""

from __future__ import annotations

import fcntl
import mmap
import os
import sqlite3
import struct
import threading
import time
import weakref
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from datetime import UTC, datetime, timedelta
from pathlib import Path

BUSY_TIMEOUT_SECONDS = 30.0
SCHEMA_VERSION = 1
WAL_SIZE_LIMIT = 16 * 1024 * 1024
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)

# The database's own table; each part of the state creates its tables with ``create_tables``.
SCHEMA = ("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",)


def to_us(value: datetime) -> int:
    """Microseconds since the epoch (exact: integers, not floats). A naive *value* is taken as UTC."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return (value - EPOCH) // MICROSECOND  # timedelta arithmetic: exact, and done in C


def from_us(value: int) -> datetime:
    return EPOCH + timedelta(microseconds=value)


class _ProcessId:
    """This process's id, refreshed in a forked child (``os.getpid()`` is a system call per request)."""

    value = os.getpid()

    @classmethod
    def refresh(cls) -> None:
        cls.value = os.getpid()


os.register_at_fork(after_in_child=_ProcessId.refresh)


def current_pid() -> int:
    """``os.getpid()`` without the system call."""
    return _ProcessId.value


class ProcessFile:
    """A descriptor of one file for this process (fcntl record locks belong to a process: a forked
    child opens its own), closed by ``close()`` or, failing that, when its owner is collected: the
    test suite makes thousands of states and never closes most of them."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd, self._pid = -1, 0
        self._closer: weakref.finalize[[int, int], ProcessFile] | None = None

    def descriptor(self) -> int:
        pid = current_pid()
        if self._pid != pid:
            self._fd, self._pid = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600), pid
            self._closer = weakref.finalize(self, _close_in, self._fd, pid)
        return self._fd

    def close(self) -> None:
        if self._closer is not None:
            self._closer()
        self._pid = 0


def _close_in(fd: int, pid: int) -> None:
    """Close *fd* if this is the process that opened it (a forked child's copy is its parent's)."""
    if current_pid() == pid:
        with suppress(OSError):  # closed already (a test closing a state twice)
            os.close(fd)


def real_time_us() -> int:
    return time.time_ns() // 1_000


class Revision:
    """Three counters shared by every process using one database file: the *revision*, raised after
    each committed change of the mock's state (journal appends excepted: nothing caches the
    journal); the *generation*, raised by each reset; and the *settings* revision, raised with the
    revision except by a power operation's start (it writes tasks and power tables only), so what
    is cached of the rest (the clock row, fault rules, sessions, the inventory) outlives it.

    Caches of stored state (fault rules, sessions) read the revision first and stay valid while it
    is unchanged: one memory read instead of an SQLite query per request. A request notes the
    generation it started in, so that one still running when a reset comes (a delayed answer)
    neither waits on nor writes into the state that follows. Both live in a small file next to
    the database (``<db>-rev``), mapped into memory; raising them is atomic across threads (the
    caller's lock) and processes (a file lock), so they only ever grow.
    """

    _FORMAT = struct.Struct("<QQQ")  # revision, generation, settings (a 16-byte file grows)

    def __init__(self, path: Path) -> None:
        self.path = Path(f"{path}-rev")
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            if os.fstat(fd).st_size < self._FORMAT.size:
                os.ftruncate(fd, self._FORMAT.size)
            self._map = mmap.mmap(fd, self._FORMAT.size)
        finally:
            os.close(fd)
        self._lock = ProcessFile(self.path)

    def value(self) -> int:
        value: int = self._FORMAT.unpack_from(self._map)[0]
        return value

    def generation(self) -> int:
        value: int = self._FORMAT.unpack_from(self._map)[1]
        return value

    def settings(self) -> int:
        value: int = self._FORMAT.unpack_from(self._map)[2]
        return value

    def bump(self, *, generation: bool = False, settings: bool = True) -> None:
        """Raise the revision (and the generation too, for a reset; the settings revision unless
        told the change was a power operation's start)."""
        lock = self._lock.descriptor()  # opened once per process: opening cost as much as the write
        fcntl.lockf(lock, fcntl.LOCK_EX)
        try:
            revision, current, settings_revision = self._FORMAT.unpack_from(self._map)
            if settings:
                settings_revision = (settings_revision + 1) % 2**64
            self._FORMAT.pack_into(
                self._map, 0, (revision + 1) % 2**64, current + generation, settings_revision
            )
        finally:
            fcntl.lockf(lock, fcntl.LOCK_UN)

    def close(self) -> None:
        self._map.close()
        self._lock.close()


class WriterLock:
    """A lock that the writers of every process take in turn (``<db>-lock``, an fcntl lock).

    Two processes that both BEGIN IMMEDIATE collide inside SQLite, whose busy handler then sleeps
    1 to 100 ms before trying again: under a write-heavy load (power operations) that sleep was the
    latency. Queued on a kernel lock instead, the next writer goes as soon as the last commits.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(f"{path}-lock")
        self._file = ProcessFile(self.path)

    @contextmanager
    def held(self) -> Iterator[None]:
        fd = self._file.descriptor()
        fcntl.lockf(fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.lockf(fd, fcntl.LOCK_UN)

    def close(self) -> None:
        self._file.close()


class Database:
    """Per-thread connections to one SQLite file, with read and write-transaction helpers."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()
        # Connections opened before a fork are kept referenced (never closed in the child).
        self._abandoned: list[sqlite3.Connection] = []
        # Open connections by thread, to close them: those of finished threads when a new one
        # connects (servers that start a thread per request), all of them on close().
        self._by_thread: dict[int, sqlite3.Connection] = {}
        self._owner_pid = os.getpid()
        self._lock = threading.Lock()
        # Threads of this process take turns for write transactions here rather than inside SQLite,
        # whose busy handler sleeps 1-100 ms when two writers collide (other processes still may).
        self._write_lock = threading.Lock()
        self.revision = Revision(path)
        self.writers = WriterLock(path)
        self._create_schema()

    def connection(self) -> sqlite3.Connection:
        local = self._local
        conn: sqlite3.Connection | None = getattr(local, "conn", None)
        if conn is not None and local.pid == current_pid():
            return conn
        if conn is not None:
            self._abandoned.append(conn)
        conn = self._connect()
        local.conn, local.pid = conn, os.getpid()
        # Registers a thread the server created outside Python (granian's) with ``threading``, so
        # _close_finished_threads sees it alive and does not close the connection it is using.
        threading.current_thread()
        with self._lock:
            if self._owner_pid != local.pid:
                # Forked: the parent's connections are not ours to close (SQLite forbids using them).
                self._abandoned.extend(self._by_thread.values())
                self._by_thread, self._owner_pid = {}, local.pid
                self._write_lock = threading.Lock()  # a fork may have copied it held by another thread
            self._close_finished_threads()
            self._by_thread[threading.get_ident()] = conn
        return conn

    def _close_finished_threads(self) -> None:
        alive = {thread.ident for thread in threading.enumerate()}
        for ident in [ident for ident in self._by_thread if ident not in alive]:
            self._by_thread.pop(ident).close()

    def _connect(self) -> sqlite3.Connection:
        # isolation_level=None: autocommit, transactions are explicit BEGIN IMMEDIATE ... COMMIT.
        conn = sqlite3.connect(
            self.path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None, check_same_thread=False
        )
        conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_SECONDS * 1000)}")
        # NORMAL in WAL mode: COMMIT returns once the transaction is in the WAL file, so an answered
        # write survives the death of any process (a worker killed by SIGKILL: test_supervision.py);
        # only an OS crash or power cut may lose the last commits, never consistency. FULL (an fsync
        # per commit) measured 1.2 ms a commit here against NORMAL's 22 us.
        conn.execute("PRAGMA synchronous = NORMAL")
        # After a checkpoint the WAL file is truncated back to this size, so disk use stays bounded.
        conn.execute(f"PRAGMA journal_size_limit = {WAL_SIZE_LIMIT}")
        return conn

    def _create_schema(self) -> None:
        conn = self.connection()
        # journal_mode is persistent in the file; switching needs a moment of exclusivity, hence retries.
        for attempt in range(50):
            try:
                conn.execute("PRAGMA journal_mode = WAL")
                break
            except sqlite3.OperationalError:
                if attempt == 49:
                    raise
                time.sleep(0.05)
        self.create_tables(SCHEMA)
        with self.write(changes_state=False) as tx:
            tx.execute(
                "INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
            )

    def create_tables(self, statements: Sequence[str]) -> None:
        """Run a part's ``CREATE ... IF NOT EXISTS`` statements (every process may; the first creates)."""
        with self.write(changes_state=False) as tx:
            for statement in statements:
                tx.execute(statement)

    @contextmanager
    def write(self, *, changes_state: bool = True, settings: bool = True) -> Iterator[sqlite3.Connection]:
        """A write transaction taken up front (BEGIN IMMEDIATE), so read-modify-write is atomic.

        *changes_state* False (journal appends): the shared :class:`Revision` is left alone.
        *settings* False (a power operation's start, which writes tasks and power tables only):
        the revision is raised, the settings revision is not.
        """
        conn = self.connection()
        with self._write_lock, self.writers.held():
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
            if changes_state:
                # After the commit: whoever sees the new value also sees the change.
                self.revision.bump(settings=settings)

    def close(self) -> None:
        with self._lock:
            connections, self._by_thread = list(self._by_thread.values()), {}
        for conn in connections:
            conn.close()
        self._local = threading.local()
        self.revision.close()
        self.writers.close()


def clock_now_us(frozen_us: int | None, offset_us: int) -> int:
    return frozen_us if frozen_us is not None else real_time_us() + offset_us
