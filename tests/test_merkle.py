"""A batch's Merkle tree: the streamed root is the root every inclusion proof leads to."""

from __future__ import annotations

import hashlib

from hypothesis import given
from hypothesis import strategies as st

from darwaza.batches.merkle import inclusion_proof, merkle_root, verify_inclusion

digests = st.lists(
    st.binary(min_size=1, max_size=8).map(lambda b: hashlib.sha256(b).hexdigest()),
    min_size=1,
    max_size=70,
)


@given(digests)
def test_the_streamed_root_is_the_root_of_every_inclusion_proof(leaves: list[str]) -> None:
    root = merkle_root(iter(leaves))  # one pass, as over a database cursor
    for index in range(len(leaves)):
        proof = inclusion_proof(leaves, index)  # built level by level
        assert proof.root == root
        assert verify_inclusion(proof)


def test_one_leaf_more_or_less_or_out_of_order_changes_the_root() -> None:
    leaves = [hashlib.sha256(bytes([n])).hexdigest() for n in range(7)]
    root = merkle_root(leaves)
    assert merkle_root(leaves[:-1]) != root
    assert merkle_root([*leaves, leaves[0]]) != root
    assert merkle_root([leaves[1], leaves[0], *leaves[2:]]) != root
    assert merkle_root([]) is None
