import bip39
import pytest
from substrateinterface import Keypair as OracleKeypair
from substrateinterface import KeypairType

from node.primitives.keys import (
    DEV_ACCOUNT_NAMES,
    DEV_ACCOUNTS,
    DEV_PHRASE,
    ED25519,
    SR25519,
    InvalidKey,
    Keypair,
    dev_keypair,
    junction_chain_code,
    verify_signature,
)
from node.primitives.scale import encode_bytes

# `subkey inspect --scheme ed25519 //Name` (polkadot-sdk's dev GRANDPA authorities).
ED25519_DEV_PUBLIC = {
    "Alice": "88dc3417d5058ec4b4503e0c12ea1a0a89be200fe98922423d4334014fa6b0ee",
    "Bob": "d17c2d7823ebf260fd138f2d7e27d114c0145d968b5ff5006125f2414fadae69",
    "Charlie": "439660b36c6c03afafca027b910b4fecf99801834c62a5e6006f27d978de234f",
    "Dave": "5e639b43e0052c47447dac87d6fd2b6ec50bdd4d0f614e4299c665249bbd09d9",
    "Eve": "1dfe3e22cc0d45c70779c1095f7489a8ef3cf52d62fbd8c2fa38c9f1723502b5",
}
ALICE_ED25519_SEED = "abf8e5bdbe30c65656c0a3cbd181ff8a56294a69dfedd27982aace4a76909115"
OTHER_PHRASE = "legal winner thank year wave sausage worth useful legal winner thank yellow"


def test_alice_sr25519_has_the_well_known_address():
    assert DEV_ACCOUNTS["Alice"].ss58_address == "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY"


@pytest.mark.parametrize("name", DEV_ACCOUNT_NAMES)
def test_sr25519_dev_accounts_match_substrate_interface(name):
    oracle = OracleKeypair.create_from_uri(f"//{name}")
    ours = DEV_ACCOUNTS[name]
    assert ours.crypto == SR25519
    assert (ours.public_key, ours.ss58_address) == (oracle.public_key, oracle.ss58_address)


@pytest.mark.parametrize("name", ED25519_DEV_PUBLIC)
def test_ed25519_dev_accounts_match_subkey(name):
    assert dev_keypair(name, ED25519).public_key.hex() == ED25519_DEV_PUBLIC[name]


def test_ed25519_hard_derivation_gives_subkeys_secret_seed():
    assert Keypair.from_uri("//Alice", ED25519).secret.hex() == ALICE_ED25519_SEED


@pytest.mark.parametrize("phrase", [DEV_PHRASE, OTHER_PHRASE])
@pytest.mark.parametrize("crypto", [SR25519, ED25519])
def test_keys_from_a_bare_mnemonic_match_substrate_interface(phrase, crypto):
    oracle_type = KeypairType.SR25519 if crypto == SR25519 else KeypairType.ED25519
    oracle = OracleKeypair.create_from_uri(phrase, crypto_type=oracle_type)
    assert Keypair.from_uri(phrase, crypto).public_key == oracle.public_key
    assert Keypair.from_mnemonic(phrase, crypto).public_key == oracle.public_key


@pytest.mark.parametrize(
    "path",
    [
        "//Alice/stash",
        "//Alice//stash",
        "/soft",
        "/1/2//3",
        "//0",
        "//18446744073709551615",  # u64::MAX is still a number
        "//a junction name that is longer than thirty-two bytes",  # chain code = blake2_256
        "//a/b/c//d/e",
    ],
)
def test_sr25519_soft_and_hard_paths_match_substrate_interface(path):
    assert Keypair.from_uri(path).public_key == OracleKeypair.create_from_uri(path).public_key
    phrase_path = OTHER_PHRASE + path
    assert Keypair.from_uri(phrase_path).public_key == OracleKeypair.create_from_uri(phrase_path).public_key


def test_junction_chain_codes_follow_derive_junction_from_str():
    # Numbers that parse as u64 (Rust's parser takes a leading "+") are encoded as u64 LE…
    assert junction_chain_code("5") == (5).to_bytes(8, "little").ljust(32, b"\0")
    assert junction_chain_code("+5") == junction_chain_code("5") == junction_chain_code("005")
    # …anything else, including numbers past u64::MAX, as a SCALE string.
    too_big = str(1 << 64)
    assert junction_chain_code(too_big) == encode_bytes(too_big.encode()).ljust(32, b"\0")
    assert junction_chain_code("Alice") == b"\x14Alice".ljust(32, b"\0")


def test_hex_seed_uri_derives_like_the_phrase_it_came_from():
    mini = bytes(bip39.bip39_to_mini_secret(DEV_PHRASE, "")).hex()
    assert Keypair.from_uri(f"0x{mini}//Alice") == DEV_ACCOUNTS["Alice"]
    assert Keypair.from_uri(f"0x{mini}//Alice", ED25519).public_key.hex() == ED25519_DEV_PUBLIC["Alice"]
    assert Keypair.from_seed("0x" + mini) == Keypair.from_uri(DEV_PHRASE)


def test_password_salts_the_mnemonic_and_is_ignored_for_hex_seeds():
    with_password = Keypair.from_uri("//Alice///secret")
    assert with_password != DEV_ACCOUNTS["Alice"]
    mini = bytes(bip39.bip39_to_mini_secret(DEV_PHRASE, "secret")).hex()
    assert with_password == Keypair.from_uri(f"0x{mini}//Alice")
    assert Keypair.from_uri(f"0x{mini}//Alice///other") == with_password
    assert Keypair.from_uri(f"{DEV_PHRASE}///secret", ED25519) == Keypair.from_seed(mini, ED25519)


@pytest.mark.parametrize("crypto", [SR25519, ED25519])
def test_signatures_verify_both_ways_against_substrate_interface(crypto):
    ours = Keypair.from_uri(OTHER_PHRASE, crypto)
    oracle_type = KeypairType.SR25519 if crypto == SR25519 else KeypairType.ED25519
    oracle = OracleKeypair.create_from_uri(OTHER_PHRASE, crypto_type=oracle_type)
    message = b"parawatt primitives"
    assert oracle.verify(message, ours.sign(message))
    assert verify_signature(crypto, ours.public_key, message, oracle.sign(message))
    assert ours.verify(message, oracle.sign(message))


def test_ed25519_signature_matches_an_independent_wallet_vector():
    # Trust Wallet core's Kusama transfer test: Alice's ed25519 key signing this payload.
    payload = bytes.fromhex(
        "04008eaf04151687736326c9fea17e25fc5287613693c912909cb226aa4794f26a48e5c0000000e30700000200"
        "0000b0a8d493285c2df73290dfb7e61f870f17b41801197a149ca93654499ea3dafe4955dd4813f3e91ef3fd5a82"
        "5b928af2fc50a71380085f753ccef00bb1582891"
    )
    signature = (
        "0765cfa76cfe19499f4f19ef7dc4527652ec5b2e6b5ecfaf68725dafd48ae2694ad52e61f44152a544784e847de1"
        "0ddb2c56bee4406574dcbcfdb5e5d35b6d03"
    )
    assert dev_keypair("Alice", ED25519).sign(payload).hex() == signature


@pytest.mark.parametrize("crypto", [SR25519, ED25519])
def test_signature_does_not_verify_for_another_message_or_key(crypto):
    alice, bob = dev_keypair("Alice", crypto), dev_keypair("Bob", crypto)
    sig = alice.sign(b"m")
    assert verify_signature(crypto, alice.public_key, b"m", sig)
    assert not verify_signature(crypto, alice.public_key, b"n", sig)
    assert not verify_signature(crypto, bob.public_key, b"m", sig)
    other = SR25519 if crypto == ED25519 else ED25519
    assert not verify_signature(other, alice.public_key, b"m", sig)


@pytest.mark.parametrize("crypto", [SR25519, ED25519])
@pytest.mark.parametrize(
    "public, signature",
    [
        (b"\xff" * 32, None),  # not a curve point
        (b"\x01" * 31, None),  # short key
        (None, b"\xff" * 64),  # scalar with the high bit set
        (None, b"\x00" * 63),  # short signature
        (None, b"\x00" * 65),  # long signature
    ],
)
def test_malformed_keys_and_signatures_do_not_verify(crypto, public, signature):
    alice = dev_keypair("Alice", crypto)
    public = alice.public_key if public is None else public
    signature = alice.sign(b"m") if signature is None else signature
    assert verify_signature(crypto, public, b"m", signature) is False


def test_ed25519_has_no_soft_derivation():
    with pytest.raises(InvalidKey, match="soft"):
        Keypair.from_uri("//Alice/soft", ED25519)


@pytest.mark.parametrize(
    "suri",
    [
        "//",
        "//Alice//",
        "not a valid mnemonic//Alice",
        "bottom drive obey",
        "0x1234//Alice",
        "0xzz",
        "é//Alice",
    ],
)
def test_malformed_secret_uris_are_rejected(suri):
    with pytest.raises(InvalidKey):
        Keypair.from_uri(suri)


@pytest.mark.parametrize("seed", ["0x" + "00" * 31, "0x" + "00" * 33, "nothex", b"\x00" * 16])
def test_seeds_that_are_not_32_bytes_are_rejected(seed):
    with pytest.raises(InvalidKey):
        Keypair.from_seed(seed)


def test_unknown_crypto_is_rejected():
    with pytest.raises(InvalidKey):
        Keypair.from_uri("//Alice", "ecdsa")
    with pytest.raises(ValueError):
        verify_signature("ecdsa", bytes(32), b"", bytes(64))


@pytest.mark.parametrize("crypto", [SR25519, ED25519])
def test_keypair_refuses_a_public_key_that_does_not_match_its_secret(crypto):
    alice, bob = dev_keypair("Alice", crypto), dev_keypair("Bob", crypto)
    with pytest.raises(InvalidKey, match="does not match"):
        Keypair(crypto, bob.public_key, alice.secret)


def test_secrets_stay_out_of_repr():
    alice = dev_keypair("Alice", ED25519)
    assert alice.secret.hex() not in repr(alice) and repr(alice.secret) not in repr(alice)


def test_ss58_format_sets_the_address_network():
    polkadot_alice = Keypair.from_uri("//Alice", ss58_format=0)
    assert polkadot_alice.ss58_address == "15oF4uVJwmo4TdGW7VfQxNLavjCXviqxT9S1MgbjMNHr6Sp5"
    assert polkadot_alice == DEV_ACCOUNTS["Alice"]
