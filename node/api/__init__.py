"""Substrate's JSON-RPC API on top of a node: one module per namespace."""

from __future__ import annotations

from node.rpc.module import RpcModule


def build_rpc_module(node) -> RpcModule:
    from node.api import author, chain, state, system

    module = RpcModule()
    for namespace in (system, chain, state, author):
        namespace.register(module, node)
    for extension in node.extensions:
        extension.register_rpc(module)
    return module
