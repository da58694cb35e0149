"""What the search draws: a case mapping (the YAML a case file would hold) from the space the schema allows,
as a Hypothesis strategy, built so that Hypothesis shrinks it toward the simplest case.

Every choice is ordered simplest first, which is where Hypothesis shrinks to: batched before unbatched, one row,
two classes, logits all 0 at scale 1, no spike or mask, no option, reduction none, float32, no derivative order.
A drawn mapping holds its inputs written out (literal lists), so the case the search writes is the case it ran.

    shape      rows 1..6 (or unbatched: logits [C]); classes 2..8, or a long class axis (64, 1000: one case in eight, 1 or 2 rows)
    logits     a fill (all 0: every class tied; or seeded normal values), times a scale 1 .. 1e30 (1e-3 too),
               then spikes (a drawn value at a drawn place: 1 .. 710, +-1e4, +-1e30, the dtype's largest) and
               masks (-inf, -1e9 or the dtype's most negative finite number)
    labels     class indices (sparse), one-hot or split between two classes (dense), probabilities in
               {0, 1, 0.5, 0.25} (sigmoid); rows ignored through ignore_index (sparse)
    options    class weights, sample weights (0, 0.5, 2, 1000, 1e6 among 1s), label smoothing, pos_weight,
               the label dtype, every reduction, the derivative orders that apply (harness/schema/orders.py)
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from harness.schema.orders import APPLIES, LABEL_ORDERS

FAMILIES = ("sparse_softmax_cross_entropy", "softmax_cross_entropy", "sigmoid_cross_entropy",
            "weighted_sigmoid_cross_entropy")
DTYPES = ("float32", "float64", "float16", "bfloat16")  # the most common first: what a shrunk case keeps
SCALES = (1.0, 1e-3, 10.0, 100.0, 1e4, 1e30)
# spikes, simplest first: around exp's overflow in float16 (11), float32 (88) and float64 (709), then beyond
# the ordinary range ("max": the dtype's largest finite number)
SPIKES = (1.0, -1.0, 3.0, -3.0, 12.0, -12.0, 20.0, -20.0, 60.0, -60.0, 89.0, -89.0, 100.0, -100.0, 710.0, -710.0,
          1e4, -1e4, 1e30, -1e30, "max", "-max")
MASKS = ("-inf", -1e9, "-max")
WEIGHTS = (1.0, 0.0, 0.5, 2.0, 1000.0, 1e6)
SMOOTHING = (0.0, 0.1, 0.5, 1.0)
REDUCTIONS = ("none", "sum", "mean", "weighted_mean")
SIGMOID_LABELS = (0.0, 1.0, 0.5, 0.25)
IGNORE = -100
MAX_DRAWN = 64  # per-element draws up to this many elements; larger inputs take a seeded pattern
LARGEST = {"float32": 3.4028234663852886e38, "float64": 1.7976931348623157e308, "float16": 65504.0,
           "bfloat16": 3.3895313892515355e38}


def _value(v, dtype: str) -> float:
    if v == "max":
        return LARGEST[dtype]
    if v == "-max":
        return -LARGEST[dtype]
    if v == "-inf":
        return float("-inf")
    return float(v)


def _pattern(seed: int, shape: tuple[int, ...], choices: tuple) -> np.ndarray:
    """Values of a large input from a seed: drawn per element they would overrun Hypothesis' buffer."""
    rng = np.random.default_rng(seed)
    return np.asarray(choices, dtype=np.float64)[rng.integers(0, len(choices), size=shape)]


def _places(draw, rows: int, classes: int, values) -> list[tuple[int, int, object]]:
    return draw(st.lists(st.tuples(st.integers(0, rows - 1), st.integers(0, classes - 1), values), max_size=3))


def _per(draw, n: int, choices: tuple, seed_name: str) -> list[float]:
    if n <= MAX_DRAWN:
        return [float(v) for v in draw(st.lists(st.sampled_from(choices), min_size=n, max_size=n))]
    return _pattern(draw(st.integers(0, 2**16)), (n,), choices).tolist()


@st.composite
def case_mapping(draw, family: str, dtypes: tuple[str, ...] = DTYPES) -> dict:
    """One case mapping of the family (without its id and description: the runner names it)."""
    if family not in FAMILIES:
        raise ValueError(f"the search draws {', '.join(FAMILIES)}; not {family}")
    sparse, dense = family.startswith("sparse"), family == "softmax_cross_entropy"
    dtype = draw(st.sampled_from(dtypes))
    long = draw(st.integers(0, 7)) == 7  # one case in eight has a long class axis (slow to load and to run)
    classes = draw(st.sampled_from((64, 1000))) if long else draw(st.integers(2, 8))
    rows = draw(st.integers(1, 6 if classes <= 8 else 2))
    # every choice is drawn whatever the others are, so that the shrinker compares cases by their values alone
    unbatched = draw(st.booleans()) and not family.startswith("sigmoid")
    rows = 1 if unbatched or classes > 64 else rows
    n = rows * classes
    scale = draw(st.sampled_from(SCALES))
    if draw(st.sampled_from(("zeros", "normal"))) == "zeros":
        x = np.zeros((rows, classes))
    else:
        x = np.round(np.random.default_rng(draw(st.integers(0, 2**16))).standard_normal((rows, classes)), 3) * scale
    for r, c, v in _places(draw, rows, classes, st.sampled_from(SPIKES)):
        x[r, c] = _value(v, dtype)
    for r, c, v in _places(draw, rows, classes, st.sampled_from(MASKS)):  # after the spikes: a mask wins
        x[r, c] = _value(v, dtype)
    m: dict = {"family": family, "dtypes": [dtype]}
    params: dict = {}
    if sparse:
        labels = [draw(st.integers(0, classes - 1)) for _ in range(rows)]
        if draw(st.booleans()):
            params["ignore_index"] = IGNORE
            labels = [IGNORE if draw(st.booleans()) else y for y in labels]
        if draw(st.booleans()):
            params["label_dtype"] = draw(st.sampled_from(("int32", "int16", "uint8")))
            if params["label_dtype"] == "uint8" and (classes > 255 or "ignore_index" in params):
                del params["label_dtype"]
        y = labels
    elif dense:
        y = []
        for _ in range(rows):
            t, kind = [0.0] * classes, draw(st.sampled_from(("one_hot", "split")))
            k = draw(st.integers(0, classes - 1))
            t[k] = 1.0 if kind == "one_hot" else 0.5
            if kind == "split":
                t[(k + 1) % classes] = 0.5
            y.append(t)
    else:
        y = np.asarray(_per(draw, n, SIGMOID_LABELS, "labels")).reshape(rows, classes).tolist()
    if draw(st.booleans()):
        params["class_weights"] = _per(draw, classes, WEIGHTS, "class_weights")
    if draw(st.booleans()) and not unbatched:
        params["sample_weights"] = _per(draw, rows, WEIGHTS, "sample_weights")
    smoothing = draw(st.sampled_from(SMOOTHING))
    if smoothing:
        params["label_smoothing"] = smoothing
    if family == "weighted_sigmoid_cross_entropy":
        params["pos_weight"] = float(draw(st.sampled_from(WEIGHTS)))
    reduction = draw(st.sampled_from(REDUCTIONS))
    if reduction != "none":
        params["reduction"] = reduction
    orders = [o for o in APPLIES if family in APPLIES[o]
              and not (o in LABEL_ORDERS and reduction == "weighted_mean")]
    chosen = draw(st.lists(st.sampled_from(orders), unique=True, max_size=2)) if orders else []
    m["logits"] = x[0].tolist() if unbatched else x.tolist()
    m["labels"] = (y[0] if unbatched else y)
    if params:
        m["params"] = params
    if chosen:
        m["orders"] = chosen
    return m
