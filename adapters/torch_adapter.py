"""PyTorch adapter: torch.nn.functional and torch.nn losses, autograd gradients, CPU and CUDA."""

from __future__ import annotations

import warnings

import ml_dtypes
import numpy as np
import torch
import torch.nn.functional as F

from adapters import builders, naive, torch_ctc, torch_hinge, torch_logprob, torch_multiclass_hinge, torch_orders, torch_single
from adapters.api import Adapter, ApiPath, Call
from adapters.torch_calls import fmt
from harness.core import precision
from harness.schema import Case

DTYPES = {"float64": torch.float64, "float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}

# Precision knobs that change results: TF32 off, unless the run is "as deployed" (harness/core/precision.py).
if precision.pinned():
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.set_float32_matmul_precision("highest")


def _class_dim_is_1(case: Case, dtype: str) -> str | None:
    """torch losses take the classes at dim 1 ([N, C, d...]), or at dim 0 of one unbatched example ([C])."""
    nd = len(case.predictions.shape)
    if nd > 1 and case.params.axis % nd != 1:
        return "torch losses take the class dimension at dim 1; moving it would be emulation"
    return None


def _reduction_check(case: Case, dtype: str) -> str | None:
    """torch's reduction='mean' is a weighted mean for class-index targets with weight=, a plain mean otherwise."""
    p = case.params
    if p.reduction == "mean" and case.sparse and p.class_weights is not None:
        return ("with weight= and class-index targets, reduction='mean' divides by the summed weights of the "
                "targets (weighted_mean); a plain mean over rows is not expressible")
    if p.reduction == "weighted_mean" and not case.sparse and p.class_weights is not None:
        return "with probability targets, reduction='mean' divides by the batch size, not by the weights"
    return _class_dim_is_1(case, dtype)


def _kwargs(c: Call) -> dict:
    p = c.params
    kw: dict = {"reduction": "mean" if p.reduction == "weighted_mean" else p.reduction}
    if c.class_weights is not None:
        kw["weight"] = c.class_weights
    if p.label_smoothing:
        kw["label_smoothing"] = p.label_smoothing
    if p.ignore_index is not None:
        kw["ignore_index"] = p.ignore_index
    return kw



def _cross_entropy(c: Call):
    kw = _kwargs(c)
    target = "class indices" if c.case.sparse else "probabilities"
    return F.cross_entropy(c.logits, c.labels, **kw), f"torch.nn.functional.cross_entropy(target={target}, {fmt(kw)})"


def _cross_entropy_module(c: Call):
    kw = _kwargs(c)
    return torch.nn.CrossEntropyLoss(**kw)(c.logits, c.labels), f"torch.nn.CrossEntropyLoss({fmt(kw)})"


def _dim(c: Call) -> int:
    """The class dimension: 1, or 0 for one unbatched example."""
    return 0 if c.logits.dim() == 1 else 1


def _nll_log_softmax(c: Call):
    kw = _kwargs(c)
    return (
        F.nll_loss(F.log_softmax(c.logits, dim=_dim(c)), c.labels, **kw),
        f"torch.nn.functional.nll_loss(torch.nn.functional.log_softmax(dim={_dim(c)}), {fmt(kw)})",
    )


OPS = naive.Ops(
    prefix="torch",
    softmax=lambda x, a: torch.softmax(x, dim=a), softmax_name="torch.softmax",
    log=torch.log, log_name="torch.log",
    clip=torch.clamp, clip_name="torch.clamp",
    one_hot=lambda y, n, like: F.one_hot(y, n).to(like.dtype), one_hot_name="torch.nn.functional.one_hot",
    sum_classes=lambda v, a: v.sum(dim=a),
    reduce=lambda v, r: {"none": lambda: v, "sum": v.sum, "mean": v.mean}[r](),
    reduce_names={"none": "", "sum": ".sum()", "mean": ".mean()"},
    exp=torch.exp, exp_name="torch.exp",
    sum_keep=lambda v, a: v.sum(dim=a, keepdim=True), sum_name="torch.sum",
)

def _bce_kwargs(c: Call) -> dict:
    kw: dict = {"reduction": c.params.reduction}
    weight = None
    if c.class_weights is not None:
        weight = c.class_weights
    if c.sample_weights is not None:  # one weight tensor broadcast over the input, as users build it
        sw = c.sample_weights.reshape((-1,) + (1,) * (c.logits.dim() - 1))
        weight = sw if weight is None else sw * weight
    if weight is not None:
        kw["weight"] = weight
    if c.params.pos_weight is not None:
        pw = c.params.pos_weight
        kw["pos_weight"] = torch.as_tensor(pw, dtype=c.logits.dtype, device=c.logits.device)
    return kw


def _bce_with_logits(c: Call):
    kw = _bce_kwargs(c)
    return F.binary_cross_entropy_with_logits(c.logits, c.labels, **kw), f"torch.nn.functional.binary_cross_entropy_with_logits({fmt(kw)})"


def _bce_module(c: Call):
    kw = _bce_kwargs(c)
    return torch.nn.BCEWithLogitsLoss(**kw)(c.logits, c.labels), f"torch.nn.BCEWithLogitsLoss({fmt(kw)})"


def _bce_probs(c: Call):
    kw = _bce_kwargs(c)
    return (F.binary_cross_entropy(torch.sigmoid(c.logits), c.labels, **kw),
            f"torch.nn.functional.binary_cross_entropy(torch.sigmoid(logits), {fmt(kw)})")


def _bce_on_probabilities(module: bool):
    def fn(c: Call):
        kw = _bce_kwargs(c)
        if module:
            return torch.nn.BCELoss(**kw)(c.logits, c.labels), f"torch.nn.BCELoss({fmt(kw)})(p, labels)"
        return F.binary_cross_entropy(c.logits, c.labels, **kw), f"torch.nn.functional.binary_cross_entropy(p, labels, {fmt(kw)})"
    return fn


SIGMOID = frozenset({"sigmoid_cross_entropy", "weighted_sigmoid_cross_entropy"})
SPARSE = frozenset({"sparse_softmax_cross_entropy"})
BOTH = frozenset({"sparse_softmax_cross_entropy", "softmax_cross_entropy"})
ALL_REDUCTIONS = frozenset({"none", "sum", "mean", "weighted_mean"})
CE_OPTIONS = frozenset({"class_weights", "label_smoothing", "ignore_index", "axis"})

PATHS = [
    ApiPath("F.cross_entropy", BOTH, _cross_entropy, options=CE_OPTIONS, reductions=ALL_REDUCTIONS,
            check=_reduction_check, doc="class-index targets for integer labels, probability targets for dense labels"),
    ApiPath("nn.CrossEntropyLoss", BOTH, _cross_entropy_module, options=CE_OPTIONS, reductions=ALL_REDUCTIONS,
            check=_reduction_check),
    ApiPath("F.nll_loss(F.log_softmax)", SPARSE, _nll_log_softmax, options=frozenset({"class_weights", "ignore_index", "axis"}),
            reductions=ALL_REDUCTIONS, check=_reduction_check),
    *naive.paths(OPS),
    naive.clipped_logits(_cross_entropy, OPS, "F.cross_entropy", options=CE_OPTIONS, check=_reduction_check,
                         reductions=ALL_REDUCTIONS),
    ApiPath("F.binary_cross_entropy_with_logits", SIGMOID, _bce_with_logits,
            options=frozenset({"class_weights", "sample_weights", "pos_weight"}),
            doc="weight= (class and sample weights broadcast together) and pos_weight= per class"),
    ApiPath("nn.BCEWithLogitsLoss", SIGMOID, _bce_module, options=frozenset({"class_weights", "sample_weights", "pos_weight"})),
    ApiPath("F.binary_cross_entropy(torch.sigmoid)", frozenset({"sigmoid_cross_entropy"}), _bce_probs,
            options=frozenset({"class_weights", "sample_weights"}),
            doc="probabilities from torch.sigmoid; PyTorch clamps the log at -100"),
    # from probabilities: PyTorch has a binary loss on probabilities; a categorical one is written by hand
    ApiPath("F.binary_cross_entropy", frozenset({"binary_crossentropy"}), _bce_on_probabilities(False),
            options=frozenset({"class_weights", "sample_weights"}), doc="PyTorch clamps each log at -100"),
    ApiPath("nn.BCELoss", frozenset({"binary_crossentropy"}), _bce_on_probabilities(True),
            options=frozenset({"class_weights", "sample_weights"})),
    *naive.probability_paths(OPS),
    # building blocks
    builders.framework_block("log_softmax", F.log_softmax, "torch.nn.functional.log_softmax", "F.log_softmax", keyword="dim"),
    builders.framework_block("softmax", F.softmax, "torch.nn.functional.softmax", "F.softmax", keyword="dim"),
    builders.framework_block("logsumexp", torch.logsumexp, "torch.logsumexp", "torch.logsumexp", keyword="dim"),
    *naive.block_paths(OPS),
    builders.absent("(no focal loss in torch)", frozenset({"categorical_focal_crossentropy", "binary_focal_crossentropy"}),
                 "PyTorch has no focal loss; torchvision.ops.sigmoid_focal_loss lives outside torch and is not a dependency"),
    *torch_multiclass_hinge.paths(OPS),
    *torch_hinge.PATHS,
    *torch_single.PATHS,
    *torch_logprob.PATHS,
    *torch_ctc.PATHS,
]


def _tensor(a: np.ndarray, dtype: str | None, device: str | torch.device) -> torch.Tensor:
    """A tensor on the device from a numpy array already in the trial dtype, without a copy on the CPU."""
    a = np.asarray(a)
    if dtype == "bfloat16":  # numpy has no bfloat16: move the bits through uint16
        a = a.view(np.uint16)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The given NumPy array is not writable")  # never written to
        t = torch.from_numpy(a)
    if dtype == "bfloat16":
        t = t.view(torch.bfloat16)
    return t.to(device)


def _tensor_like(values: np.ndarray, like: torch.Tensor) -> torch.Tensor:
    """A copy of values in the trial dtype as a tensor on the device of `like` (a user's own loss, adapters/custom.py)."""
    return _tensor(np.array(values), "bfloat16" if values.dtype.name == "bfloat16" else None, like.device)


def _numpy(t: torch.Tensor) -> np.ndarray:
    """Detach, to the CPU, to numpy in the tensor's own dtype (bfloat16 as ml_dtypes'); the judge upcasts."""
    t = t.detach().cpu()
    if t.dtype == torch.bfloat16:
        return t.view(torch.int16).numpy().view(ml_dtypes.bfloat16)
    return t.numpy()


class TorchAdapter(Adapter):
    name = "torch"
    order_methods = torch_orders.METHODS

    def version(self) -> str:
        return torch.__version__

    def devices(self) -> list[str]:
        return ["cpu"] + [f"cuda:{i}" for i in range(torch.cuda.device_count())]

    def paths(self) -> list[ApiPath]:
        return PATHS

    def environment(self) -> dict:
        env = super().environment()
        env["precision"] = {
            "mode": precision.mode(),
            "cuda.matmul.allow_tf32": torch.backends.cuda.matmul.allow_tf32,
            "float32_matmul_precision": torch.get_float32_matmul_precision(),
            "cudnn.allow_tf32": torch.backends.cudnn.allow_tf32,
            "deterministic_algorithms": torch.are_deterministic_algorithms_enabled(),
        }
        if torch.cuda.is_available():
            env["cuda"] = torch.version.cuda
            env["gpus"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
        return env

    def tensor_like(self, values, like):
        return _tensor_like(values, like)

    def evaluate(self, path, case, inputs, dtype, device):
        x = _tensor(inputs.logits, dtype, device).requires_grad_(True)
        labels = _tensor(inputs.labels, None if case.integer_labels else dtype, device)  # class indices keep their dtype
        cw = None if inputs.class_weights is None else _tensor(inputs.class_weights, dtype, device)
        sw = None if inputs.sample_weights is None else _tensor(inputs.sample_weights, dtype, device)
        out, call = path.fn(Call(logits=x, labels=labels, case=case, class_weights=cw, sample_weights=sw))
        # a loss: the gradient of the sum of its values; a building block: its vector-Jacobian product with
        # the case's cotangent
        cot = labels if case.block else torch.ones_like(out)
        (g,) = torch.autograd.grad(out, x, grad_outputs=cot, allow_unused=True)
        if g is None:
            g = torch.zeros_like(x)
        return _numpy(out), _numpy(g), call, str(out.device)

    def evaluate_order(self, path, case, inputs, dtype, device, order, method, v):
        x = _tensor(inputs.logits, dtype, device)
        labels = _tensor(inputs.labels, None if case.integer_labels else dtype, device)
        cw = None if inputs.class_weights is None else _tensor(inputs.class_weights, dtype, device)
        sw = None if inputs.sample_weights is None else _tensor(inputs.sample_weights, dtype, device)
        out, value, call = torch_orders.evaluate(path, case, x, labels, cw, sw, order, method, _tensor(v, dtype, device))
        return _numpy(out), None if value is None else _numpy(value), call, str(out.device)
