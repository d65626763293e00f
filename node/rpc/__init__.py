"""Substrate-style JSON-RPC over HTTP and WebSocket on one port; knows nothing about chains."""

from .connection import Connection, Subscription
from .errors import RpcError
from .module import RpcModule
from .server import RpcServer

__all__ = ["Connection", "RpcError", "RpcModule", "RpcServer", "Subscription"]
