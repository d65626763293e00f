"""The light client's checks: finality only with a valid justification, state only with a proof
that verifies against the finalized state root."""

import dataclasses

import pytest

from node.consensus.authorities import AuthoritySet
from node.light import LightClientError, verify_finalized, verify_read
from node.primitives.keys import Keypair
from tests.service.test_chain import account_key, open_chain

KEYS = [Keypair.from_uri(f"//V{i}", crypto="ed25519") for i in range(4)]
AUTHORITIES = AuthoritySet("ed25519", tuple(k.public_key for k in KEYS), 0, b"light-test")


def test_header_without_justification_is_not_final(tmp_path):
    chain = open_chain(tmp_path)
    built = chain.build_block([], timestamp_ms=1000, slot=1)
    with pytest.raises(LightClientError, match="without a justification"):
        verify_finalized(built.block.header, None, AUTHORITIES)


def test_garbage_justification_is_refused(tmp_path):
    chain = open_chain(tmp_path)
    built = chain.build_block([], timestamp_ms=1000, slot=1)
    with pytest.raises(LightClientError, match="does not verify"):
        verify_finalized(built.block.header, b"\x01\x02\x03", AUTHORITIES)


def test_tampered_read_proof_is_refused(tmp_path):
    from node.primitives.keys import dev_keypair

    chain = open_chain(tmp_path)
    header = chain.best
    key = account_key(chain, dev_keypair("Alice").public_key)
    proof = chain.state_at().read_proof([key])
    assert verify_read(header, proof, [key])[key] is not None
    tampered = [bytes([proof[0][0] ^ 1]) + proof[0][1:]] + proof[1:]
    with pytest.raises(LightClientError, match="does not verify"):
        verify_read(header, tampered, [key])
    with pytest.raises(LightClientError):
        verify_read(dataclasses.replace(header, state_root=bytes(32)), proof, [key])
