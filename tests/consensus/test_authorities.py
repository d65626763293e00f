"""The authority set: quorum arithmetic, membership, and its codec."""

import pytest

from node.consensus.authorities import AuthoritySet, InvalidAuthoritySet
from node.primitives.scale import DecodeError
from tests.consensus.sim import keypairs


def keys(n):
    return tuple(bytes([i + 1]) * 32 for i in range(n))


@pytest.mark.parametrize(
    "n, threshold, faulty",
    [(1, 1, 0), (2, 2, 0), (3, 3, 0), (4, 3, 1), (5, 4, 1), (6, 5, 1), (7, 5, 2), (10, 7, 3), (100, 67, 33)],
)
def test_threshold_is_more_than_two_thirds_and_tolerates_f_below_a_third(n, threshold, faulty):
    s = AuthoritySet("sr25519", keys(n))
    assert (s.threshold, s.max_faulty) == (threshold, faulty)
    assert 3 * s.threshold > 2 * n and 3 * (s.threshold - 1) <= 2 * n
    assert 3 * s.max_faulty < n
    # Two quorums always share an honest authority.
    assert 2 * s.threshold - n >= s.max_faulty + 1


def test_rotation_is_by_position_modulo_the_set_size():
    s = AuthoritySet("ed25519", keys(4))
    assert [s.at(i) for i in range(6)] == [*keys(4), keys(4)[0], keys(4)[1]]
    assert s.index_of(keys(4)[2]) == 2 and keys(4)[3] in s and bytes(32) not in s


@pytest.mark.parametrize(
    "kw",
    [
        {"crypto": "ecdsa", "keys": keys(2)},
        {"crypto": "sr25519", "keys": ()},
        {"crypto": "sr25519", "keys": (bytes(31),)},
        {"crypto": "sr25519", "keys": (bytes(32), bytes(32))},
        {"crypto": "sr25519", "keys": keys(1), "set_id": 1 << 64},
        {"crypto": "sr25519", "keys": keys(1), "chain_id": bytes(65)},
    ],
)
def test_authority_set_rejected_if_malformed(kw):
    with pytest.raises(InvalidAuthoritySet):
        AuthoritySet(**kw)


def test_authority_set_of_keypairs_requires_one_crypto():
    with pytest.raises(InvalidAuthoritySet):
        AuthoritySet.of([keypairs(1, "ed25519")[0], keypairs(1, "sr25519")[0]])


def test_codec_round_trips_and_context_commits_to_chain_and_set():
    s = AuthoritySet("ed25519", keys(3), set_id=7, chain_id=b"relay")
    assert AuthoritySet.decode(s.encode()) == s
    assert s.context != AuthoritySet("ed25519", keys(3), set_id=8, chain_id=b"relay").context
    assert s.context != AuthoritySet("ed25519", keys(3), set_id=7, chain_id=b"dg").context


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x05\x04" + bytes(32),  # unknown crypto code
        b"\x01\x08" + bytes(32),  # two keys announced, one given
        b"\x01\x08" + bytes(64) + bytes(8) + b"\x00",  # duplicate keys
        b"\x01\x04" + bytes(32) + bytes(8) + b"\x00\x00",  # trailing byte
    ],
)
def test_authority_set_decode_rejects_malformed_bytes(data):
    with pytest.raises(DecodeError):
        AuthoritySet.decode(data)
