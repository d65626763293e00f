"""The runtime's view of state: a write overlay over a read-only backend, with nested
storage transactions (FRAME's transactional layer).

A block executes against one overlay; its `changes` are the block's write set, applied to the
trie once at the end. Each dispatched call runs inside `transaction()`: on an exception every
write made since is rolled back, and so are the events it deposited.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, Iterator

_MISSING = object()

StateGetter = Callable[[bytes], "bytes | None"]


class StateOverlay:
    __slots__ = ("_read", "changes", "_journals", "events")

    def __init__(self, read: StateGetter):
        self._read = read
        self.changes: dict[bytes, bytes | None] = {}  # None marks a deletion
        self._journals: list[dict] = []  # per open transaction: key -> value before it
        self.events: list = []  # (phase, event value) pairs deposited this block

    def get(self, key: bytes) -> bytes | None:
        value = self.changes.get(key, _MISSING)
        if value is _MISSING:
            return self._read(key)
        return value

    def set(self, key: bytes, value: bytes | None) -> None:
        if self._journals:
            journal = self._journals[-1]
            if key not in journal:
                journal[key] = self.changes.get(key, _MISSING)
        self.changes[key] = value

    def delete(self, key: bytes) -> None:
        self.set(key, None)

    def deposit_event(self, record) -> None:
        self.events.append(record)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        journal: dict = {}
        self._journals.append(journal)
        events_before = len(self.events)
        try:
            yield
        except BaseException:
            self._journals.pop()
            for key, before in journal.items():
                if before is _MISSING:
                    del self.changes[key]
                else:
                    self.changes[key] = before
            del self.events[events_before:]
            raise
        self._journals.pop()
        if self._journals:  # fold into the enclosing transaction, keeping its older snapshots
            outer = self._journals[-1]
            for key, before in journal.items():
                outer.setdefault(key, before)
