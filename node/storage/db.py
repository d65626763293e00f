"""The node's database: one embedded RocksDB (rocksdict) holding the chain and its state.

Everything a block changes — header, body, trie nodes, the flat state of the new best block,
the head pointers — is written in one WriteBatch, so a node killed at any moment restarts from
its last complete block. Writes are not fsync'd: a killed process loses nothing (RocksDB's WAL
is in the OS page cache); a power cut can lose the last blocks but never leaves a torn one.

Key layout (one keyspace, prefixed):
  h<hash>        header          b<hash>   body (extrinsics)      j<hash>  justification
  n<number:8BE>  canonical hash  t<hash>   trie node              s<key>   best-block state
  c<hash>        the keys the block changed (to move the flat state on a reorg)
  m<name>        metadata pointers (best, finalized, genesis)
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

from rocksdict import Options, Rdict, WriteBatch

HEADER, BODY, JUSTIFICATION, CANONICAL, TRIE_NODE, STATE, META, CHANGED_KEYS = (
    b"h", b"b", b"j", b"n", b"t", b"s", b"m", b"c",
)


def number_key(number: int) -> bytes:
    return CANONICAL + number.to_bytes(8, "big")


class ChainDB:
    def __init__(self, path: str | Path):
        Path(path).mkdir(parents=True, exist_ok=True)
        options = Options(raw_mode=True)
        options.create_if_missing(True)
        options.increase_parallelism(2)
        self._db = Rdict(str(path), options)

    def close(self) -> None:
        self._db.close()

    # -- reads --------------------------------------------------------------------------------
    def get(self, key: bytes) -> bytes | None:
        return self._db.get(key)

    def meta(self, name: str) -> bytes | None:
        return self._db.get(META + name.encode())

    def header(self, block_hash: bytes) -> bytes | None:
        return self._db.get(HEADER + block_hash)

    def body(self, block_hash: bytes) -> bytes | None:
        return self._db.get(BODY + block_hash)

    def justification(self, block_hash: bytes) -> bytes | None:
        return self._db.get(JUSTIFICATION + block_hash)

    def canonical_hash(self, number: int) -> bytes | None:
        return self._db.get(number_key(number))

    def changed_keys(self, block_hash: bytes) -> bytes | None:
        return self._db.get(CHANGED_KEYS + block_hash)

    def trie_node(self, node_hash: bytes) -> bytes | None:
        return self._db.get(TRIE_NODE + node_hash)

    def state(self, key: bytes) -> bytes | None:
        return self._db.get(STATE + key)

    def iter_state(self, prefix: bytes, start_after: bytes | None = None) -> Iterator[bytes]:
        """Keys of the best block's state under ``prefix``, sorted, strictly after ``start_after``."""
        it = self._db.iter()
        start = STATE + (start_after if start_after and start_after > prefix else prefix)
        it.seek(start)
        full_prefix = STATE + prefix
        while it.valid():
            key = it.key()
            if not key.startswith(full_prefix):
                break
            if start_after is None or key[1:] > start_after:
                yield key[1:]
            it.next()

    # -- writes -------------------------------------------------------------------------------
    def commit(self, batch: "BlockBatch") -> None:
        """Everything a block changes, atomically."""
        self._db.write(batch.batch)

    def put_meta(self, name: str, value: bytes) -> None:
        """One small record outside any block (the consensus voter's write-ahead state)."""
        self._db.put(META + name.encode(), value)


class BlockBatch:
    """Everything one block changes, written atomically by `ChainDB.commit`."""

    def __init__(self):
        self.batch = WriteBatch(raw_mode=True)

    def put_block(self, block_hash: bytes, number: int, header: bytes, body: bytes, *, canonical: bool) -> None:
        self.batch.put(HEADER + block_hash, header)
        self.batch.put(BODY + block_hash, body)
        if canonical:
            self.set_canonical(number, block_hash)

    def set_canonical(self, number: int, block_hash: bytes) -> None:
        self.batch.put(number_key(number), block_hash)

    def clear_canonical(self, number: int) -> None:
        self.batch.delete(number_key(number))

    def put_changed_keys(self, block_hash: bytes, encoded_keys: bytes) -> None:
        self.batch.put(CHANGED_KEYS + block_hash, encoded_keys)

    def put_justification(self, block_hash: bytes, justification: bytes) -> None:
        self.batch.put(JUSTIFICATION + block_hash, justification)

    def put_trie_nodes(self, nodes: dict[bytes, bytes]) -> None:
        for node_hash, node in nodes.items():
            self.batch.put(TRIE_NODE + node_hash, node)

    def apply_state(self, changes: dict[bytes, bytes | None]) -> None:
        for key, value in changes.items():
            if value is None:
                self.batch.delete(STATE + key)
            else:
                self.batch.put(STATE + key, value)

    def set_meta(self, name: str, value: bytes) -> None:
        self.batch.put(META + name.encode(), value)
