"""A Merkle tree over a batch's document digests, as OpenAttestation batches documents.

Leaves and nodes are hashed with different prefixes (RFC 6962 section 2.1), so a leaf can
never pass for a node. An odd node at the end of a level is carried up unchanged. The
audit trail keeps only the root; an inclusion proof shows that one document's digest is
under that root without the other documents.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass


def document_digest(sd_jwt: str) -> str:
    """The digest of a document in its batch's tree: SHA-256 of its SD-JWT, hex."""
    return hashlib.sha256(sd_jwt.encode()).hexdigest()


def _leaf(digest: str) -> bytes:
    return hashlib.sha256(b"\x00" + bytes.fromhex(digest)).digest()


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def merkle_root(digests: Iterable[str]) -> str | None:
    """The root over ``digests`` in their order, or ``None`` for none.

    Streamed: it keeps one subtree root per level (about 20 for a million leaves), not the
    leaves. With the odd node carried up, the tree is its complete left subtrees, largest
    first, with the smaller ones on the right joined first: the stack folded right to
    left. The same root as building every level (tested against that).
    """
    stack: list[tuple[int, bytes]] = []  # (height, root of a complete subtree)
    for digest in digests:
        height, node = 0, _leaf(digest)
        while stack and stack[-1][0] == height:
            node = _node(stack.pop()[1], node)
            height += 1
        stack.append((height, node))
    if not stack:
        return None
    node = stack.pop()[1]
    while stack:
        node = _node(stack.pop()[1], node)
    return node.hex()


@dataclass(frozen=True)
class InclusionProof:
    """The siblings from a leaf up to the root; ``side`` says where each sibling sits."""

    index: int
    digest: str
    path: list[tuple[str, str]]  # (side "left" | "right", sibling hex)
    root: str


def inclusion_proof(digests: Sequence[str], index: int) -> InclusionProof:
    """The proof that ``digests[index]`` is under :func:`merkle_root` of ``digests``."""
    level = [_leaf(d) for d in digests]
    position = index
    path: list[tuple[str, str]] = []
    while len(level) > 1:
        sibling = position ^ 1
        if sibling < len(level):
            path.append(("left" if sibling < position else "right", level[sibling].hex()))
        level = [
            _node(level[i], level[i + 1]) if i + 1 < len(level) else level[i]
            for i in range(0, len(level), 2)
        ]
        position //= 2
    return InclusionProof(index, digests[index], path, level[0].hex())


def verify_inclusion(proof: InclusionProof) -> bool:
    """Whether the proof's path leads from its digest to its root."""
    node = _leaf(proof.digest)
    for side, sibling in proof.path:
        other = bytes.fromhex(sibling)
        node = _node(other, node) if side == "left" else _node(node, other)
    return node.hex() == proof.root
