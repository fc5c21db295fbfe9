"""Visitor identity: pseudonymous visitor ids, user names and roles from trusted sources only."""

from proxy.identity.model import Identity, IdentityConfigError, SourceResult
from proxy.identity.resolver import IdentityResolver, build_resolvers
from proxy.identity.trust import DEFAULT_IDENTITY_HEADERS, HeaderGuard, TrustedPeers

__all__ = [
    "DEFAULT_IDENTITY_HEADERS",
    "HeaderGuard",
    "Identity",
    "IdentityConfigError",
    "IdentityResolver",
    "SourceResult",
    "TrustedPeers",
    "build_resolvers",
]
