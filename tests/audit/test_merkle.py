"""RFC 9162 hashing and proofs: reference vectors, every tree shape, every one-byte mutation."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from sync_server.audit import merkle

VECTORS = json.loads((Path(__file__).parent / "rfc6962-vectors.json").read_text())
LEAVES = [merkle.leaf_hash(bytes.fromhex(x)) for x in VECTORS["leaves"]]
ROOTS = [bytes.fromhex(x) for x in VECTORS["roots"]]


@pytest.mark.parametrize("size", range(len(ROOTS)))
def test_roots_match_the_reference_vectors(size):
    assert merkle.root_of(LEAVES[:size]) == ROOTS[size]


@pytest.mark.parametrize("case", VECTORS["inclusion"], ids=lambda c: f"{c['index']}-in-{c['size']}")
def test_inclusion_proofs_match_the_reference_vectors(case):
    tree = merkle.MemoryTree(LEAVES)
    proof = [bytes.fromhex(h) for h in case["proof"]]
    assert tree.inclusion_proof(case["index"], case["size"]) == proof
    merkle.verify_inclusion(case["index"], case["size"], LEAVES[case["index"]], proof, ROOTS[case["size"]])


@pytest.mark.parametrize("case", VECTORS["consistency"], ids=lambda c: f"{c['first']}-to-{c['second']}")
def test_consistency_proofs_match_the_reference_vectors(case):
    tree = merkle.MemoryTree(LEAVES)
    proof = [bytes.fromhex(h) for h in case["proof"]]
    assert tree.consistency_proof(case["first"], case["second"]) == proof
    merkle.verify_consistency(case["first"], case["second"], ROOTS[case["first"]], ROOTS[case["second"]], proof)


def _tree(n: int) -> merkle.MemoryTree:
    return merkle.MemoryTree(merkle.leaf_hash(hashlib.sha256(str(i).encode()).digest()) for i in range(n))


def test_every_inclusion_and_consistency_proof_verifies_in_every_tree_up_to_40():
    tree = _tree(40)
    for size in range(1, 41):
        root = tree.root(size)
        for index in range(size):
            merkle.verify_inclusion(index, size, tree.node(0, index), tree.inclusion_proof(index, size), root)
        for old in range(size + 1):
            merkle.verify_consistency(old, size, tree.root(old), root, tree.consistency_proof(old, size))


def test_the_frontier_survives_its_text_form_and_roots_like_a_full_recompute():
    frontier = merkle.Frontier()
    leaves = [merkle.leaf_hash(bytes([i])) for i in range(77)]
    for i, leaf in enumerate(leaves):
        frontier = merkle.Frontier.from_hex(frontier.size, frontier.to_hex())
        frontier.append(leaf)
        assert frontier.root() == merkle.MemoryTree(leaves[:i + 1]).root()


def _mutations(blob: bytes):
    for i in range(len(blob)):
        for flip in (0x01, 0x80, 0xFF):
            yield blob[:i] + bytes([blob[i] ^ flip]) + blob[i + 1:]


def _split(blob: bytes) -> list[bytes]:
    return [blob[i:i + 32] for i in range(0, len(blob), 32)]


@pytest.mark.parametrize("index,size", [(0, 1 + 12), (5, 13), (12, 13), (7, 8), (3, 21)])
def test_every_one_byte_mutation_of_an_inclusion_proof_is_rejected(index, size):
    tree = _tree(size)
    leaf, root = tree.node(0, index), tree.root(size)
    blob = b"".join(tree.inclusion_proof(index, size))
    merkle.verify_inclusion(index, size, leaf, _split(blob), root)
    for mutated in _mutations(blob):
        with pytest.raises(merkle.ProofError):
            merkle.verify_inclusion(index, size, leaf, _split(mutated), root)
    for shorter in (blob[:-32], blob + blob[-32:], blob[:-1]):
        with pytest.raises(merkle.ProofError):
            merkle.verify_inclusion(index, size, leaf, _split(shorter), root)


@pytest.mark.parametrize("old,new", [(1, 13), (4, 13), (6, 8), (7, 21), (12, 13)])
def test_every_one_byte_mutation_of_a_consistency_proof_is_rejected(old, new):
    tree = _tree(new)
    blob = b"".join(tree.consistency_proof(old, new))
    merkle.verify_consistency(old, new, tree.root(old), tree.root(new), _split(blob))
    for mutated in _mutations(blob):
        with pytest.raises(merkle.ProofError):
            merkle.verify_consistency(old, new, tree.root(old), tree.root(new), _split(mutated))
    for other in (blob[:-32], blob + blob[-32:], blob[:-1]):
        with pytest.raises(merkle.ProofError):
            merkle.verify_consistency(old, new, tree.root(old), tree.root(new), _split(other))


def test_a_proof_for_one_leaf_does_not_prove_another():
    tree = _tree(9)
    proof = tree.inclusion_proof(3, 9)
    for index in (2, 4, 8):
        with pytest.raises(merkle.ProofError):
            merkle.verify_inclusion(index, 9, tree.node(0, 3), proof, tree.root(9))


def test_a_smaller_new_size_or_a_forked_root_is_refused():
    tree = _tree(9)
    with pytest.raises(merkle.ProofError):
        merkle.verify_consistency(9, 5, tree.root(9), tree.root(5), [])
    with pytest.raises(merkle.ProofError, match="forked"):
        merkle.verify_consistency(9, 9, tree.root(9), tree.root(8), [])
