"""Path builders the adapters share beyond the naive formulas: a framework's own building block, and a path it lacks."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from adapters.api import ApiPath, Call


def framework_block(family: str, fn: Callable[..., Any], call_name: str, path_name: str = "",
                    keyword: str = "axis") -> ApiPath:
    """A framework's own building block (log_softmax, softmax, logsumexp) over the case's class axis,
    called as `fn(logits, <keyword>=axis)` the way users write it."""
    def call(c: Call):
        axis = c.params.axis
        return fn(c.logits, **{keyword: axis}), f"{call_name}(logits, {keyword}={axis})"
    return ApiPath(path_name or call_name, frozenset({family}), call, options=frozenset({"axis"}),
                   reductions=frozenset({"none"}))


def absent(name: str, families: frozenset[str], reason: str) -> ApiPath:
    """A form the framework does not have: declared, so every trial of the family is `unsupported` with why."""
    def fn(c: Call):
        raise NotImplementedError(reason)
    return ApiPath(name, families, fn, check=lambda case, dtype: reason, doc=reason)
