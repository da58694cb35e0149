"""A reproducer script: a framework's part between the inputs, the exact answer and the lines that compare them.

The script holds the trial's inputs as literals (a larger trial's arrays, and its values, go to an .npz beside it),
the framework's part (`observe()`, from adapters/repro/<framework>_script.py), the oracle's loss and gradient, the
values the run recorded, and a `main` that prints the observed values beside the expected ones and says whether
they are the run's. `python SCRIPT OUT.npz` also saves the observed values (or the exception's class) there.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from adapters.repro import orders
from adapters.repro.target import Code, NoScript, Target, indent, literal
from harness.trials import Inputs

INLINE = 256  # inputs of up to this many elements are written into the script; a larger trial's go to an .npz


@dataclass(frozen=True)
class Script:
    text: str
    arrays: dict[str, np.ndarray]  # to save beside the script as `npz` (numpy.savez_compressed); empty when inline
    npz: str  # the .npz file name the script loads, "" when every value is inline


def framework_module(framework: str):
    """The script module of a framework (keras-<backend>: Keras'), or NoScript."""
    from adapters.repro import jax_script, keras_script, tensorflow_script, torch_script

    if framework.startswith("keras-"):
        return keras_script
    modules = {"torch": torch_script, "tensorflow": tensorflow_script, "jax": jax_script}
    if framework not in modules:
        raise NoScript(f"no reproducer for framework {framework!r}: scripts are written for "
                       f"{', '.join([*modules, 'keras-<backend>'])}")
    return modules[framework]


def order_refusal(framework: str, order: str) -> str:
    """Why no script writes the derivative order of the framework's rows ('' when one does)."""
    try:
        module = framework_module(framework)
    except NoScript as e:
        return str(e)
    written = module.order_methods(framework) if hasattr(module, "order_methods") else {}
    return orders.refusal(framework, order, written)


def framework_code(t: Target) -> Code:
    """The framework's part of the script (a derivative order's: the loss wrapped in the order's autodiff calls),
    or NoScript with the reason there is none."""
    module = framework_module(t.framework)
    if not t.order:
        return module.code(t)
    why = order_refusal(t.framework, t.order)
    if why:
        raise NoScript(why)
    return module.order_code(t)


def _docstring(lines: list[str]) -> list[str]:
    text = "\n".join(lines).replace("\\", "\\\\").replace('"""', '\\"\\"\\"')
    return ['"""' + text, '"""']


def _arrays(t: Target, inputs: Inputs, expected, recorded, direction) -> dict[str, np.ndarray | None]:
    """Every value the script holds, by its variable name (without `_np`), in the dtype its literal takes."""
    x = t.case.input_kind

    def trial(a):  # bfloat16: its exact float32 values; the framework's part converts them
        return None if a is None else np.asarray(a).astype(np.float32) if t.dtype == "bfloat16" else np.asarray(a)
    labels = np.asarray(inputs.labels) if t.case.integer_labels else trial(inputs.labels)
    out = {x: trial(inputs.logits), "labels": labels, "class_weights": trial(inputs.class_weights),
           "sample_weights": trial(inputs.sample_weights), "v": trial(direction)}
    out["expected_loss"], out["expected_grad"] = expected if expected is not None else (None, None)
    for name, a in zip(("loss", "grad"), recorded, strict=False):  # in the answer's shape, where it has as many values
        like = out[f"expected_{name}"]
        out[f"recorded_{name}"] = a if a is None or like is None or np.size(like) != np.size(a) else np.reshape(a, np.shape(like))
    return out


def write(t: Target, inputs: Inputs, expected: tuple[np.ndarray, np.ndarray] | None,
          recorded: tuple[np.ndarray | None, np.ndarray | None], *, about: list[str], npz: str,
          expected_error: str = "", version: str = "", direction: np.ndarray | None = None) -> Script:
    """The script of a trial on a path. `expected`: the oracle's (loss, gradient), None when the case expects an
    error (`expected_error` says which); `recorded`: the run's observed values, flattened (None where the row has
    none); `about`: the docstring's lines; `npz`: the file name of the arrays when they do not fit inline;
    `version`: the framework's version in the run; `direction`: a derivative order's v (the target's order), in the
    trial dtype: `expected` and `recorded` then hold the loss and the order's value."""
    code = framework_code(t)
    values = _arrays(t, inputs, expected, recorded, direction)
    big = np.asarray(inputs.logits).size > INLINE
    lines = [*_docstring([*about, "", "Run: python <this file> [OUT.npz]   (OUT.npz: also save the observed values there)",
                          f"Needs only numpy and {code.requires}; nothing of the harness."]),
             "", "import os", "import sys", "", *code.prelude, "", "nan, inf = np.nan, np.inf", ""]
    float_dt = "float32" if t.dtype == "bfloat16" else t.dtype
    lines.append(f"# The inputs in the trial dtype ({t.dtype}), as the harness rounded them"
                 + (": bfloat16 values, written exactly as float32 and converted by the framework below" if t.dtype ==
                    "bfloat16" else ""))
    arrays: dict[str, np.ndarray] = {}
    if big:
        lines.append(f"data = np.load(os.path.join(os.path.dirname(os.path.abspath(__file__)), {npz!r}))")
    for name, a in values.items():
        if name.startswith(("expected_", "recorded_")):
            continue
        if a is None:
            continue
        if name == "v":
            lines.append("# v: the direction of the derivative, standard normal from the case's "
                         f"direction_seed ({t.case.direction_seed}), in the trial dtype")
        if big:
            arrays[name] = a
            lines.append(f"{name}_np = data[{name!r}]")
        else:
            lines.append(literal(f"{name}_np", a, t.dtype, a.dtype.name if a.dtype.kind in "iu" else float_dt))
    what = f"(loss, its {t.order})" if t.order else "(loss, gradient)"
    lines += ["", "", "def observe():",
              f'    """The row\'s call chain: {what} as float64 numpy arrays' + ("" if t.order else
                                                                             " (gradient None without autodiff)") + '."""',

              *indent(code.body), "", ""]
    lines.append("# The exact answer: the harness's oracle, in float64, from the same rounded inputs"
                 + (f" (expected_grad: the analytic {orders.split(t.order)[0]})" if t.order else "")
                 if expected is not None else f"# The case expects an error: {expected_error}")
    for name in ("expected_loss", "expected_grad", "recorded_loss", "recorded_grad"):
        if name == "recorded_loss":
            lines.append("# What the harness's run observed (its row's values), to confirm the reproduction")
        a = values[name]
        if a is None:
            lines.append(f"{name} = None")
        elif big:
            arrays[name] = np.asarray(a, dtype=np.float64)
            lines.append(f"{name} = data[{name!r}]")
        else:
            lines.append(literal(name, np.asarray(a, dtype=np.float64), "float64", "float64"))
    lines += [f"EXPECTED_ERROR = {('an error: ' + expected_error) if expected_error else ''!r}",
              f"DERIVATIVE = {orders.short(t.order) if t.order else 'gradient'!r}  # what observe() returns beside the loss",
              f"VERSIONS = ({t.framework!r}, {code.version}, {version!r})  # the framework, here, and in the run", *_MAIN]
    return Script(text="\n".join(lines) + "\n", arrays=arrays, npz=npz if big else "")


_MAIN = '''

def compare(name, observed, expected, recorded):
    """Print the observed values beside the expected ones (each element when few, else the largest difference), and
    whether they are the values the harness's run observed."""
    if observed is None:
        return print(f"{name}: none (no autodiff on this backend)")
    o = np.asarray(observed, dtype=np.float64)
    print(f"{name} {list(o.shape)}:")
    if expected is None or np.shape(expected) != o.shape:
        print(f"  observed {o.reshape(-1)[:8].tolist()}, expected {EXPECTED_ERROR or list(np.shape(expected))}")
    else:
        e = np.asarray(expected, dtype=np.float64)
        with np.errstate(invalid="ignore"):
            d = np.where((o == e) | (np.isnan(o) & np.isnan(e)), 0.0, np.abs(o - e))
        worst = np.unravel_index(int(np.argmax(np.nan_to_num(d, nan=np.inf))), o.shape)
        for i in list(np.ndindex(o.shape)) if o.size <= 12 else [worst]:
            print(f"  {[int(k) for k in i]}: observed {float(o[i])!r}, expected {float(e[i])!r}, difference {float(d[i])!r}")
        print(f"  {int((d != 0).sum())} of {o.size} elements differ from the exact answer")
    if recorded is not None:
        same = np.array_equal(o.reshape(-1), np.reshape(recorded, -1), equal_nan=True)
        print("  the same values as the harness's run" if same else "  NOT the values the harness's run observed")


def main():
    name, here, run = VERSIONS
    print(f"{name} {here}" + ("" if here == run or not run else f" (the run had {run}: values may differ)"))
    try:
        loss, grad = observe()
    except Exception as e:
        print(f"raised {type(e).__name__}: {e}\\nexpected: {EXPECTED_ERROR or 'a loss and the ' + DERIVATIVE}")
        if len(sys.argv) > 1:
            np.savez(sys.argv[1], error=type(e).__name__)
        raise
    if len(sys.argv) > 1:
        np.savez(sys.argv[1], loss=loss, **({} if grad is None else {"grad": grad}))
    compare("loss", loss, expected_loss, recorded_loss)
    compare(DERIVATIVE, grad, expected_grad, recorded_grad)


if __name__ == "__main__":
    main()'''.split("\n")
