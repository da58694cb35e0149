"""Adapters that only the tests register (HARNESS_ADAPTERS): one crashes its process, one hangs
(unless FAKE_ADAPTER_HANG=0, so that a resumed run can finish).

For every other case they return the oracle's own answer, so the rest of their rows pass.
"""

from __future__ import annotations

import os
import time

from adapters.api import Adapter, ApiPath
from harness import oracle


def _answer(c):
    return None, "fake"


class CrashingAdapter(Adapter):
    name = "crashy"

    def version(self) -> str:
        return "0"

    def devices(self) -> list[str]:
        return ["cpu"]

    def paths(self) -> list[ApiPath]:
        return [ApiPath("fake.loss", frozenset({"sparse_softmax_cross_entropy", "softmax_cross_entropy"}), _answer)]

    def evaluate(self, path, case, inputs, dtype, device):
        if "crash" in case.id:
            os.abort()  # SIGABRT, as a framework's failed CHECK would
        if "hang" in case.id and os.environ.get("FAKE_ADAPTER_HANG", "1") == "1":
            time.sleep(3600)
        ref = oracle.compute(case, inputs, dtype)
        return ref.loss, ref.grad, "fake.loss (returns the oracle's answer)", "cpu"


class MalformedAdapter(CrashingAdapter):
    """Returns a loss that is not a number for cases named 'malformed': the harness itself then fails."""

    name = "malformed"

    def evaluate(self, path, case, inputs, dtype, device):
        if "malformed" in case.id:
            return "not a number", None, "fake.loss", "cpu"
        return super().evaluate(path, case, inputs, dtype, device)


class SkewedAdapter(CrashingAdapter):
    """Right on integer labels, 1e-3 off on dense ones: only a relation (sparse == one-hot) can see it
    when a case has integer labels."""

    name = "skewed"

    def evaluate(self, path, case, inputs, dtype, device):
        loss, grad, call, dev = super().evaluate(path, case, inputs, dtype, device)
        if case.family == "softmax_cross_entropy":
            loss = loss * (1 + 1e-3)
        return loss, grad, "fake.loss (1e-3 off on dense labels)", dev


class VersionedAdapter(CrashingAdapter):
    """What the row cache's tests change and watch: its version is FAKE_ADAPTER_VERSION (default 1), it has one
    more path where FAKE_ADAPTER_EXTRA_PATH=1, and it appends each trial it evaluates to the file FAKE_ADAPTER_LOG."""

    name = "versioned"

    def version(self) -> str:
        return os.environ.get("FAKE_ADAPTER_VERSION", "1")

    def paths(self) -> list[ApiPath]:
        extra = [ApiPath("fake.other", frozenset({"sparse_softmax_cross_entropy", "softmax_cross_entropy"}), _answer)]
        return super().paths() + (extra if os.environ.get("FAKE_ADAPTER_EXTRA_PATH") == "1" else [])

    def evaluate(self, path, case, inputs, dtype, device):
        log = os.environ.get("FAKE_ADAPTER_LOG")
        if log:
            with open(log, "a", encoding="utf-8") as f:
                f.write(f"{case.id} {path.name} {dtype} {device}\n")
        return super().evaluate(path, case, inputs, dtype, device)


class ExactAdapter(CrashingAdapter):
    """Returns the oracle's own answer for every case of the families the search draws: the search must find nothing."""

    name = "exact"
    FAMILIES = frozenset({"sparse_softmax_cross_entropy", "softmax_cross_entropy", "sigmoid_cross_entropy",
                          "weighted_sigmoid_cross_entropy"})
    order_methods: dict = {}

    def paths(self) -> list[ApiPath]:
        every = frozenset({"class_weights", "sample_weights", "label_smoothing", "ignore_index", "pos_weight",
                           "label_dtype"})
        return [ApiPath(f"fake.{self.name}", self.FAMILIES, _answer, options=every,
                        reductions=frozenset({"none", "sum", "mean", "weighted_mean"}))]


class PlantedAdapter(ExactAdapter):
    """The oracle's answer, except a NaN loss wherever a finite logit exceeds 50 (the behaviour the search's test
    plants and must find and shrink)."""

    name = "planted"

    def evaluate(self, path, case, inputs, dtype, device):
        import numpy as np

        loss, grad, call, dev = super().evaluate(path, case, inputs, dtype, device)
        x = np.asarray(inputs.logits, dtype=np.float64)
        if np.any(np.isfinite(x) & (x > 50)):
            loss = np.full_like(np.asarray(loss), np.nan)
        return loss, grad, "fake.planted (NaN above 50)", dev
