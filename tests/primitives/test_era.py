import pytest
from hypothesis import given
from hypothesis import strategies as st
from scalecodec.base import ScaleBytes

from node.primitives.era import IMMORTAL, U64_MAX, Era, InvalidEra, decode_era
from node.primitives.scale import DecodeError, decode_all

from .oracle import legacy_config

block_numbers = st.integers(0, (1 << 32) - 1)


def _oracle_era():
    return legacy_config().create_scale_object("Era")


def test_immortal_is_one_zero_byte():
    assert IMMORTAL.encode() == b"\x00" == _oracle_era().encode("00").data
    assert decode_all(decode_era, b"\x00") is IMMORTAL


@given(period=st.integers(0, 1 << 17), current=block_numbers)
def test_mortal_eras_encode_like_scalecodec(period, current):
    era = Era.mortal(period, current)
    assert era.encode() == bytes(_oracle_era().encode({"period": period, "current": current}).data)
    assert decode_all(decode_era, era.encode()) == era == Era.decode(era.encode())


def test_every_two_byte_encoding_decodes_exactly_as_scalecodec_does():
    accepted = 0
    for value in range(1 << 16):
        data = value.to_bytes(2, "little")
        if data[0] == 0:
            continue  # a leading zero byte is Immortal, followed by one unrelated byte
        oracle = legacy_config().create_scale_object("Era", ScaleBytes(data))
        try:
            expected = oracle.decode()
        except ValueError:
            with pytest.raises(InvalidEra):
                decode_era(data, 0)
            continue
        era, end = decode_era(data, 0)
        assert (era.period, era.phase) == expected and end == 2
        assert era.encode() == data  # every accepted encoding is canonical
        accepted += 1
    assert accepted > 20000


@given(period=st.integers(0, 1 << 17), created=block_numbers, current=block_numbers)
def test_birth_and_death_match_scalecodec(period, created, current):
    era = Era.mortal(period, created)
    oracle = legacy_config().create_scale_object("Era", ScaleBytes(era.encode()))
    oracle.decode()
    assert era.birth(current) == oracle.birth(current)
    assert era.death(current) == oracle.death(current)


def test_mortal_period_is_rounded_up_to_a_power_of_two_and_clamped():
    assert Era.mortal(64, 1000) == Era(64, 1000 % 64)
    assert Era.mortal(65, 1000).period == 128
    assert Era.mortal(1, 5).period == 4
    assert Era.mortal(0, 5).period == 4
    assert Era.mortal(1 << 20, 5).period == 1 << 16


def test_long_periods_quantize_the_phase():
    era = Era.mortal(1 << 16, 12345)
    assert era.phase == 12345 // 16 * 16
    assert era.encode() == (15 | (12345 // 16) << 4).to_bytes(2, "little")


def test_birth_is_the_latest_block_in_phase_and_death_one_period_later():
    era = Era.mortal(64, 1000)  # phase 40
    assert era.birth(1000) == 1000 - 1000 % 64 + 40 == 1000
    assert era.birth(1023) == 1000 and era.death(1023) == 1064
    assert era.birth(1064) == 1064
    assert IMMORTAL.birth(1000) == 0 and IMMORTAL.death(1000) == U64_MAX


def test_transaction_can_go_in_any_block_after_its_birth_block():
    era = Era.mortal(64, 1000)  # born at 1000
    assert not era.is_valid_at(1000)  # its checkpoint must already exist
    assert all(era.is_valid_at(n) and era.birth(n) == 1000 for n in range(1001, 1064))
    assert era.birth(1064) != 1000  # from here the signed checkpoint no longer matches
    assert not Era.mortal(64, 40).is_valid_at(39)  # before the first block in phase
    assert IMMORTAL.is_valid_at(0) and IMMORTAL.is_valid_at(10**9)


@pytest.mark.parametrize(
    "period, phase",
    [(2, 0), (3, 0), (6, 0), (1 << 17, 0), (64, 64), (64, -1), (1 << 16, 5), (0, 1)],
)
def test_eras_substrate_would_not_encode_are_refused(period, phase):
    with pytest.raises(InvalidEra):
        Era(period, phase)


@pytest.mark.parametrize("data", [b"", b"\x05"])
def test_truncated_era_is_rejected(data):
    with pytest.raises(DecodeError):
        decode_era(data, 0)


def test_era_with_period_two_is_rejected():
    with pytest.raises(InvalidEra):
        decode_era(b"\x10\x00", 0)  # low nibble 0 means period 2
