"""The guide runtime's server side: its script and stylesheet, page config, visitor state and browser events."""

from proxy.runtime.assets import RuntimeAssets, default_assets, runtime_version
from proxy.runtime.context import IsAdmin, PageConfig, PreviewGuide, RequestContext, Resolve, RuntimeRequestError, Submit
from proxy.runtime.endpoints import RouteTable, RuntimeEndpoints
from proxy.runtime.rulesource import RulesetPages
from proxy.runtime.state import GuideState, MemoryStateStore, StateChange, StateStore

__all__ = [
    "GuideState",
    "IsAdmin",
    "MemoryStateStore",
    "PageConfig",
    "PreviewGuide",
    "RequestContext",
    "Resolve",
    "RouteTable",
    "RulesetPages",
    "RuntimeAssets",
    "RuntimeEndpoints",
    "RuntimeRequestError",
    "StateChange",
    "StateStore",
    "Submit",
    "default_assets",
    "runtime_version",
]
