"""Run a function over chunks of work in forked processes, the caller's process working too.

Why not :class:`concurrent.futures.ProcessPoolExecutor`: over 5,000 small documents on
two cores it cost more than the validation it shared (a management thread, a queue
feeder, an idle parent), and a batch was slower on two processes than on one.

How it works: the chunks' numbers are written into a pipe before forking; every
process (the caller included) takes the next number by reading four bytes from it
(a pipe read of that size is atomic), so a process slowed by the machine simply takes
fewer chunks. A worker sends each chunk's result back as a length-prefixed pickle on
its own pipe; the caller reads them between its own chunks and yields results in chunk
order as soon as they are contiguous. A chunk whose worker died is redone by the caller.
Linux only (fork after imports is what makes a worker start in a millisecond).
"""

from __future__ import annotations

import os
import pickle
import select
import signal
import struct
from collections.abc import Callable, Generator, Iterator, Sequence
from typing import Generic, TypeVar

Chunk = TypeVar("Chunk")
Result = TypeVar("Result")

_TICKET = struct.Struct("<I")
_FRAME = struct.Struct("<Q")
# The tickets are written before any process reads them: they must fit in the pipe. A pipe
# holds 64 KiB, but only one page (4 KiB) once the user is past the kernel's pipe-user-pages-soft.
MAX_CHUNKS = 4096 // _TICKET.size


class ForkedMap(Generic[Chunk, Result]):
    """``map(function, chunks)`` over *processes* processes (the caller and processes - 1 forks)."""

    def __init__(self, function: Callable[[Chunk], Result], chunks: Sequence[Chunk], processes: int):
        if len(chunks) > MAX_CHUNKS:
            raise ValueError(f"at most {MAX_CHUNKS} chunks (got {len(chunks)}): make them larger")
        self.function = function
        self.chunks = chunks
        self.processes = max(1, min(processes, len(chunks)))
        self.done: dict[int, Result] = {}
        self.workers: dict[int, tuple[int, bytearray]] = {}  # pipe -> (pid, unread bytes)
        self.finished: list[int] = []  # workers that have sent everything, reaped at the end

    def __iter__(self) -> Generator[Result, None, None]:
        tickets = self._tickets()
        try:
            for _ in range(self.processes - 1):
                if not self._fork(tickets):
                    break  # no more processes to be had: the ones started share the work
            yield from self._work_and_collect(tickets)
        finally:
            os.close(tickets)
            self._reap()
            for pid in self.finished:  # gone by now: a worker's exit has had the last chunks' time
                os.waitpid(pid, 0)
            self.finished.clear()

    def _tickets(self) -> int:
        read_end, write_end = os.pipe()
        os.write(write_end, b"".join(_TICKET.pack(index) for index in range(len(self.chunks))))
        os.close(write_end)
        return read_end

    def _fork(self, tickets: int) -> bool:
        """Start a worker; False when the system gives no process (or no pipe) for one."""
        try:
            read_end, write_end = os.pipe()
        except OSError:
            return False
        try:
            pid = os.fork()
        except OSError:
            os.close(read_end)
            os.close(write_end)
            return False
        if pid == 0:  # the worker: never returns into the caller's code
            os.close(read_end)
            self._worker(tickets, write_end)
        os.close(write_end)
        self.workers[read_end] = (pid, bytearray())
        return True

    def _worker(self, tickets: int, results: int) -> None:
        status = 0
        try:
            for index in _taken(tickets):
                frame = pickle.dumps((index, self.function(self.chunks[index])), pickle.HIGHEST_PROTOCOL)
                _write_all(results, _FRAME.pack(len(frame)) + frame)
        except BaseException:  # the caller redoes what is missing; Ctrl-C lands here too
            status = 1
        finally:
            # The end of the results now, not after the exit has unmapped the process's memory.
            os.close(results)
            os._exit(status)  # no atexit handlers, no flushing of the caller's stdout buffers

    def _work_and_collect(self, tickets: int) -> Iterator[Result]:
        next_index = 0
        for index in _taken(tickets):
            self.done[index] = self.function(self.chunks[index])
            self._collect(block=False)
            while next_index in self.done:
                yield self.done.pop(next_index)
                next_index += 1
        while self.workers:
            self._collect(block=True)
            while next_index in self.done:
                yield self.done.pop(next_index)
                next_index += 1
        for index in range(next_index, len(self.chunks)):  # lost with a worker that died
            yield self.done.pop(index) if index in self.done else self.function(self.chunks[index])

    def _collect(self, *, block: bool) -> None:
        if not self.workers:
            return
        readable, _, _ = select.select(list(self.workers), [], [], None if block else 0)
        for pipe in readable:
            data = os.read(pipe, 1 << 20)
            if not data:  # the worker has finished (or died): what it sent is all there is
                os.close(pipe)
                pid, _ = self.workers.pop(pipe)
                self.finished.append(pid)
                continue
            buffer = self.workers[pipe][1]
            buffer += data
            self._unpack(buffer)

    def _unpack(self, buffer: bytearray) -> None:
        while len(buffer) >= _FRAME.size:
            (length,) = _FRAME.unpack_from(buffer)
            if len(buffer) < _FRAME.size + length:
                return
            index, result = pickle.loads(buffer[_FRAME.size : _FRAME.size + length])
            self.done[index] = result
            del buffer[: _FRAME.size + length]

    def _reap(self) -> None:
        """Workers left when the caller stopped early (its reader went away): stop them."""
        for pipe, (pid, _) in self.workers.items():
            os.close(pipe)
            os.kill(pid, signal.SIGTERM)
            os.waitpid(pid, 0)
        self.workers.clear()


def _taken(tickets: int) -> Iterator[int]:
    """The chunk numbers this process takes, until none is left."""
    while True:
        ticket = os.read(tickets, _TICKET.size)
        if len(ticket) < _TICKET.size:
            return
        yield _TICKET.unpack(ticket)[0]


def _write_all(pipe: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(pipe, view) :]
