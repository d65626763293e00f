"""Applying a whole write set to a trie in one pass.

The sorted changes are pushed down the trie together: at each node they split by next nibble, so
every node on the path of any changed key is loaded once, rebuilt once as a :class:`PendingNode`,
and encoded and hashed once at the end by the :class:`NodeWriter`. Subtrees no change reaches keep
their old child reference untouched, and so does a node whose changes turn out to be no-ops
(deleting an absent key, writing the value already there).

Structural rules, the same as Substrate's TrieDBMut (so roots agree):
- a new key that leaves a node's partial key splits it into a branch at the first differing nibble;
- a branch left with no value and one child is merged into that child (which may need loading);
- a branch left with a value and no children becomes a leaf; with neither, it disappears.
"""

from __future__ import annotations

from collections.abc import Callable

from node.primitives.hashing import blake2_256
from node.trie.build import HEX, NIBBLE, NodeWriter, PendingNode, Slot, build, common_prefix
from node.trie.codec import Branch, Leaf

Change = tuple[str, "bytes | None"]  # (key as hex nibbles, new value or None to delete)


class _General:
    """The fast path does not apply: take the general one."""


_GENERAL = _General()


class Updater:
    __slots__ = ("load", "writer")

    def __init__(self, load: Callable[[bytes], Leaf | Branch], writer: NodeWriter) -> None:
        self.load = load  # child reference -> decoded node (store reads happen here)
        self.writer = writer

    def apply(self, slot: Slot, depth: int, changes: list[Change], lo: int, hi: int) -> Slot:
        """The new content of ``slot`` after ``changes[lo:hi]``, whose keys all share the first
        ``depth`` nibbles that lead to it. Returns ``slot`` itself when nothing changed."""
        if slot is None:
            items = [(k, v) for k, v in changes[lo:hi] if v is not None]
            return build(items, 0, len(items), depth, self.writer) if items else None
        if isinstance(slot, PendingNode):
            node, dirty = slot, True
        else:
            if hi - lo == 1:
                result = self._apply_one(slot, depth, changes, lo)
                if not isinstance(result, _General):
                    return result
            node, dirty = self._pending(self.load(slot)), False
        changed = dirty
        partial = node.partial
        if not (
            changes[lo][0].startswith(partial, depth)
            and changes[hi - 1][0].startswith(partial, depth)
        ):
            # Keys leaving this node's partial key are absent: deleting them changes nothing.
            changes = [
                c for c in changes[lo:hi] if c[1] is not None or c[0].startswith(partial, depth)
            ]
            lo, hi = 0, len(changes)
            if not changes:
                return slot
            full = changes[0][0][:depth] + partial
            cut = min(common_prefix(k, full, depth) for k, _ in changes)
            if cut < len(full):  # an insertion leaves the partial key: split the node there
                split = cut - depth
                node.partial = partial[split + 1 :]
                kids: list[Slot] = [None] * 16
                kids[NIBBLE[partial[split]]] = node
                node = PendingNode(partial[:split], None, False, kids)
                changed = True

        pos = depth + len(node.partial)
        i = lo
        key, raw = changes[i]
        if len(key) == pos:  # the change for this node's own key sorts first
            i += 1
            changed |= self._set_value(node, raw)
        if i < hi:
            children = node.children
            if children is None:  # a leaf that may grow children
                children = node.children = [None] * 16
            while i < hi:
                nibble = changes[i][0][pos]
                j = i + 1
                while j < hi and changes[j][0][pos] == nibble:
                    j += 1
                index = NIBBLE[nibble]
                old = children[index]
                new = self.apply(old, pos + 1, changes, i, j)
                if new is not old:
                    children[index] = new
                    changed = True
                i = j
        if not changed:
            return slot
        return self._normalize(node)

    def _apply_one(
        self, slot: bytes, depth: int, changes: list[Change], at: int
    ) -> Slot | _General:
        """Fast path for one change below a stored node, the common case near the leaves: the
        same result as the general path, or _GENERAL when it has to be taken."""
        key, raw = changes[at]
        node = self.load(slot)
        partial = node.partial
        if not key.startswith(partial, depth):
            return slot if raw is None else _GENERAL
        pos = depth + len(partial)
        if len(key) == pos:
            if isinstance(node, Branch):
                return _GENERAL
            if raw is None:
                return None
            pending = PendingNode(partial, node.value, node.hashed, None)
            return pending if self._set_value(pending, raw) else slot
        if isinstance(node, Leaf):
            return slot if raw is None else _GENERAL
        index = NIBBLE[key[pos]]
        old = node.children[index]
        new = self.apply(old, pos + 1, changes, at, at + 1)
        if new is old:
            return slot
        children: list[Slot] = list(node.children)
        children[index] = new
        pending = PendingNode(partial, node.value, node.hashed, children)
        return pending if new is not None else self._normalize(pending)

    def _set_value(self, node: PendingNode, raw: bytes | None) -> bool:
        if raw is None:
            if node.value is None:
                return False
            node.value, node.hashed = None, False
            return True
        max_inline = self.writer.max_inline
        if max_inline is not None and len(raw) > max_inline:
            digest = blake2_256(raw)
            if node.hashed and node.value == digest:
                return False
            self.writer.new_nodes[digest] = raw
            node.value, node.hashed = digest, True
            return True
        if not node.hashed and node.value == raw:
            return False
        node.value, node.hashed = raw, False
        return True

    def _normalize(self, node: PendingNode) -> PendingNode | None:
        children = node.children
        if children is not None:
            present = [i for i in range(16) if children[i] is not None]
            if not present:
                node.children = children = None
            elif len(present) == 1 and node.value is None:
                index = present[0]
                child = children[index]
                if not isinstance(child, PendingNode):
                    child = self._pending(self.load(child))  # type: ignore[arg-type]  # not None
                child.partial = node.partial + HEX[index] + child.partial
                return child
        if children is None and node.value is None:
            return None
        return node

    @staticmethod
    def _pending(node: Leaf | Branch) -> PendingNode:
        if isinstance(node, Leaf):
            return PendingNode(node.partial, node.value, node.hashed, None)
        return PendingNode(node.partial, node.value, node.hashed, list(node.children))
