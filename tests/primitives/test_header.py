import pytest
from hypothesis import given
from hypothesis import strategies as st
from scalecodec.base import ScaleBytes

from node.primitives.hashing import blake2_256
from node.primitives.header import (
    CONSENSUS,
    OTHER,
    PRE_RUNTIME,
    RUNTIME_ENVIRONMENT_UPDATED,
    SEAL,
    Block,
    DigestItem,
    Header,
    InvalidHeader,
    extrinsics_root,
)
from node.primitives.scale import DecodeError, encode_compact

from .oracle import legacy_config

hashes = st.binary(min_size=32, max_size=32)
engines = st.binary(min_size=4, max_size=4)
payloads = st.binary(max_size=80)
digest_items = st.one_of(
    payloads.map(DigestItem.other),
    st.builds(DigestItem.consensus, engines, payloads),
    st.builds(DigestItem.seal, engines, payloads),
    st.builds(DigestItem.pre_runtime, engines, payloads),
    st.just(DigestItem.runtime_environment_updated()),
)
headers = st.builds(
    Header,
    hashes,
    st.integers(0, (1 << 32) - 1),
    hashes,
    hashes,
    st.lists(digest_items, max_size=4).map(tuple),
)

POLKADOT_GENESIS = Header(
    parent_hash=bytes(32),
    number=0,
    state_root=bytes.fromhex("29d0d972cd27cbc511e9589fcb7a4506d5eb6a9e8df205f00472e5ab354a4e17"),
    extrinsics_root=bytes.fromhex("03170a2e7597b7b7e3d84c05391d139a62b157e78786d8c082f29dcf4c111314"),
)


def _oracle_value(header: Header) -> dict:
    logs = []
    for item in header.digest:
        if item.kind == OTHER:
            logs.append({"Other": "0x" + item.data.hex()})
        elif item.kind == RUNTIME_ENVIRONMENT_UPDATED:
            logs.append({"RuntimeEnvironmentUpdated": None})
        else:
            name = {CONSENSUS: "Consensus", SEAL: "Seal", PRE_RUNTIME: "PreRuntime"}[item.kind]
            logs.append({name: {"engine": item.engine, "data": "0x" + item.data.hex()}})
    return {
        "parent_hash": "0x" + header.parent_hash.hex(),
        "number": header.number,
        "state_root": "0x" + header.state_root.hex(),
        "extrinsics_root": "0x" + header.extrinsics_root.hex(),
        "digest": {"logs": logs},
    }


def test_polkadot_genesis_header_hashes_to_the_polkadot_genesis_hash():
    assert POLKADOT_GENESIS.hash.hex() == "91b171bb158e2d3848fa23a9f1c25182fb8e20313b2c1eb49219da7a70ce90c3"


@given(headers)
def test_header_encoding_matches_scalecodec(header):
    oracle = legacy_config().create_scale_object("Header")
    assert header.encode() == bytes(oracle.encode(_oracle_value(header)).data)
    assert header.hash == blake2_256(header.encode())
    decoded = Header.decode(header.encode())
    assert decoded == header and decoded.hash == header.hash


def test_scalecodec_reads_our_digest_items_back():
    header = Header(
        bytes(32),
        26,
        bytes(32),
        bytes(32),
        (
            DigestItem.pre_runtime(b"pwat", b"\x01\x02"),
            DigestItem.consensus(b"pwat", b""),
            DigestItem.seal(b"pwat", b"\x05" * 64),
            DigestItem.other(b"\x07\x08"),
            DigestItem.runtime_environment_updated(),
        ),
    )
    value = legacy_config().create_scale_object("Header", ScaleBytes(header.encode())).decode()
    assert value["number"] == 26
    logs = value["digest"]["logs"]
    # scalecodec shows a variant without data as its bare name.
    names = [log if isinstance(log, str) else next(iter(log)) for log in logs]
    assert names == ["PreRuntime", "Consensus", "Seal", "Other", "RuntimeEnvironmentUpdated"]
    assert logs[2]["Seal"]["data"] == "0x" + "05" * 64


def test_json_form_matches_the_rpc_shape():
    header = Header(b"\x11" * 32, 26, b"\x22" * 32, b"\x33" * 32, (DigestItem.pre_runtime(b"aura", b"\x01"),))
    assert header.to_json() == {
        "parentHash": "0x" + "11" * 32,
        "number": "0x1a",
        "stateRoot": "0x" + "22" * 32,
        "extrinsicsRoot": "0x" + "33" * 32,
        "digest": {"logs": ["0x0661757261" + "04" + "01"]},
    }
    assert POLKADOT_GENESIS.to_json()["number"] == "0x0"


@given(headers)
def test_json_form_round_trips(header):
    assert Header.from_json(header.to_json()) == header


@pytest.mark.parametrize(
    "mutate",
    [
        lambda j: j.pop("stateRoot"),
        lambda j: j.update(number="twenty"),
        lambda j: j.update(number=None),
        lambda j: j.update(parentHash="11" * 32),  # no 0x
        lambda j: j.update(parentHash="0x11"),  # too short
        lambda j: j["digest"]["logs"].append("0x07"),  # unknown digest variant
        lambda j: j["digest"]["logs"].append("0x0004"),  # Other claiming one byte, carrying none
        lambda j: j.update(digest=[]),
    ],
)
def test_malformed_header_json_is_rejected(mutate):
    j = POLKADOT_GENESIS.to_json()
    mutate(j)
    with pytest.raises(InvalidHeader):
        Header.from_json(j)


def test_truncated_header_is_rejected():
    data = Header(bytes(32), 5, bytes(32), bytes(32), (DigestItem.other(b"abc"),)).encode()
    for end in range(len(data)):
        with pytest.raises(DecodeError):
            Header.decode(data[:end])


def test_header_with_trailing_bytes_is_rejected():
    with pytest.raises(DecodeError, match="trailing"):
        Header.decode(POLKADOT_GENESIS.encode() + b"\x00")


@pytest.mark.parametrize("variant", [1, 2, 3, 7, 9, 255])
def test_retired_or_unknown_digest_variants_are_rejected(variant):
    data = POLKADOT_GENESIS.encode()[:-1] + b"\x04" + bytes([variant]) + b"\x00" * 8
    with pytest.raises(InvalidHeader, match="variant"):
        Header.decode(data)


def test_block_number_beyond_u32_is_rejected():
    data = bytes(32) + encode_compact(1 << 32) + bytes(64) + b"\x00"
    with pytest.raises(InvalidHeader, match="u32"):
        Header.decode(data)


def test_digest_count_larger_than_the_input_is_rejected_before_decoding_items():
    data = POLKADOT_GENESIS.encode()[:-1] + encode_compact(1 << 29)
    with pytest.raises(InvalidHeader, match="count"):
        Header.decode(data)


@pytest.mark.parametrize(
    "args",
    [
        (OTHER, b"abcd", b""),  # Other carries no engine id
        (SEAL, b"abc", b""),  # engine ids are 4 bytes
        (RUNTIME_ENVIRONMENT_UPDATED, b"", b"x"),
        (3, b"", b""),
    ],
)
def test_digest_items_that_cannot_be_encoded_are_refused(args):
    with pytest.raises(ValueError):
        DigestItem(*args)


def test_header_hash_is_cached_and_equals_the_hash_of_its_bytes():
    header = Header(bytes(32), 1, bytes(32), bytes(32))
    assert header.hash is header.hash
    assert header.hash == blake2_256(header.encode())


def test_block_round_trips_and_keeps_each_extrinsic_with_its_prefix():
    xts = (encode_compact(3) + b"\x04\x00\x00", encode_compact(70) + b"\x04" + bytes(69))
    block = Block(POLKADOT_GENESIS, xts)
    data = block.encode()
    assert data == POLKADOT_GENESIS.encode() + b"\x08" + xts[0] + xts[1]
    assert Block.decode(data) == block
    assert block.hash == POLKADOT_GENESIS.hash
    assert block.to_json()["extrinsics"] == ["0x" + xt.hex() for xt in xts]
    assert Block.from_json(block.to_json()) == block


def test_block_with_an_extrinsic_longer_than_the_input_is_rejected():
    data = POLKADOT_GENESIS.encode() + b"\x04" + encode_compact(10) + b"\x04\x00"
    with pytest.raises(InvalidHeader):
        Block.decode(data)


def test_block_with_trailing_bytes_is_rejected():
    with pytest.raises(DecodeError, match="trailing"):
        Block.decode(Block(POLKADOT_GENESIS, (b"\x08\x04\x00",)).encode() + b"\x00")


def test_block_json_extrinsic_whose_prefix_lies_is_rejected():
    j = Block(POLKADOT_GENESIS, (b"\x08\x04\x00",)).to_json()
    j["extrinsics"][0] += "00"
    with pytest.raises(InvalidHeader):
        Block.from_json(j)
    j["extrinsics"][0] = "0x"
    with pytest.raises(InvalidHeader):
        Block.from_json(j)


def test_extrinsics_root_keys_each_extrinsic_by_its_compact_index():
    seen = []

    def trie_root(items):
        seen.extend(items)
        return b"\xaa" * 32

    xts = [bytes([i]) * 3 for i in range(70)]
    assert extrinsics_root(xts, trie_root) == b"\xaa" * 32
    assert seen == [(encode_compact(i), xts[i]) for i in range(70)]
    assert seen[64][0] == b"\x01\x01"  # two-byte compact past 63
