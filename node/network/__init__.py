"""Node-to-node networking: typed messages between named peers, over gRPC or in memory.

The node sees one interface, ``transport.Network``, implemented by ``GrpcNetwork`` (real
processes, mutual TLS) and ``MemoryNetwork`` (many nodes in one process, fault injection). The
protocol is ``proto/parawatt_network.proto``; ``messages`` holds its typed form and ``codec`` the
one place bytes become messages. Consensus and chain logic live elsewhere: this package only
moves messages, keeps peers' scores and refuses peers that are not of our network.

``GrpcNetwork`` is imported from ``node.network.grpc_transport`` (it loads grpc); everything
here is importable without it.
"""

from node.network.messages import (
    MAX_MESSAGE_SIZE,
    PROTOCOL_VERSION,
    BlockAnnounce,
    BlockData,
    BlockRequest,
    BlockResponse,
    ConsensusMessage,
    Direction,
    Head,
    InvalidMessage,
    Justification,
    Message,
    Role,
    Transactions,
)
from node.network.memory import MemoryHub, MemoryNetwork
from node.network.reputation import Penalty
from node.network.transport import ChainStatus, Network, NetworkConfig, NetworkError, PeerInfo, RequestFailed

__all__ = [
    "MAX_MESSAGE_SIZE", "PROTOCOL_VERSION", "BlockAnnounce", "BlockData", "BlockRequest", "BlockResponse",
    "ChainStatus", "ConsensusMessage", "Direction", "Head", "InvalidMessage", "Justification", "MemoryHub",
    "MemoryNetwork", "Message", "Network", "NetworkConfig", "NetworkError", "Penalty", "PeerInfo", "RequestFailed",
    "Role", "Transactions",
]
