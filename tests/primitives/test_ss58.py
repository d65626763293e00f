from hashlib import blake2b

import base58
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scalecodec.utils.ss58 import ss58_decode as oracle_decode
from scalecodec.utils.ss58 import ss58_encode as oracle_encode

from node.primitives.scale import DecodeError
from node.primitives.ss58 import InvalidAddress, ss58_decode, ss58_encode

ALICE = bytes.fromhex("d43593c715fdd31c61141abd04a99fd6822c8558854ccde39a5684e7a56da27d")

def _with_checksum(data: bytes) -> str:
    """base58 of data ++ its valid SS58 checksum, whatever data holds."""
    return base58.b58encode(data + blake2b(b"SS58PRE" + data, digest_size=64).digest()[:2]).decode()


prefixes = st.integers(0, 16383).filter(lambda p: p not in (46, 47))


def test_alice_has_the_well_known_generic_substrate_address():
    assert ss58_encode(ALICE) == "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY"
    assert ss58_decode("5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY") == (42, ALICE)


@given(public=st.binary(min_size=32, max_size=32), prefix=prefixes)
def test_encoding_matches_scalecodec_for_simple_and_full_prefixes(public, prefix):
    address = ss58_encode(public, prefix)
    assert address == oracle_encode(public, ss58_format=prefix)
    assert ss58_decode(address) == (prefix, public)
    assert oracle_decode(address) == public.hex()


@given(public=st.binary(min_size=33, max_size=33), prefix=prefixes)
def test_33_byte_ecdsa_keys_round_trip(public, prefix):
    address = ss58_encode(public, prefix)
    assert address == oracle_encode(public, ss58_format=prefix)
    assert ss58_decode(address) == (prefix, public)


def test_address_with_bad_checksum_is_rejected():
    raw = bytearray(base58.b58decode(ss58_encode(ALICE)))
    raw[-1] ^= 1
    with pytest.raises(InvalidAddress, match="checksum"):
        ss58_decode(base58.b58encode(bytes(raw)).decode())


def test_address_with_a_changed_key_byte_is_rejected():
    raw = bytearray(base58.b58decode(ss58_encode(ALICE)))
    raw[5] ^= 0x80
    with pytest.raises(InvalidAddress):
        ss58_decode(base58.b58encode(bytes(raw)).decode())


@pytest.mark.parametrize("payload_len", [0, 1, 8, 31, 34, 64])
def test_address_with_a_payload_of_the_wrong_length_is_rejected_even_with_a_valid_checksum(payload_len):
    with pytest.raises(InvalidAddress, match="fits no known payload"):
        ss58_decode(_with_checksum(bytes([42]) + bytes(range(payload_len))))


@pytest.mark.parametrize(
    "text", ["", "0OIl" * 12, "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQ!", "ä" * 48]
)
def test_text_that_is_not_base58_is_rejected(text):
    with pytest.raises(InvalidAddress):
        ss58_decode(text)


def test_prefix_bytes_of_128_and_above_are_rejected():
    with pytest.raises(InvalidAddress, match="prefix byte"):
        ss58_decode(_with_checksum(bytes([0x80, 0]) + ALICE))


@pytest.mark.parametrize("prefix", [46, 47])
def test_reserved_prefixes_are_refused_both_ways(prefix):
    with pytest.raises(ValueError):
        ss58_encode(ALICE, prefix)
    with pytest.raises(InvalidAddress, match="reserved"):
        ss58_decode(_with_checksum(bytes([prefix]) + ALICE))


def test_an_address_for_another_network_is_rejected_when_a_prefix_is_expected():
    polkadot = ss58_encode(ALICE, 0)
    assert ss58_decode(polkadot, expected_prefix=0) == (0, ALICE)
    with pytest.raises(InvalidAddress, match="expected 42"):
        ss58_decode(polkadot, expected_prefix=42)


def test_invalid_address_is_a_decode_error():
    assert issubclass(InvalidAddress, DecodeError)


@pytest.mark.parametrize("prefix", [-1, 16384])
def test_prefix_out_of_range_cannot_be_encoded(prefix):
    with pytest.raises(ValueError):
        ss58_encode(ALICE, prefix)
