from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Role(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ROLE_UNSPECIFIED: _ClassVar[Role]
    ROLE_FULL: _ClassVar[Role]
    ROLE_AUTHORITY: _ClassVar[Role]

class Direction(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DIRECTION_UNSPECIFIED: _ClassVar[Direction]
    DIRECTION_ASCENDING: _ClassVar[Direction]
    DIRECTION_DESCENDING: _ClassVar[Direction]
ROLE_UNSPECIFIED: Role
ROLE_FULL: Role
ROLE_AUTHORITY: Role
DIRECTION_UNSPECIFIED: Direction
DIRECTION_ASCENDING: Direction
DIRECTION_DESCENDING: Direction

class Envelope(_message.Message):
    __slots__ = ("handshake", "block_announce", "block_request", "block_response", "transactions", "consensus", "justification", "disconnect", "handshake_accepted")
    HANDSHAKE_FIELD_NUMBER: _ClassVar[int]
    BLOCK_ANNOUNCE_FIELD_NUMBER: _ClassVar[int]
    BLOCK_REQUEST_FIELD_NUMBER: _ClassVar[int]
    BLOCK_RESPONSE_FIELD_NUMBER: _ClassVar[int]
    TRANSACTIONS_FIELD_NUMBER: _ClassVar[int]
    CONSENSUS_FIELD_NUMBER: _ClassVar[int]
    JUSTIFICATION_FIELD_NUMBER: _ClassVar[int]
    DISCONNECT_FIELD_NUMBER: _ClassVar[int]
    HANDSHAKE_ACCEPTED_FIELD_NUMBER: _ClassVar[int]
    handshake: Handshake
    block_announce: BlockAnnounce
    block_request: BlockRequest
    block_response: BlockResponse
    transactions: Transactions
    consensus: Consensus
    justification: Justification
    disconnect: Disconnect
    handshake_accepted: HandshakeAccepted
    def __init__(self, handshake: _Optional[_Union[Handshake, _Mapping]] = ..., block_announce: _Optional[_Union[BlockAnnounce, _Mapping]] = ..., block_request: _Optional[_Union[BlockRequest, _Mapping]] = ..., block_response: _Optional[_Union[BlockResponse, _Mapping]] = ..., transactions: _Optional[_Union[Transactions, _Mapping]] = ..., consensus: _Optional[_Union[Consensus, _Mapping]] = ..., justification: _Optional[_Union[Justification, _Mapping]] = ..., disconnect: _Optional[_Union[Disconnect, _Mapping]] = ..., handshake_accepted: _Optional[_Union[HandshakeAccepted, _Mapping]] = ...) -> None: ...

class Head(_message.Message):
    __slots__ = ("hash", "number")
    HASH_FIELD_NUMBER: _ClassVar[int]
    NUMBER_FIELD_NUMBER: _ClassVar[int]
    hash: bytes
    number: int
    def __init__(self, hash: _Optional[bytes] = ..., number: _Optional[int] = ...) -> None: ...

class Handshake(_message.Message):
    __slots__ = ("protocol_version", "genesis_hash", "chain_name", "roles", "node_name", "best", "finalized", "instance", "nonce", "certificate", "signature")
    PROTOCOL_VERSION_FIELD_NUMBER: _ClassVar[int]
    GENESIS_HASH_FIELD_NUMBER: _ClassVar[int]
    CHAIN_NAME_FIELD_NUMBER: _ClassVar[int]
    ROLES_FIELD_NUMBER: _ClassVar[int]
    NODE_NAME_FIELD_NUMBER: _ClassVar[int]
    BEST_FIELD_NUMBER: _ClassVar[int]
    FINALIZED_FIELD_NUMBER: _ClassVar[int]
    INSTANCE_FIELD_NUMBER: _ClassVar[int]
    NONCE_FIELD_NUMBER: _ClassVar[int]
    CERTIFICATE_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    protocol_version: int
    genesis_hash: bytes
    chain_name: str
    roles: _containers.RepeatedScalarFieldContainer[Role]
    node_name: str
    best: Head
    finalized: Head
    instance: int
    nonce: bytes
    certificate: bytes
    signature: bytes
    def __init__(self, protocol_version: _Optional[int] = ..., genesis_hash: _Optional[bytes] = ..., chain_name: _Optional[str] = ..., roles: _Optional[_Iterable[_Union[Role, str]]] = ..., node_name: _Optional[str] = ..., best: _Optional[_Union[Head, _Mapping]] = ..., finalized: _Optional[_Union[Head, _Mapping]] = ..., instance: _Optional[int] = ..., nonce: _Optional[bytes] = ..., certificate: _Optional[bytes] = ..., signature: _Optional[bytes] = ...) -> None: ...

class HandshakeAccepted(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class BlockAnnounce(_message.Message):
    __slots__ = ("header", "is_best")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    IS_BEST_FIELD_NUMBER: _ClassVar[int]
    header: bytes
    is_best: bool
    def __init__(self, header: _Optional[bytes] = ..., is_best: _Optional[bool] = ...) -> None: ...

class BlockRequest(_message.Message):
    __slots__ = ("request_id", "start_hash", "start_number", "direction", "max_blocks", "want_header", "want_body", "want_justification")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    START_HASH_FIELD_NUMBER: _ClassVar[int]
    START_NUMBER_FIELD_NUMBER: _ClassVar[int]
    DIRECTION_FIELD_NUMBER: _ClassVar[int]
    MAX_BLOCKS_FIELD_NUMBER: _ClassVar[int]
    WANT_HEADER_FIELD_NUMBER: _ClassVar[int]
    WANT_BODY_FIELD_NUMBER: _ClassVar[int]
    WANT_JUSTIFICATION_FIELD_NUMBER: _ClassVar[int]
    request_id: int
    start_hash: bytes
    start_number: int
    direction: Direction
    max_blocks: int
    want_header: bool
    want_body: bool
    want_justification: bool
    def __init__(self, request_id: _Optional[int] = ..., start_hash: _Optional[bytes] = ..., start_number: _Optional[int] = ..., direction: _Optional[_Union[Direction, str]] = ..., max_blocks: _Optional[int] = ..., want_header: _Optional[bool] = ..., want_body: _Optional[bool] = ..., want_justification: _Optional[bool] = ...) -> None: ...

class Body(_message.Message):
    __slots__ = ("extrinsics",)
    EXTRINSICS_FIELD_NUMBER: _ClassVar[int]
    extrinsics: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, extrinsics: _Optional[_Iterable[bytes]] = ...) -> None: ...

class BlockData(_message.Message):
    __slots__ = ("hash", "header", "body", "justification")
    HASH_FIELD_NUMBER: _ClassVar[int]
    HEADER_FIELD_NUMBER: _ClassVar[int]
    BODY_FIELD_NUMBER: _ClassVar[int]
    JUSTIFICATION_FIELD_NUMBER: _ClassVar[int]
    hash: bytes
    header: bytes
    body: Body
    justification: bytes
    def __init__(self, hash: _Optional[bytes] = ..., header: _Optional[bytes] = ..., body: _Optional[_Union[Body, _Mapping]] = ..., justification: _Optional[bytes] = ...) -> None: ...

class BlockResponse(_message.Message):
    __slots__ = ("request_id", "blocks")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    BLOCKS_FIELD_NUMBER: _ClassVar[int]
    request_id: int
    blocks: _containers.RepeatedCompositeFieldContainer[BlockData]
    def __init__(self, request_id: _Optional[int] = ..., blocks: _Optional[_Iterable[_Union[BlockData, _Mapping]]] = ...) -> None: ...

class Transactions(_message.Message):
    __slots__ = ("extrinsics",)
    EXTRINSICS_FIELD_NUMBER: _ClassVar[int]
    extrinsics: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, extrinsics: _Optional[_Iterable[bytes]] = ...) -> None: ...

class Consensus(_message.Message):
    __slots__ = ("engine_id", "payload")
    ENGINE_ID_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    engine_id: bytes
    payload: bytes
    def __init__(self, engine_id: _Optional[bytes] = ..., payload: _Optional[bytes] = ...) -> None: ...

class Justification(_message.Message):
    __slots__ = ("block_hash", "number", "justification")
    BLOCK_HASH_FIELD_NUMBER: _ClassVar[int]
    NUMBER_FIELD_NUMBER: _ClassVar[int]
    JUSTIFICATION_FIELD_NUMBER: _ClassVar[int]
    block_hash: bytes
    number: int
    justification: bytes
    def __init__(self, block_hash: _Optional[bytes] = ..., number: _Optional[int] = ..., justification: _Optional[bytes] = ...) -> None: ...

class Disconnect(_message.Message):
    __slots__ = ("reason",)
    REASON_FIELD_NUMBER: _ClassVar[int]
    reason: str
    def __init__(self, reason: _Optional[str] = ...) -> None: ...
