"""From a chain spec and a node's key folder to a NodeConfig: runtime, authorities, identity,
and a gRPC network with mutual TLS whose peers must hold certificates from the network's CA."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, load_pem_private_key
from cryptography import x509
from cryptography.x509.oid import NameOID

from node.chain_spec import ChainSpec
from node.consensus.authorities import AuthoritySet
from node.dev_runtime import build_runtime
from node.network.grpc_transport import GrpcNetwork
from node.primitives.keys import ED25519, Keypair
from node.security.files import NodeFiles
from node.security.grpc_tls import grpc_credentials
from node.security.trust import load_trust
from node.security.verify import verify_peer_certificate
from node.service.node import NodeConfig


class NetworkSetupError(Exception):
    pass


def authority_set(spec: ChainSpec) -> AuthoritySet:
    return AuthoritySet(ED25519, spec.consensus.authorities, 0, spec.id.encode())


def runtime_for(name: str, block_time_ms: int):
    """The runtime a spec names: the relay's, a parachain's, or the standalone dev runtime."""
    if name == "relay":
        from relay.runtime import build_relay_runtime

        return build_relay_runtime(block_time_ms=block_time_ms)
    if name in ("demand", "dg", "storage"):
        from parachains.runtimes import build_parachain_runtime

        return build_parachain_runtime(name, block_time_ms=block_time_ms)
    return build_runtime(spec_name=f"parawatt-{name}", block_time_ms=block_time_ms)


def genesis_config_for(spec: ChainSpec) -> dict:
    """Everything the runtime builds genesis from: the spec's sections, the authorities for
    Offences, on the relay the parachains and validators for Paras, and on a parachain the relay
    authorities its ParachainSystem checks relay headers against."""
    authorities = authority_set(spec)
    genesis = spec.genesis_config()
    genesis["Offences"] = {"authorities": list(authorities.keys), "crypto": ED25519, "chain_id": authorities.chain_id}
    if spec.runtime == "relay":
        genesis["Paras"] = {
            "paras": [{"id": p.id, "name": p.name, "code": f"parawatt-{p.runtime}-v1".encode(), "genesis_head": p.genesis_head} for p in spec.paras],
            "validators": list(authorities.keys),
            "chain_id": authorities.chain_id,
        }
        if spec.backing_votes is not None:
            genesis["Paras"]["backing_votes"] = spec.backing_votes
        if spec.backing_groups is not None:
            genesis["Paras"]["backing_groups"] = spec.backing_groups
    if spec.relay is not None:  # a parachain verifies the relay headers it imports against these
        genesis["ParachainSystem"] = {"relay_authorities": list(spec.relay.authorities), "relay_chain_id": spec.relay.chain_id.encode()}
    return genesis


def role_extensions(spec: ChainSpec, keypair: Keypair | None, authorities: AuthoritySet) -> tuple:
    """The relay validates parachain candidates; a parachain's collators send them. Both report
    the cross-chain supply (`xtransfers_supply`); the relay also the market's settlements
    (`market_settlement`, `market_trades`)."""
    from node.service.supply import SupplyRpc

    if spec.runtime == "relay":
        from node.runtime.executive import Executive
        from node.primitives.hashing import blake2_256
        from relay.backing import BackingService

        executives = {
            p.id: Executive(runtime_for(p.runtime, spec.consensus.block_time_ms), blake2_256(p.genesis_head)) for p in spec.paras
        }
        from node.service.market_rpc import MarketRpc

        return (lambda node: BackingService(node, keypair=keypair, para_executives=executives), SupplyRpc, MarketRpc)
    if spec.relay is not None:
        from parachains.collator import CollationService
        from parachains.relay_client import RpcRelayClient

        relay_set = AuthoritySet(ED25519, spec.relay.authorities, 0, spec.relay.chain_id.encode())
        client = RpcRelayClient(list(spec.relay.rpc), relay_set)
        collator = keypair.public_key if keypair is not None else bytes(32)
        return (lambda node: CollationService(node, para_id=spec.relay.para_id, relay=client, collator_key=collator), SupplyRpc)
    return ()


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as e:
        raise NetworkSetupError(f"cannot read the {what} {path}: {e.strerror}") from None


def load_identity(files: NodeFiles) -> tuple[Ed25519PrivateKey, Keypair]:
    """The node's ed25519 identity key, as the TLS layer and as consensus use it."""
    try:
        key = load_pem_private_key(_read(files.identity_key, "identity key"), password=None)
    except ValueError as e:
        raise NetworkSetupError(f"{files.identity_key} is not a PEM private key: {e}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise NetworkSetupError(f"{files.identity_key} is not an ed25519 key")
    seed = key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    return key, Keypair.from_seed(seed, crypto=ED25519)


def certificate_name(cert_pem: bytes) -> str:
    cert = x509.load_pem_x509_certificate(cert_pem)
    return cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value


def chain_node_config(
    spec: ChainSpec, *, base_path: Path, keys: Path | None, name: str | None, rpc_host: str, rpc_port: int | None,
    p2p_host: str, p2p_port: int, bootnodes: list[str], insecure: bool = False,
) -> NodeConfig:
    authorities = authority_set(spec)
    keypair = identity = cert_pem = None
    server_creds = channel_creds = verify = None
    if keys is not None:
        files = NodeFiles.in_dir(keys)
        identity, keypair = load_identity(files)
        cert_pem = _read(files.tls_cert, "certificate")
        name = name or certificate_name(cert_pem)
        if not insecure:
            try:
                trust = load_trust(keys)
                server_creds, channel_creds = grpc_credentials(files, trust)
            except Exception as e:  # the security module's errors say which file is wrong
                raise NetworkSetupError(f"TLS setup from {keys}: {e}") from None

            def verify(cert: bytes, trust=trust):
                return verify_peer_certificate(cert, trust, now=datetime.now(timezone.utc))

    elif not insecure:
        raise NetworkSetupError("--keys is required (or --insecure-p2p for a plaintext test network)")
    if name is None:
        raise NetworkSetupError("--name is required without --keys")

    def network_factory(status):
        return GrpcNetwork(
            name, status, listen=f"{p2p_host}:{p2p_port}", bootnodes=bootnodes,
            server_credentials=server_creds, channel_credentials=channel_creds, verify_peer=verify,
            identity_key=identity if verify else None, certificate_pem=cert_pem if verify else b"",
        )

    genesis = genesis_config_for(spec)
    return NodeConfig(
        chain_name=spec.name,
        chain_type=spec.chain_type,
        base_path=Path(base_path),
        runtime=runtime_for(spec.runtime, spec.consensus.block_time_ms),
        genesis=genesis,
        properties=spec.properties,
        rpc_host=rpc_host,
        rpc_port=rpc_port,
        block_time_ms=spec.consensus.block_time_ms,
        node_name=name,
        engine=spec.consensus.engine,
        authorities=authorities,
        keypair=keypair,
        network_factory=network_factory,
        extensions=role_extensions(spec, keypair, authorities),
    )
