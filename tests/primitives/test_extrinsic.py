import pytest
from hypothesis import given
from hypothesis import strategies as st
from substrateinterface import Keypair as OracleKeypair
from substrateinterface import KeypairType

from node.primitives.era import IMMORTAL, Era
from node.primitives.extrinsic import (
    SIGNED_EXTENSIONS,
    InvalidExtrinsic,
    UncheckedExtrinsic,
    UnsupportedAddress,
    UnsupportedSignature,
    decode_extrinsic,
    encode_signed,
    encode_unsigned,
    sign_extrinsic,
    signing_payload,
    verify_extrinsic_signature,
)
from node.primitives.hashing import blake2_256
from node.primitives.keys import DEV_ACCOUNTS, ED25519, SR25519, dev_keypair
from node.primitives.scale import DecodeError, encode_compact

from .oracle import (
    BALANCES_INDEX,
    SPEC_VERSION,
    TX_VERSION,
    OfflineSubstrate,
    decode_with_scalecodec,
    make_chain,
)

CHAIN = make_chain(1100)
GENESIS = CHAIN[0].hash
BOB = DEV_ACCOUNTS["Bob"]
TRANSFER = bytes([BALANCES_INDEX, 3, 0]) + BOB.public_key + encode_compact(10**12)


@pytest.fixture(scope="module")
def substrate():
    return OfflineSubstrate(CHAIN)


def _oracle_keypair(crypto):
    if crypto == SR25519:
        return OracleKeypair.create_from_uri("//Alice")
    # substrate-interface cannot derive ed25519 paths; hand it the seed of ed25519 //Alice.
    seed = dev_keypair("Alice", ED25519).secret.hex()
    return OracleKeypair.create_from_seed(seed, crypto_type=KeypairType.ED25519)


def _oracle_signed(substrate, crypto, era=None, nonce=0, tip=0, remark=None):
    if remark is None:
        args = {"dest": BOB.ss58_address, "value": 10**12}
        call = substrate.compose_call("Balances", "transfer_keep_alive", args)
    else:
        call = substrate.compose_call("System", "remark", {"remark": "0x" + remark.hex()})
    xt = substrate.create_signed_extrinsic(call, _oracle_keypair(crypto), era=era, nonce=nonce, tip=tip)
    return bytes(xt.data.data), bytes(call.data.data)


@pytest.mark.parametrize("crypto", [SR25519, ED25519])
@pytest.mark.parametrize(
    "era, nonce, tip",
    [
        (None, 0, 0),
        ({"period": 64, "current": 1000}, 5, 7),
        ({"period": 4096, "current": 1099}, 2**32 - 1, 2**100),
    ],
)
def test_extrinsics_signed_by_substrate_interface_decode_and_verify(substrate, crypto, era, nonce, tip):
    data, call = _oracle_signed(substrate, crypto, era=era and dict(era), nonce=nonce, tip=tip)
    xt = decode_extrinsic(data)
    expected_era = IMMORTAL if era is None else Era.mortal(era["period"], era["current"])
    assert xt.signer == dev_keypair("Alice", crypto).public_key
    assert (xt.crypto, xt.era, xt.nonce, xt.tip, xt.call) == (crypto, expected_era, nonce, tip, call)
    assert xt.hash == blake2_256(data) and xt.encode() == data
    checkpoint = GENESIS if era is None else CHAIN[expected_era.birth(era["current"])].hash
    assert verify_extrinsic_signature(xt, SPEC_VERSION, TX_VERSION, GENESIS, checkpoint)


@pytest.mark.parametrize("crypto", [SR25519, ED25519])
def test_payloads_over_256_bytes_are_signed_by_hash_like_substrate_interface(substrate, crypto):
    data, call = _oracle_signed(substrate, crypto, remark=b"x" * 300)
    xt = decode_extrinsic(data)
    assert len(signing_payload(xt.call, xt.era, 0, 0, SPEC_VERSION, TX_VERSION, GENESIS, GENESIS)) == 32
    assert verify_extrinsic_signature(xt, SPEC_VERSION, TX_VERSION, GENESIS)


def test_payload_of_exactly_256_bytes_is_signed_as_is():
    extra_and_additional = 3 + 8 + 64
    call = b"\x00\x00" + bytes(256 - extra_and_additional - 2)
    assert len(signing_payload(call, IMMORTAL, 0, 0, 1, 1, GENESIS, GENESIS)) == 256
    assert len(signing_payload(call + b"\x00", IMMORTAL, 0, 0, 1, 1, GENESIS, GENESIS)) == 32


@pytest.mark.parametrize("era", [IMMORTAL, Era.mortal(64, 1000), Era.mortal(128, 1099)])
def test_ed25519_extrinsic_is_byte_identical_to_substrate_interfaces(substrate, era):
    # ed25519 signatures are deterministic, so the whole extrinsic must match byte for byte.
    current = 1000 if era.period == 64 else 1099
    oracle_era = None if era.is_immortal else {"period": era.period, "current": current}
    expected, call = _oracle_signed(substrate, ED25519, era=oracle_era, nonce=9, tip=1)
    checkpoint = GENESIS if era.is_immortal else CHAIN[era.birth(current)].hash
    alice = dev_keypair("Alice", ED25519)
    ours = sign_extrinsic(alice, call, 9, era, 1, SPEC_VERSION, TX_VERSION, GENESIS, checkpoint)
    assert ours == expected


@pytest.mark.parametrize("crypto", [SR25519, ED25519])
def test_our_signed_extrinsics_decode_in_scalecodec_and_verify_in_substrate_interface(substrate, crypto):
    era = Era.mortal(64, 1050)
    checkpoint = CHAIN[era.birth(1050)].hash
    signer = dev_keypair("Alice", crypto)
    data = sign_extrinsic(signer, TRANSFER, 3, era, 11, SPEC_VERSION, TX_VERSION, GENESIS, checkpoint)
    value = decode_with_scalecodec(substrate, data)
    assert value["address"] == signer.ss58_address
    assert value["era"] == (64, era.phase) and value["nonce"] == 3 and value["tip"] == 11
    call = value["call"]
    assert (call["call_module"], call["call_function"]) == ("Balances", "transfer_keep_alive")
    assert value["extrinsic_hash"] == "0x" + blake2_256(data).hex()
    signature = bytes.fromhex(value["signature"]["Sr25519" if crypto == SR25519 else "Ed25519"][2:])
    payload = signing_payload(TRANSFER, era, 3, 11, SPEC_VERSION, TX_VERSION, GENESIS, checkpoint)
    assert _oracle_keypair(crypto).verify(payload, signature)


def test_unsigned_extrinsic_matches_substrate_interface(substrate):
    call = substrate.compose_call("System", "remark", {"remark": "0x0102"})
    expected = bytes(substrate.create_unsigned_extrinsic(call).data.data)
    assert encode_unsigned(bytes(call.data.data)) == expected
    xt = decode_extrinsic(expected)
    assert not xt.is_signed and xt.call == bytes(call.data.data) and xt.hash == blake2_256(expected)
    assert not verify_extrinsic_signature(xt, SPEC_VERSION, TX_VERSION, GENESIS)


def test_extension_names_are_frames_canonical_order():
    assert SIGNED_EXTENSIONS == (
        "CheckNonZeroSender",
        "CheckSpecVersion",
        "CheckTxVersion",
        "CheckGenesis",
        "CheckMortality",
        "CheckNonce",
        "CheckWeight",
        "ChargeTransactionPayment",
    )


# ---- hostile input -------------------------------------------------------------------------


def _signed(crypto=SR25519, era=IMMORTAL, nonce=1, tip=0, call=TRANSFER):
    checkpoint = GENESIS if era.is_immortal else CHAIN[1000].hash
    keypair = dev_keypair("Alice", crypto)
    return sign_extrinsic(keypair, call, nonce, era, tip, SPEC_VERSION, TX_VERSION, GENESIS, checkpoint)


def _body(data: bytes) -> bytes:
    return data[2:]  # every extrinsic built here has a two-byte length prefix


def test_truncated_extrinsic_is_rejected():
    data = _signed()
    for end in range(len(data)):
        with pytest.raises(InvalidExtrinsic):
            decode_extrinsic(data[:end])


def test_extrinsic_cut_short_with_a_matching_length_prefix_is_rejected():
    body = _body(_signed())
    for end in range(1, 35 + 64 + 3 + 2):  # up to the first two bytes of the call
        with pytest.raises(InvalidExtrinsic):
            decode_extrinsic(encode_compact(end) + body[:end])


def test_extrinsic_with_trailing_bytes_is_rejected():
    with pytest.raises(InvalidExtrinsic, match="trailing"):
        decode_extrinsic(_signed() + b"\x00")


def test_extrinsic_with_a_non_canonical_length_prefix_is_rejected():
    body = _body(encode_unsigned(b"\x00\x00"))
    with pytest.raises(InvalidExtrinsic, match="length prefix"):
        decode_extrinsic((len(body) << 2 | 1).to_bytes(2, "little") + body)


@pytest.mark.parametrize("version", [0x00, 0x03, 0x05, 0x83, 0x85, 0xFF])
def test_extrinsic_with_a_version_other_than_4_is_rejected(version):
    body = bytearray(_body(_signed()))
    body[0] = version
    with pytest.raises(InvalidExtrinsic, match="version"):
        decode_extrinsic(encode_compact(len(body)) + bytes(body))


@pytest.mark.parametrize("variant", [1, 2, 3, 4])
def test_signer_given_as_a_multiaddress_other_than_id_is_unsupported(variant):
    body = bytearray(_body(_signed()))
    body[1] = variant
    with pytest.raises(UnsupportedAddress):
        decode_extrinsic(encode_compact(len(body)) + bytes(body))


def test_unknown_multiaddress_variant_is_rejected():
    body = bytearray(_body(_signed()))
    body[1] = 5
    with pytest.raises(InvalidExtrinsic, match="MultiAddress") as info:
        decode_extrinsic(encode_compact(len(body)) + bytes(body))
    assert not isinstance(info.value, UnsupportedAddress)


def test_ecdsa_signature_decodes_as_unsupported():
    body = bytearray(_body(_signed()))
    body[34] = 2
    body[35 + 64 : 35 + 64] = b"\x00"  # 65-byte ECDSA signature
    with pytest.raises(UnsupportedSignature):
        decode_extrinsic(encode_compact(len(body)) + bytes(body))


@pytest.mark.parametrize("variant", [3, 0x80, 0xFF])
def test_unknown_multisignature_variant_is_rejected(variant):
    body = bytearray(_body(_signed()))
    body[34] = variant
    with pytest.raises(InvalidExtrinsic, match="MultiSignature"):
        decode_extrinsic(encode_compact(len(body)) + bytes(body))


def test_extrinsic_with_an_invalid_era_is_rejected():
    body = bytearray(_body(_signed(era=Era.mortal(64, 1000))))
    body[99] &= 0xF0  # period 2
    with pytest.raises(InvalidExtrinsic, match="era"):
        decode_extrinsic(encode_compact(len(body)) + bytes(body))


def test_nonce_beyond_u32_is_rejected():
    valid = _body(_signed())
    body = valid[:100] + encode_compact(1 << 32) + valid[101:]
    with pytest.raises(InvalidExtrinsic, match="nonce"):
        decode_extrinsic(encode_compact(len(body)) + body)


def test_tip_beyond_u128_is_rejected():
    valid = _body(_signed())
    body = valid[:101] + encode_compact(1 << 128) + valid[102:]
    with pytest.raises(InvalidExtrinsic, match="tip"):
        decode_extrinsic(encode_compact(len(body)) + body)


def test_unsigned_extrinsic_without_a_call_is_rejected():
    for call in (b"", b"\x00"):
        with pytest.raises(InvalidExtrinsic, match="call"):
            decode_extrinsic(encode_unsigned(call))
    with pytest.raises(InvalidExtrinsic, match="empty"):
        decode_extrinsic(b"\x00")


@pytest.mark.parametrize("crypto", [SR25519, ED25519])
def test_signature_with_a_flipped_bit_does_not_verify(crypto):
    data = bytearray(_signed(crypto))
    data[2 + 35 + 10] ^= 1
    assert not verify_extrinsic_signature(decode_extrinsic(bytes(data)), SPEC_VERSION, TX_VERSION, GENESIS)


@pytest.mark.parametrize("crypto", [SR25519, ED25519])
def test_signature_does_not_verify_for_another_chain_runtime_or_checkpoint(crypto):
    era = Era.mortal(64, 1000)
    checkpoint = CHAIN[1000].hash
    alice = dev_keypair("Alice", crypto)
    xt = decode_extrinsic(
        sign_extrinsic(alice, TRANSFER, 0, era, 0, SPEC_VERSION, TX_VERSION, GENESIS, checkpoint)
    )
    assert verify_extrinsic_signature(xt, SPEC_VERSION, TX_VERSION, GENESIS, checkpoint)
    wrong_genesis = CHAIN[1].hash
    assert not verify_extrinsic_signature(xt, SPEC_VERSION, TX_VERSION, wrong_genesis, checkpoint)
    assert not verify_extrinsic_signature(xt, SPEC_VERSION + 1, TX_VERSION, GENESIS, checkpoint)
    assert not verify_extrinsic_signature(xt, SPEC_VERSION, TX_VERSION + 1, GENESIS, checkpoint)
    assert not verify_extrinsic_signature(xt, SPEC_VERSION, TX_VERSION, GENESIS, CHAIN[999].hash)


def test_tampered_fields_break_the_signature():
    valid = _body(_signed(nonce=1, tip=0))
    for offset, value in ((100, 2 << 2), (101, 1 << 2), (len(valid) - 1, 0)):  # nonce, tip, call
        body = bytearray(valid)
        body[offset] = value
        xt = decode_extrinsic(encode_compact(len(body)) + bytes(body))
        assert not verify_extrinsic_signature(xt, SPEC_VERSION, TX_VERSION, GENESIS)


def test_signature_by_someone_else_does_not_verify_for_the_named_signer():
    body = bytearray(_body(_signed()))
    body[2:34] = BOB.public_key
    xt = decode_extrinsic(encode_compact(len(body)) + bytes(body))
    assert xt.signer == BOB.public_key
    assert not verify_extrinsic_signature(xt, SPEC_VERSION, TX_VERSION, GENESIS)


def test_mortal_extrinsic_needs_an_explicit_checkpoint():
    assert verify_extrinsic_signature(decode_extrinsic(_signed()), SPEC_VERSION, TX_VERSION, GENESIS)
    mortal = decode_extrinsic(_signed(era=Era.mortal(64, 1000)))
    with pytest.raises(ValueError, match="checkpoint"):
        verify_extrinsic_signature(mortal, SPEC_VERSION, TX_VERSION, GENESIS)
    with pytest.raises(ValueError, match="checkpoint"):
        sign_extrinsic(DEV_ACCOUNTS["Alice"], TRANSFER, 0, Era.mortal(64, 1000), 0, 1, 1, GENESIS)


@given(st.binary(max_size=300))
def test_arbitrary_bytes_either_decode_or_raise_invalid_extrinsic(data):
    try:
        xt = decode_extrinsic(data)
    except InvalidExtrinsic:
        return
    assert xt.encode() == data


@given(st.binary(min_size=2, max_size=200))
def test_arbitrary_bodies_behind_a_valid_prefix_either_decode_or_raise_invalid_extrinsic(body):
    body = b"\x84\x00" + body
    try:
        decode_extrinsic(encode_compact(len(body)) + body)
    except InvalidExtrinsic:
        pass


@given(
    crypto=st.sampled_from([SR25519, ED25519]),
    period=st.integers(0, 1 << 16),
    current=st.integers(0, 10**6),
    nonce=st.integers(0, 2**32 - 1),
    tip=st.integers(0, 2**128 - 1),
    call=st.binary(min_size=2, max_size=400),
)
def test_encode_signed_round_trips(crypto, period, current, nonce, tip, call):
    era = IMMORTAL if period == 0 else Era.mortal(period, current)
    data = encode_signed(dev_keypair("Alice", crypto).public_key, crypto, b"\x01" * 64, era, nonce, tip, call)
    xt = decode_extrinsic(data)
    assert xt == UncheckedExtrinsic(
        dev_keypair("Alice", crypto).public_key,
        crypto,
        b"\x01" * 64,
        era,
        nonce,
        tip,
        call,
        era.encode() + encode_compact(nonce) + encode_compact(tip),
        blake2_256(data),
        data,
    )


def test_invalid_extrinsic_is_a_decode_error():
    assert issubclass(UnsupportedAddress, InvalidExtrinsic)
    assert issubclass(UnsupportedSignature, InvalidExtrinsic)
    assert issubclass(InvalidExtrinsic, DecodeError)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"signer": bytes(31)},
        {"signature": bytes(65)},
        {"crypto": "ecdsa"},
        {"nonce": 2**32},
        {"nonce": -1},
        {"tip": 2**128},
    ],
)
def test_encode_signed_refuses_values_that_would_not_decode(kwargs):
    args = {
        "signer": bytes(32),
        "crypto": SR25519,
        "signature": bytes(64),
        "era": IMMORTAL,
        "nonce": 0,
        "tip": 0,
        "call": TRANSFER,
    }
    args.update(kwargs)
    with pytest.raises(ValueError):
        encode_signed(**args)
