"""RFC 9162 Merkle tree hashing, proofs and their verification. Pure: no I/O, no database.

Leaf hash ``SHA-256(0x00 || leaf)``, node hash ``SHA-256(0x01 || left || right)``, the empty
tree hashes to ``SHA-256("")``; a tree of ``n > 1`` leaves splits at the largest power of two
below ``n`` (RFC 9162 §2.1.1).

Nodes are addressed ``(level, index)``: level 0 holds the leaf hashes, the node at
``(level, index)`` is the root of the perfect subtree over leaves
``[index << level, (index + 1) << level)``. Only perfect subtrees are ever stored; the hash of
any other range (the ragged right edge of a tree) is folded from its perfect pieces, right to
left, exactly as the RFC's recursion would compute it.

The :class:`Frontier` (a compact range over ``[0, size)``) holds one hash per set bit of
``size``: appending a leaf costs one hash per carry, so the log never recomputes the tree.
"""
from __future__ import annotations

import hashlib
from typing import Callable, Iterable, Sequence

HASH_LEN = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()

Node = tuple[int, int]  # (level, index)


class ProofError(ValueError):
    """A proof, a range or a tree size that does not verify or makes no sense."""


def leaf_hash(leaf: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + leaf).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two strictly smaller than ``n`` (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


# -- the right edge --------------------------------------------------------------------------


class Frontier:
    """The perfect subtrees covering ``[0, size)``, largest first: enough to append and to root."""

    __slots__ = ("size", "hashes")

    def __init__(self, size: int = 0, hashes: Sequence[bytes] = ()) -> None:
        if len(hashes) != bin(size).count("1") or any(len(h) != HASH_LEN for h in hashes):
            raise ProofError("a frontier holds one 32-byte hash per set bit of its size")
        self.size = size
        self.hashes = list(hashes)

    def append(self, leaf_digest: bytes) -> list[tuple[int, int, bytes]]:
        """Add one leaf hash; return every node it completes as ``(level, index, hash)``."""
        index = self.size
        made = [(0, index, leaf_digest)]
        h, level = leaf_digest, 0
        while (index >> level) & 1:  # a carry: the subtree to the left is complete at this level
            h = node_hash(self.hashes.pop(), h)
            level += 1
            made.append((level, index >> level, h))
        self.hashes.append(h)
        self.size += 1
        return made

    def root(self) -> bytes:
        return fold(self.hashes)

    def copy(self) -> "Frontier":
        return Frontier(self.size, list(self.hashes))

    def to_hex(self) -> str:
        return "".join(h.hex() for h in self.hashes)

    @classmethod
    def from_hex(cls, size: int, text: str) -> "Frontier":
        raw = bytes.fromhex(text)
        return cls(size, [raw[i:i + HASH_LEN] for i in range(0, len(raw), HASH_LEN)])

    def nodes(self) -> list[Node]:
        return perfect_nodes(0, self.size)


def fold(hashes: Sequence[bytes]) -> bytes:
    """Hash of a range from its perfect pieces (left to right): fold from the right."""
    if not hashes:
        return EMPTY_ROOT
    h = hashes[-1]
    for left in reversed(hashes[:-1]):
        h = node_hash(left, h)
    return h


def perfect_nodes(start: int, end: int) -> list[Node]:
    """The maximal aligned perfect subtrees covering ``[start, end)``, left to right.

    For every range a proof uses (RFC 9162 ranges begin at a multiple of a power of two at
    least as large as the range), folding these pieces gives the range's MTH.
    """
    nodes: list[Node] = []
    while start < end:
        level = (start & -start).bit_length() - 1 if start else (end - start).bit_length() - 1
        while start + (1 << level) > end:
            level -= 1
        nodes.append((level, start >> level))
        start += 1 << level
    return nodes


def root_of(leaf_hashes: Iterable[bytes]) -> bytes:
    frontier = Frontier()
    for h in leaf_hashes:
        frontier.append(h)
    return frontier.root()


# -- proof shapes (which subtree hashes a proof lists) -------------------------------------


def inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """The ranges whose MTH form PATH(index, D[0:size]) (RFC 9162 §2.1.3.1), leaf side first."""
    if not 0 <= index < size:
        raise ProofError(f"entry index {index} is not in a tree of size {size}")
    out: list[tuple[int, int]] = []
    lo, hi = 0, size
    while hi - lo > 1:
        k = _split(hi - lo)
        if index < lo + k:
            out.append((lo + k, hi))
            hi = lo + k
        else:
            out.append((lo, lo + k))
            lo = lo + k
    out.reverse()
    return out


def consistency_ranges(old: int, new: int) -> list[tuple[int, int]]:
    """The ranges whose MTH form PROOF(old, D[0:new]) (RFC 9162 §2.1.4.1), in proof order."""
    if not 0 <= old <= new:
        raise ProofError(f"no consistency proof from size {old} to size {new}")
    if old == 0 or old == new:
        return []
    out: list[tuple[int, int]] = []
    lo, hi, m, complete = 0, new, old, True
    while m != hi - lo:
        k = _split(hi - lo)
        if m <= k:
            out.append((lo + k, hi))
            hi = lo + k
        else:
            out.append((lo, lo + k))
            lo, m, complete = lo + k, m - k, False
    if not complete:
        out.append((lo, hi))
    out.reverse()
    return out


def proof_nodes(ranges: Iterable[tuple[int, int]]) -> list[list[Node]]:
    return [perfect_nodes(a, b) for a, b in ranges]


def assemble(ranges: Iterable[tuple[int, int]], node: Callable[[int, int], bytes]) -> list[bytes]:
    """Build a proof from a node lookup ``node(level, index) -> hash`` (tree store or memory)."""
    return [fold([node(level, i) for level, i in perfect_nodes(a, b)]) for a, b in ranges]


class MemoryTree:
    """Every node of a tree in memory: for tests, the verifier and small exports."""

    def __init__(self, leaf_hashes: Iterable[bytes] = ()) -> None:
        self.frontier = Frontier()
        self.levels: list[list[bytes]] = [[]]
        for h in leaf_hashes:
            self.append(h)

    @property
    def size(self) -> int:
        return self.frontier.size

    def append(self, leaf_digest: bytes) -> None:
        for level, _index, h in self.frontier.append(leaf_digest):
            if level == len(self.levels):
                self.levels.append([])
            self.levels[level].append(h)

    def node(self, level: int, index: int) -> bytes:
        return self.levels[level][index]

    def root(self, size: int | None = None) -> bytes:
        size = self.size if size is None else size
        if size > self.size:
            raise ProofError(f"the tree has {self.size} leaves, not {size}")
        return fold([self.node(level, i) for level, i in perfect_nodes(0, size)])

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        if size > self.size:
            raise ProofError(f"the tree has {self.size} leaves, not {size}")
        return assemble(inclusion_ranges(index, size), self.node)

    def consistency_proof(self, old: int, new: int) -> list[bytes]:
        if new > self.size:
            raise ProofError(f"the tree has {self.size} leaves, not {new}")
        return assemble(consistency_ranges(old, new), self.node)


# -- verification (RFC 9162 §2.1.3.2 and §2.1.4.2) -----------------------------------------


def _check_hashes(proof: Sequence[bytes]) -> None:
    if any(not isinstance(h, bytes) or len(h) != HASH_LEN for h in proof):
        raise ProofError("every proof element is a 32-byte hash")


def root_from_inclusion(index: int, size: int, leaf_digest: bytes, proof: Sequence[bytes]) -> bytes:
    _check_hashes([leaf_digest, *proof])
    if not 0 <= index < size:
        raise ProofError(f"entry index {index} is not in a tree of size {size}")
    fn, sn, r = index, size - 1, leaf_digest
    for p in proof:
        if sn == 0:
            raise ProofError("the inclusion proof is too long")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("the inclusion proof is too short")
    return r


def verify_inclusion(index: int, size: int, leaf_digest: bytes, proof: Sequence[bytes], root: bytes) -> None:
    """Return if ``proof`` shows leaf ``index`` in the tree of ``size`` with ``root``; raise otherwise."""
    if root_from_inclusion(index, size, leaf_digest, proof) != root:
        raise ProofError("the inclusion proof does not lead to the root")


def verify_consistency(old: int, new: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]) -> None:
    """Return if ``proof`` shows the tree of size ``old`` is a prefix of the one of size ``new``."""
    _check_hashes([old_root, new_root, *proof])
    if not 0 <= old <= new:
        raise ProofError(f"size {new} is smaller than size {old}: the log went backwards")
    if old == new or old == 0:
        if proof:
            raise ProofError("this consistency proof must be empty")
        if old == new and old_root != new_root:
            raise ProofError("two different roots for the same tree size: the log forked")
        return
    if not proof:
        raise ProofError("the consistency proof is empty")
    path = list(proof)
    if old & (old - 1) == 0:  # an exact power of two: the old root is the first node
        path.insert(0, old_root)
    fn, sn = old - 1, new - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError("the consistency proof is too long")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("the consistency proof is too short")
    if fr != old_root:
        raise ProofError("the consistency proof does not lead to the old root")
    if sr != new_root:
        raise ProofError("the consistency proof does not lead to the new root")
