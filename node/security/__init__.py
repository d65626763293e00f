"""Network membership: a CA per network, node certificates binding ed25519 identity keys, revocation,
and the checks every gRPC connection goes through. `grpc_tls` is imported lazily by its users so
that tools needing only the CA do not load grpc."""

from node.security.ca import IssuedNode, init_ca, issue_node_certificate, list_certificates, revoke
from node.security.errors import CAError, CertificateRejected, Rejection, SecurityError, TrustError
from node.security.files import NodeFiles
from node.security.trust import Trust, load_trust
from node.security.verify import PeerIdentity, verify_peer_certificate

__all__ = [
    "CAError", "CertificateRejected", "IssuedNode", "NodeFiles", "PeerIdentity", "Rejection", "SecurityError",
    "Trust", "TrustError", "init_ca", "issue_node_certificate", "list_certificates", "load_trust", "revoke",
    "verify_peer_certificate",
]
