"""The case schema: load YAML 1.2 case files and validate them strictly, with file:line:col errors."""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from harness.core.dtypes import FLOAT_DTYPES
from harness.schema import generators

# Families whose semantics (DESIGN.md; harness/oracle/softmax.py and harness/oracle/families.py) the oracle and the
# adapters implement. "labels": how the second input relates to the first (dense: same shape, a
# distribution over the class axis; sparse: integer class per row; elementwise: same shape, each in
# [0, 1]; cotangent: the upstream gradient of a building block, shaped like its output, ones when
# omitted). "input": what the first input holds, and so the key a case writes it under.
FAMILIES: dict[str, dict[str, Any]] = {
    "softmax_cross_entropy": {"labels": "dense", "input": "logits"},
    "sparse_softmax_cross_entropy": {"labels": "sparse", "input": "logits"},
    "sigmoid_cross_entropy": {"labels": "elementwise", "input": "logits"},
    "weighted_sigmoid_cross_entropy": {"labels": "elementwise", "input": "logits"},
    "categorical_crossentropy": {"labels": "dense", "input": "probabilities"},
    "binary_crossentropy": {"labels": "elementwise", "input": "probabilities"},
    "categorical_focal_crossentropy": {"labels": "dense", "input": "logits", "focal": True},
    "binary_focal_crossentropy": {"labels": "elementwise", "input": "logits", "focal": True},
    "log_softmax": {"labels": "cotangent", "input": "logits", "block": True},
    "softmax": {"labels": "cotangent", "input": "logits", "block": True},
    "logsumexp": {"labels": "cotangent", "input": "logits", "block": True, "reduces_classes": True},
}
# Integer dtypes sparse labels may be given in (what reaches the framework); a float dtype is allowed
# only in a case that expects an error (class indices must be integers).
LABEL_DTYPES = ("int64", "int32", "int16", "int8", "uint8")
ERROR_LABEL_DTYPES = ("float32", "float64")
REDUCTIONS = ("none", "sum", "mean", "weighted_mean")
PARAM_KEYS = (
    "reduction",
    "class_weights",
    "sample_weights",
    "label_smoothing",
    "ignore_index",
    "axis",
    "pos_weight",
    "gamma",
    "alpha",
    "label_dtype",
)
CASE_KEYS = (
    "id",
    "family",
    "description",
    "tags",
    "logits",
    "probabilities",
    "labels",
    "params",
    "dtypes",
    "expect",
    "tolerance",
    "sweep",
    "allow_nan",
    "relations",
)
SWEEPS = ("scale",)  # a sweep multiplies the logits by each value: one case per value
REQUIRED_KEYS = ("id", "family", "description")  # plus logits/probabilities and labels, by family
EXPECT_KEYS = ("loss", "error", "raises", "reason")
TOLERANCE_KEYS = ("loss_rtol", "loss_atol", "grad_rtol", "grad_atol", "reason")
MAX_FILE_BYTES = 4 * 1024 * 1024
MAX_NODES = 2_000_000


@dataclass(frozen=True)
class Location:
    file: str
    line: int  # 1-based
    col: int  # 1-based

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


@dataclass(frozen=True)
class Problem:
    location: Location
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.location}: {self.field}: {self.message}"


class CaseFileError(Exception):
    """One or more problems in case files; nothing from those files may run."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


@dataclass(frozen=True, eq=False)
class Literal:
    """An input array written out in the case file."""

    values: Any  # nested lists of numbers
    shape: tuple[int, ...]


@dataclass(frozen=True, eq=False)
class Generated:
    """An input produced by a named, seeded generator when the case runs."""

    name: str
    args: dict[str, Any]
    shape: tuple[int, ...]


InputSpec = Literal | Generated


@dataclass(frozen=True)
class Params:
    reduction: str = "none"
    class_weights: tuple[float, ...] | None = None
    sample_weights: tuple[float, ...] | None = None
    label_smoothing: float = 0.0
    ignore_index: int | None = None
    axis: int = -1
    pos_weight: float | tuple[float, ...] | None = None  # weighted_sigmoid_cross_entropy: scalar or per class
    gamma: float = 2.0  # focal families: exponent of the modulating factor (1 - p_t)^gamma
    alpha: float | None = None  # focal families: balancing weight (binary: alpha_t; categorical: a factor)
    label_dtype: str = "int64"  # sparse families: the integer dtype the labels reach the framework in

    def non_default(self) -> dict[str, Any]:
        """The options a case sets beyond the defaults (what an adapter path must support)."""
        out = {}
        for name, default in (
            ("class_weights", None),
            ("sample_weights", None),
            ("label_smoothing", 0.0),
            ("ignore_index", None),
            ("axis", -1),
            ("pos_weight", None),
            ("gamma", 2.0),
            ("alpha", None),
        ):
            if getattr(self, name) != default:
                out[name] = getattr(self, name)
        return out


@dataclass(frozen=True)
class Expect:
    loss: tuple[float, ...] | None = None
    error: bool = False
    reason: str = ""
    # with error: the exception classes that count as the expected error (any of them, or a subclass), by
    # class name ("IndexError", "InvalidArgumentError") or by the qualified name the class is defined under;
    # empty: any exception but a bug of the harness's own (harness/judge/verdicts.py)
    raises: tuple[str, ...] = ()


@dataclass(frozen=True)
class ToleranceOverride:
    reason: str
    loss_rtol: float | None = None
    loss_atol: float | None = None
    grad_rtol: float | None = None
    grad_atol: float | None = None


@dataclass(frozen=True)
class Relation:
    """Another formulation the case must agree with (harness/judge/relations.py says what each kind means)."""

    kind: str
    name: str  # unique within the case; the kind unless the case names it
    args: tuple[tuple[str, Any], ...] = ()
    location: Location = field(default=Location("<memory>", 0, 0), compare=False)

    def arg(self, key: str, default: Any = None) -> Any:
        return dict(self.args).get(key, default)


@dataclass(frozen=True)
class Case:
    id: str
    family: str
    description: str
    logits: InputSpec
    labels: InputSpec
    params: Params = Params()
    tags: tuple[str, ...] = ()
    dtypes: tuple[str, ...] = FLOAT_DTYPES
    expect: Expect = Expect()
    tolerance: ToleranceOverride | None = None
    location: Location = field(default=Location("<memory>", 0, 0), compare=False)
    sweep: str = ""  # the swept parameter ("scale") of a case expanded from a sweep, else ""
    logit_scale: float = 1.0  # the logits are multiplied by this (in float64, before rounding to the dtype)
    relations: tuple[Relation, ...] = ()  # formulations that must agree with this one, per framework

    @property
    def sparse(self) -> bool:
        return FAMILIES[self.family]["labels"] == "sparse"

    @property
    def elementwise(self) -> bool:
        """Sigmoid families: one loss per element, labels shaped like the logits."""
        return FAMILIES[self.family]["labels"] == "elementwise"

    @property
    def num_classes(self) -> int:
        return self.logits.shape[self.params.axis]

    @property
    def input_kind(self) -> str:
        """"logits" or "probabilities": what the first input (held in `logits`) means."""
        return FAMILIES[self.family]["input"]

    @property
    def block(self) -> bool:
        """A building block (log_softmax, softmax, logsumexp): its labels are the cotangent of its output."""
        return bool(FAMILIES[self.family].get("block"))


# --------------------------------------------------------------------------- loading


def _yaml() -> YAML:
    y = YAML(typ="rt")  # round-trip keeps line numbers; it never constructs Python objects
    y.version = (1, 2)
    y.allow_duplicate_keys = False
    return y


def load_paths(paths: list[str | Path]) -> list[Case]:
    """Load every case file under the given files/directories; raise CaseFileError listing all problems."""
    files: list[Path] = []
    problems: list[Problem] = []
    for p in paths:
        p = Path(p)
        if p.is_dir():
            files.extend(sorted([*p.rglob("*.yaml"), *p.rglob("*.yml")]))
        elif p.is_file():
            files.append(p)
        else:
            problems.append(Problem(Location(str(p), 0, 0), "path", "no such file or directory"))
    cases: list[Case] = []
    for f in files:
        try:
            cases.extend(load_file(f))
        except CaseFileError as e:
            problems.extend(e.problems)
    seen: dict[str, Case] = {}
    for c in cases:
        if c.id in seen:
            problems.append(
                Problem(c.location, "id", f"duplicate id {c.id!r}; first defined at {seen[c.id].location}")
            )
        else:
            seen[c.id] = c
    if problems:
        raise CaseFileError(problems)
    if not cases:
        raise CaseFileError([Problem(Location(", ".join(map(str, paths)), 0, 0), "cases", "no cases found")])
    return cases


def load_file(path: str | Path) -> list[Case]:
    path = Path(path)
    name = str(path)
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise CaseFileError(
            [Problem(Location(name, 0, 0), "file", f"{size} bytes is over the {MAX_FILE_BYTES}-byte limit")]
        )
    text = path.read_text(encoding="utf-8", errors="replace")
    from harness.schema import cache as case_cache  # parsed once per process, and once per run across its processes

    return list(case_cache.cached(text, name, load_text))


def load_text(text: str, name: str = "<string>") -> list[Case]:
    try:
        doc = _yaml().load(text)
    except MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        loc = Location(name, mark.line + 1, mark.column + 1) if mark else Location(name, 0, 0)
        raise CaseFileError([Problem(loc, "yaml", f"{e.problem or e}")]) from None
    except (YAMLError, ValueError, RecursionError) as e:
        raise CaseFileError([Problem(Location(name, 0, 0), "yaml", str(e).splitlines()[0])]) from None
    v = _Validator(name)
    cases = v.document(doc)
    if v.problems:
        raise CaseFileError(v.problems)
    return cases


# --------------------------------------------------------------------------- validation


class _Validator:
    def __init__(self, name: str):
        self.name = name
        self.problems: list[Problem] = []
        self.nodes = 0
        self.allow_nan = False

    # -- helpers
    def loc(self, node: Any, key: Any = None, parent: Any = None) -> Location:
        try:
            if parent is not None and key is not None:
                if isinstance(parent, CommentedMap):
                    line, col = parent.lc.value(key) if parent.lc.data.get(key) else parent.lc.key(key)
                    return Location(self.name, line + 1, col + 1)
                if isinstance(parent, CommentedSeq):
                    line, col = parent.lc.item(key)
                    return Location(self.name, line + 1, col + 1)
            if hasattr(node, "lc"):
                return Location(self.name, node.lc.line + 1, node.lc.col + 1)
        except (KeyError, IndexError, TypeError, AttributeError):
            pass
        if parent is not None and hasattr(parent, "lc"):
            return Location(self.name, parent.lc.line + 1, parent.lc.col + 1)
        return Location(self.name, 0, 0)

    def err(self, loc: Location, fieldname: str, message: str) -> None:
        self.problems.append(Problem(loc, fieldname, message))

    def check_keys(self, m: CommentedMap, allowed: tuple[str, ...], where: str) -> None:
        for k in m:
            if k not in allowed:
                hint = difflib.get_close_matches(str(k), allowed, n=1)
                extra = f"; did you mean {hint[0]!r}?" if hint else f"; allowed: {', '.join(allowed)}"
                self.err(self.loc(None, k, m), f"{where}{k}", f"unknown key{extra}")

    def count(self, node: Any, depth: int = 0) -> None:
        """Refuse documents that are too deep or too large (including alias expansion)."""
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise _Abort(f"document has more than {MAX_NODES} nodes (aliases count each time they are used)")
        if depth > 64:
            raise _Abort("document is nested more than 64 levels deep")
        if isinstance(node, dict):
            for v in node.values():
                self.count(v, depth + 1)
        elif isinstance(node, list):
            for v in node:
                self.count(v, depth + 1)

    # -- document
    def document(self, doc: Any) -> list[Case]:
        if doc is None:
            self.err(Location(self.name, 1, 1), "document", "empty file; expected a list of cases")
            return []
        try:
            self.count(doc)
        except _Abort as e:
            self.err(Location(self.name, 1, 1), "document", str(e))
            return []
        if not isinstance(doc, CommentedSeq):
            self.err(self.loc(doc), "document", f"expected a list of cases, got {_kind(doc)}")
            return []
        cases = []
        for i, item in enumerate(doc):
            if not isinstance(item, CommentedMap):
                self.err(self.loc(item, i, doc), f"[{i}]", f"expected a mapping (one case), got {_kind(item)}")
                continue
            before = len(self.problems)
            case = self.case(item, i)
            if case is not None and len(self.problems) == before:
                cases.extend(self.expand_sweep(case, item))
        return cases

    def expand_sweep(self, case: Case, m: CommentedMap) -> list[Case]:
        """A case with `sweep: {scale: [v, ...]}` becomes one case per value, id `<id>@scale=<v>`."""
        sw = m.get("sweep")
        if sw is None:
            return [case]
        where = f"{case.id}.sweep"
        if not isinstance(sw, CommentedMap) or len(sw) != 1 or next(iter(sw)) not in SWEEPS:
            self.err(self.loc(sw, "sweep", m), where, f"expected a mapping with one key of: {', '.join(SWEEPS)}")
            return []
        vals = _plain(sw["scale"])
        if not isinstance(vals, list) or not vals or not all(_is_number(v) and math.isfinite(v) and v > 0 for v in vals):
            self.err(self.loc(None, "scale", sw), f"{where}.scale", "expected a non-empty list of finite numbers > 0")
            return []
        if len(set(vals)) != len(vals):
            self.err(self.loc(None, "scale", sw), f"{where}.scale", "a value is listed twice")
            return []
        if case.expect.loss is not None:
            self.err(self.loc(sw, "sweep", m), where, "a sweep cannot carry golden loss values (one per scale would be needed)")
            return []
        return [replace(case, id=f"{case.id}@scale={float(v):g}", sweep="scale", logit_scale=float(v),
                        tags=case.tags if "sweep" in case.tags else (*case.tags, "sweep")) for v in vals]

    def case(self, m: CommentedMap, index: int) -> Case | None:
        cid = m.get("id")
        prefix = f"{cid}." if isinstance(cid, str) else f"[{index}]."
        self.check_keys(m, CASE_KEYS, prefix)
        for k in REQUIRED_KEYS:
            if k not in m:
                self.err(self.loc(m), f"{prefix}{k}", "required key is missing")
        if any(k not in m for k in REQUIRED_KEYS):
            return None
        family = m["family"]
        if isinstance(family, str) and family in FAMILIES:
            # the first input is written under the name of what it holds: logits or probabilities
            inkey = FAMILIES[family]["input"]
            other = "probabilities" if inkey == "logits" else "logits"
            if other in m:
                self.err(self.loc(None, other, m), f"{prefix}{other}", f"{family} takes {inkey}: write '{inkey}:'")
                return None
            needed = (inkey,) if FAMILIES[family]["labels"] == "cotangent" else (inkey, "labels")
            for k in needed:
                if k not in m:
                    self.err(self.loc(m), f"{prefix}{k}", "required key is missing")
            if any(k not in m for k in needed):
                return None
        ok = True
        if not isinstance(cid, str) or not cid or any(c.isspace() or c in "[]" for c in cid):
            self.err(self.loc(cid, "id", m), f"{prefix}id", "expected a non-empty string without spaces or brackets")
            ok = False
        family = m["family"]
        if not isinstance(family, str) or family not in FAMILIES:
            hint = difflib.get_close_matches(str(family), FAMILIES, n=1)
            extra = f"; did you mean {hint[0]!r}?" if hint else ""
            self.err(
                self.loc(family, "family", m),
                f"{prefix}family",
                f"unknown family {family!r}; implemented: {', '.join(FAMILIES)}{extra}",
            )
            return None
        desc = m["description"]
        if not isinstance(desc, str) or not desc.strip():
            self.err(self.loc(desc, "description", m), f"{prefix}description", "expected a non-empty string")
            ok = False
        tags = m.get("tags", [])
        if not isinstance(tags, list) or not all(isinstance(t, str) and t for t in tags):
            self.err(self.loc(tags, "tags", m), f"{prefix}tags", "expected a list of non-empty strings")
            ok = False
        dtypes = m.get("dtypes", list(FLOAT_DTYPES))
        if not isinstance(dtypes, list) or not dtypes or any(d not in FLOAT_DTYPES for d in dtypes):
            self.err(
                self.loc(dtypes, "dtypes", m),
                f"{prefix}dtypes",
                f"expected a non-empty list drawn from {', '.join(FLOAT_DTYPES)}, got {_plain(dtypes)!r}",
            )
            ok = False
        elif len(set(dtypes)) != len(dtypes):
            self.err(self.loc(dtypes, "dtypes", m), f"{prefix}dtypes", "a dtype is listed twice")
            ok = False
        self.allow_nan = m.get("allow_nan", False)
        if not isinstance(self.allow_nan, bool):
            self.err(self.loc(None, "allow_nan", m), f"{prefix}allow_nan", "expected true or false")
            self.allow_nan = False
        params = self.params(m.get("params", CommentedMap()), m, prefix)
        spec = FAMILIES[family]
        sparse = spec["labels"] == "sparse"
        elementwise = spec["labels"] == "elementwise"
        inkey = spec["input"]
        logits = self.input(m[inkey], inkey, m, prefix, kind=inkey)
        labels = None
        if spec["labels"] == "cotangent" and "labels" not in m:
            if logits is not None and params is not None:  # the gradient of the sum of the outputs
                shape = _out_shape(family, logits.shape, params.axis)
                labels = Generated(name="full", args={"shape": list(shape), "value": 1.0}, shape=shape)
        elif logits is not None or not isinstance(m["labels"], CommentedMap):  # generated labels need valid logits
            kind = {"sparse": "sparse", "cotangent": "cotangent"}.get(spec["labels"], "dense")
            labels = self.input(m["labels"], "labels", m, prefix, kind=kind, logits=logits,
                                axis=params.axis if params else -1)
        if elementwise and params is not None and not self.elementwise_ok(m, prefix, family, params, labels):
            return None
        expect = self.expect(m.get("expect", CommentedMap()), m, prefix)
        tol = self.tolerance(m.get("tolerance"), m, prefix)
        if not ok or params is None or logits is None or labels is None or expect is None or tol is False:
            return None
        if not self.consistent(m, prefix, logits, labels, params, sparse, expect):
            return None
        if not self.family_params(m, prefix, family, params, logits, labels, expect):
            return None
        case = Case(
            id=cid,
            family=family,
            description=desc.strip(),
            logits=logits,
            labels=labels,
            params=params,
            tags=tuple(tags),
            dtypes=tuple(dtypes),
            expect=expect,
            tolerance=tol,
            location=self.loc(m),
        )
        case = self.generated_class_weights(case, prefix)
        return None if case is None else self.relations(case, m, prefix)

    def params(self, p: Any, m: CommentedMap, prefix: str) -> Params | None:
        where = f"{prefix}params"
        if not isinstance(p, CommentedMap):
            self.err(self.loc(p, "params", m), where, f"expected a mapping, got {_kind(p)}")
            return None
        self.check_keys(p, PARAM_KEYS, where + ".")
        before = len(self.problems)
        kw: dict[str, Any] = {}
        if "reduction" in p:
            if p["reduction"] not in REDUCTIONS:
                self.err(self.loc(None, "reduction", p), f"{where}.reduction", f"expected one of {', '.join(REDUCTIONS)}, got {p['reduction']!r}")
            else:
                kw["reduction"] = p["reduction"]
        self.weights_spec = None
        for key in ("class_weights", "sample_weights"):
            if key in p:
                v = p[key]
                if key == "class_weights" and isinstance(v, CommentedMap):  # a generator: resolved once classes are known
                    self.weights_spec = (v, p)
                elif not isinstance(v, list) or not v or not all(
                        _is_number(x) and ((math.isfinite(x) and x >= 0) or (self.allow_nan and math.isnan(x))) for x in v):
                    self.err(self.loc(None, key, p), f"{where}.{key}",
                             "expected a non-empty list of finite numbers >= 0 (NaN only with allow_nan: true)")
                else:
                    kw[key] = tuple(float(x) for x in v)
        if "label_smoothing" in p:
            v = p["label_smoothing"]
            if not _is_number(v) or not (0.0 <= v <= 1.0):
                self.err(self.loc(None, "label_smoothing", p), f"{where}.label_smoothing", f"expected a number in [0, 1], got {_plain(v)!r}")
            else:
                kw["label_smoothing"] = float(v)
        if "ignore_index" in p:
            v = p["ignore_index"]
            if not isinstance(v, int) or isinstance(v, bool):
                self.err(self.loc(None, "ignore_index", p), f"{where}.ignore_index", f"expected an integer, got {_plain(v)!r}")
            else:
                kw["ignore_index"] = int(v)
        if "pos_weight" in p:
            v = _plain(p["pos_weight"])
            if _is_number(v) and math.isfinite(v) and v >= 0:
                kw["pos_weight"] = float(v)
            elif isinstance(v, list) and v and all(_is_number(x) and math.isfinite(x) and x >= 0 for x in v):
                kw["pos_weight"] = tuple(float(x) for x in v)
            else:
                self.err(self.loc(None, "pos_weight", p), f"{where}.pos_weight", "expected a number >= 0 or a list of them (one per class)")
        if "gamma" in p:
            v = p["gamma"]
            if not _is_number(v) or not (math.isfinite(v) and v >= 0):
                self.err(self.loc(None, "gamma", p), f"{where}.gamma", f"expected a finite number >= 0, got {_plain(v)!r}")
            else:
                kw["gamma"] = float(v)
        if "alpha" in p:
            v = p["alpha"]
            if not _is_number(v) or not (0.0 <= v <= 1.0):
                self.err(self.loc(None, "alpha", p), f"{where}.alpha", f"expected a number in [0, 1], got {_plain(v)!r}")
            else:
                kw["alpha"] = float(v)
        if "label_dtype" in p:
            v = p["label_dtype"]
            if v not in LABEL_DTYPES + ERROR_LABEL_DTYPES:
                self.err(self.loc(None, "label_dtype", p), f"{where}.label_dtype",
                         f"expected one of {', '.join(LABEL_DTYPES + ERROR_LABEL_DTYPES)}, got {_plain(v)!r}")
            else:
                kw["label_dtype"] = str(v)
        if "axis" in p:
            v = p["axis"]
            if not isinstance(v, int) or isinstance(v, bool):
                self.err(self.loc(None, "axis", p), f"{where}.axis", f"expected an integer, got {_plain(v)!r}")
            else:
                kw["axis"] = int(v)
        if len(self.problems) != before:
            return None
        return Params(**kw)

    def input(self, v: Any, key: str, m: CommentedMap, prefix: str, kind: str, logits: InputSpec | None = None,
              axis: int = -1) -> InputSpec | None:
        where = f"{prefix}{key}"
        loc = self.loc(v, key, m)
        if isinstance(v, CommentedMap) and kind == "cotangent":
            kind = "dense"  # a generated cotangent is shaped like the input (log_softmax, softmax)
        if isinstance(v, CommentedMap):
            if "generate" not in v:
                self.err(loc, where, "a mapping input needs 'generate: NAME' (one of: {})".format(", ".join(generators.names(kind))))
                return None
            name = v["generate"]
            args = {k: _plain(x) for k, x in v.items() if k != "generate"}
            try:
                shape = generators.validate(name, args, kind, None if logits is None else logits.shape, axis)
            except generators.GeneratorError as e:
                self.err(self.loc(None, e.field or "generate", v) if e.field in v else loc, f"{where}.{e.field or 'generate'}", str(e))
                return None
            return Generated(name=name, args=args, shape=shape)
        if not isinstance(v, list):
            self.err(loc, where, f"expected a nested list or a generator mapping, got {_kind(v)}")
            return None
        values = _plain(v)
        shape = _shape(values)
        if shape is None:
            self.err(loc, where, "ragged nested list: every row must have the same length")
            return None
        flat = _flatten(values)
        if kind == "sparse":
            bad = [x for x in flat if not (isinstance(x, int) and not isinstance(x, bool))]
            if bad:
                self.err(loc, where, f"sparse labels must be integers, got {bad[0]!r}")
                return None
        else:
            bad = [x for x in flat if not _is_number(x)]
            if bad:
                self.err(loc, where, f"expected numbers, got {bad[0]!r}")
                return None
            if kind in ("dense", "cotangent") and not self.allow_nan and any(math.isnan(x) for x in flat):
                self.err(loc, where, "NaN in labels (set allow_nan: true if the case means it)")
                return None
            if kind == "probabilities" and any(not (0.0 <= x <= 1.0) and not (self.allow_nan and math.isnan(x)) for x in flat):
                self.err(loc, where, "probabilities must lie in [0, 1] (rows need not sum to 1)")
                return None
        if kind in ("logits", "probabilities") and len(shape) < 2:
            self.err(loc, where, f"expected at least 2 dimensions [batch, classes], got shape {list(shape)}")
            return None
        return Literal(values=values, shape=shape)

    def expect(self, e: Any, m: CommentedMap, prefix: str) -> Expect | None:
        where = f"{prefix}expect"
        if not isinstance(e, CommentedMap):
            self.err(self.loc(e, "expect", m), where, f"expected a mapping, got {_kind(e)}")
            return None
        self.check_keys(e, EXPECT_KEYS, where + ".")
        loss = None
        if "loss" in e:
            v = _plain(e["loss"])
            if _is_number(v):
                v = [v]
            if not isinstance(v, list) or not all(_is_number(x) for x in v):
                self.err(self.loc(None, "loss", e), f"{where}.loss", "expected a number or a list of numbers")
                return None
            loss = tuple(float(x) for x in v)
        error = e.get("error", False)
        if not isinstance(error, bool):
            self.err(self.loc(None, "error", e), f"{where}.error", f"expected true or false, got {_plain(error)!r}")
            return None
        reason = e.get("reason", "")
        if not isinstance(reason, str):
            self.err(self.loc(None, "reason", e), f"{where}.reason", "expected a string")
            return None
        if error and loss is not None:
            self.err(self.loc(e), where, "a case cannot expect both an error and a loss")
            return None
        raises: tuple[str, ...] = ()
        if "raises" in e:
            v = _plain(e["raises"])
            v = [v] if isinstance(v, str) else v
            if (not isinstance(v, list) or not v
                    or not all(isinstance(x, str) and all(p.isidentifier() for p in x.split(".")) for x in v)):
                self.err(self.loc(None, "raises", e), f"{where}.raises",
                         "expected an exception class name or a list of them, e.g. [IndexError, InvalidArgumentError]")
                return None
            if not error:
                self.err(self.loc(None, "raises", e), f"{where}.raises", "names the expected error: set error: true")
                return None
            raises = tuple(v)
        return Expect(loss=loss, error=error, reason=reason, raises=raises)

    def tolerance(self, t: Any, m: CommentedMap, prefix: str) -> ToleranceOverride | None | bool:
        if t is None:
            return None
        where = f"{prefix}tolerance"
        if not isinstance(t, CommentedMap):
            self.err(self.loc(t, "tolerance", m), where, f"expected a mapping, got {_kind(t)}")
            return False
        self.check_keys(t, TOLERANCE_KEYS, where + ".")
        ok = True
        reason = t.get("reason")
        if not isinstance(reason, str) or not reason.strip():
            loc = self.loc(None, "reason", t) if "reason" in t else self.loc(t)
            self.err(loc, f"{where}.reason", "a tolerance override must say why (a non-empty reason: ...)")
            ok = False
        kw = {}
        for k in TOLERANCE_KEYS[:-1]:
            if k in t:
                # finite and >= 0: an infinite (or NaN) allowance would pass any answer, a negative one none
                v = _finite(t[k])
                if v is None or v < 0:
                    self.err(self.loc(None, k, t), f"{where}.{k}", f"expected a finite number >= 0, got {_plain(t[k])!r}")
                    ok = False
                else:
                    kw[k] = v
        if not ok:
            return False
        return ToleranceOverride(reason=reason.strip(), **kw)

    def elementwise_ok(self, m, prefix, family, params, labels) -> bool:
        """Sigmoid families: classes are the last axis, labels are probabilities, pos_weight only where weighted."""
        ok = True
        if params.axis != -1:
            self.err(self.loc(None, "params", m), f"{prefix}params.axis", "sigmoid families are elementwise: classes are the last axis (-1)")
            ok = False
        if params.pos_weight is not None and family != "weighted_sigmoid_cross_entropy":
            self.err(self.loc(None, "params", m), f"{prefix}params.pos_weight", "applies to weighted_sigmoid_cross_entropy only")
            ok = False
        if isinstance(labels, Literal) and any(not (0.0 <= x <= 1.0) and not (self.allow_nan and math.isnan(x))
                                               for x in _flatten(labels.values)):
            self.err(self.loc(None, "labels", m), f"{prefix}labels", "sigmoid labels are probabilities in [0, 1]")
            ok = False
        return ok

    @staticmethod
    def family_name(m: CommentedMap) -> str:
        return str(m["family"])

    def family_params(self, m, prefix, family, params, logits, labels, expect) -> bool:
        """Options that belong to some families only."""
        spec = FAMILIES[family]
        where = f"{prefix}params"
        ok = True
        if not spec.get("focal"):
            for k in ("gamma", "alpha"):
                if isinstance(m.get("params"), CommentedMap) and k in m["params"]:
                    self.err(self.loc(None, k, m["params"]), f"{where}.{k}", "applies to the focal families only")
                    ok = False
        if params.label_dtype != "int64" or (isinstance(m.get("params"), CommentedMap) and "label_dtype" in m["params"]):
            loc = self.loc(None, "label_dtype", m["params"])
            if spec["labels"] != "sparse":
                self.err(loc, f"{where}.label_dtype", "applies to integer (sparse) labels only")
                ok = False
            elif params.label_dtype in ERROR_LABEL_DTYPES and not expect.error:
                self.err(loc, f"{where}.label_dtype",
                         f"class indices are integers: {params.label_dtype} labels only in a case that expects an error")
                ok = False
            elif params.label_dtype in LABEL_DTYPES and isinstance(labels, Literal):
                info = np.iinfo(params.label_dtype)
                bad = [x for x in _flatten(labels.values) if not info.min <= x <= info.max]
                if bad:
                    self.err(self.loc(None, "labels", m), f"{prefix}labels", f"label {bad[0]} does not fit in {params.label_dtype}")
                    ok = False
            elif params.label_dtype in LABEL_DTYPES and np.iinfo(params.label_dtype).max < logits.shape[params.axis] - 1:
                self.err(loc, f"{where}.label_dtype",
                         f"{params.label_dtype} cannot hold the class indices of {logits.shape[params.axis]} classes")
                ok = False
        if spec.get("block"):
            extra = sorted(set(params.non_default()) - {"axis"})
            if params.reduction != "none" or extra:
                what = ", ".join([*(["reduction"] if params.reduction != "none" else []), *extra])
                self.err(self.loc(None, "params", m), where,
                         f"{family} is a building block: it takes only axis (reduction is none), not {what}")
                ok = False
        if spec["input"] == "probabilities" and "sweep" in m:
            self.err(self.loc(None, "sweep", m), f"{prefix}sweep", "a scale sweep multiplies logits; this family takes probabilities")
            ok = False
        return ok

    def consistent(self, m, prefix, logits, labels, params, sparse, expect) -> bool:
        ok = True
        nd = len(logits.shape)
        axis = params.axis
        if not -nd <= axis < nd:
            self.err(self.loc(None, "params", m), f"{prefix}params.axis", f"axis {axis} out of range for logits of {nd} dimensions")
            return False
        classes = logits.shape[axis]
        batch_shape = tuple(s for i, s in enumerate(logits.shape) if i != axis % nd)
        if expect.error and labels.shape != (batch_shape if sparse else logits.shape):
            pass  # a case about labels of the wrong shape: the expected outcome is the framework's error
        elif FAMILIES[self.family_name(m)]["labels"] == "cotangent":
            want = _out_shape(self.family_name(m), logits.shape, axis)
            if labels.shape != want:
                self.err(self.loc(None, "labels", m), f"{prefix}labels",
                         f"the cotangent has shape {list(labels.shape)}, but the output has shape {list(want)}")
                ok = False
        elif sparse:
            if labels.shape != batch_shape:
                self.err(self.loc(None, "labels", m), f"{prefix}labels", f"shape {list(labels.shape)} does not match logits {list(logits.shape)} without the class axis: expected {list(batch_shape)}")
                ok = False
            elif isinstance(labels, Literal) and not expect.error:
                for x in _flatten(labels.values):
                    if not (0 <= x < classes) and x != params.ignore_index:
                        self.err(self.loc(None, "labels", m), f"{prefix}labels", f"label {x} is out of range for {classes} classes (set expect: {{error: true}} if the case means it)")
                        ok = False
                        break
        elif labels.shape != logits.shape:
            self.err(self.loc(None, "labels", m), f"{prefix}labels", f"shape {list(labels.shape)} does not match logits {list(logits.shape)}")
            ok = False
        if params.class_weights is not None and len(params.class_weights) != classes:
            self.err(self.loc(None, "params", m), f"{prefix}params.class_weights", f"{len(params.class_weights)} weights for {classes} classes")
            ok = False
        rows = batch_shape[0] if batch_shape else 1
        if params.sample_weights is not None and len(params.sample_weights) != rows:
            self.err(self.loc(None, "params", m), f"{prefix}params.sample_weights", f"{len(params.sample_weights)} weights for {rows} rows")
            ok = False
        if params.ignore_index is not None and not sparse:
            self.err(self.loc(None, "params", m), f"{prefix}params.ignore_index", "applies to integer labels only")
            ok = False
        pw = params.pos_weight
        if isinstance(pw, tuple) and len(pw) != classes:
            self.err(self.loc(None, "params", m), f"{prefix}params.pos_weight", f"{len(pw)} weights for {classes} classes")
            ok = False
        return ok


    # -- class weights from a generator (harness/schema/generators.py), e.g. {generate: imbalanced_weights, ratio: 1000}
    def generated_class_weights(self, case: Case, prefix: str) -> Case | None:
        spec = getattr(self, "weights_spec", None)
        if spec is None:
            return case
        v, p = spec
        where = f"{prefix}params.class_weights"
        args = {str(k): _plain(x) for k, x in v.items() if k != "generate"}
        try:
            w = generators.class_weights(v.get("generate"), args, case.num_classes)
        except generators.GeneratorError as e:
            loc = self.loc(None, e.field, v) if e.field in v else self.loc(None, "class_weights", p)
            self.err(loc, f"{where}.{e.field or 'generate'}", str(e))
            return None
        return replace(case, params=replace(case.params, class_weights=w))

    # -- relations (harness/judge/relations.py)
    def relations(self, case: Case, m: CommentedMap, prefix: str) -> Case | None:
        """`relations: [kind, {kind: K, name: N, <args>}]`: parse, and check each applies to the case."""
        if "relations" not in m:
            return case
        from harness.schema import relation_rules as rl  # the rules build on this module

        where = f"{prefix}relations"
        v = m["relations"]
        if not isinstance(v, CommentedSeq) or not v:
            self.err(self.loc(v, "relations", m), where, "expected a non-empty list of relation kinds or mappings")
            return None
        out: list[Relation] = []
        for i, item in enumerate(v):
            loc = self.loc(item, i, v)
            w = f"{where}[{i}]"
            if isinstance(item, str):
                item = CommentedMap({"kind": item})
            if not isinstance(item, CommentedMap):
                self.err(loc, w, f"expected a relation kind or a mapping, got {_kind(item)}")
                continue
            kind = item.get("kind")
            if not isinstance(kind, str) or kind not in rl.KINDS:
                hint = difflib.get_close_matches(str(kind), rl.KINDS, n=1)
                extra = f"; did you mean {hint[0]!r}?" if hint else ""
                self.err(loc, f"{w}.kind", f"unknown relation {kind!r}; known: {', '.join(rl.KINDS)}{extra}")
                continue
            spec = rl.KINDS[kind]
            before = len(self.problems)
            self.check_keys(item, ("kind", "name", *spec), f"{w}.")
            name = item.get("name", kind)
            if not isinstance(name, str) or not name or any(c.isspace() or c in "[]~" for c in name):
                self.err(loc, f"{w}.name", "expected a non-empty string without spaces, brackets or '~'")
                continue
            args = []
            for key, typ in spec.items():
                if key in item:
                    a = _plain(item[key])
                    if typ == "int" and not (isinstance(a, int) and not isinstance(a, bool)):
                        self.err(self.loc(None, key, item), f"{w}.{key}", f"expected an integer, got {a!r}")
                    args.append((key, a))
            if len(self.problems) != before:
                continue
            rel = Relation(kind=kind, name=name, args=tuple(args), location=loc)
            if any(r.name == name for r in out):
                self.err(loc, f"{w}.name", f"relation {name!r} is listed twice; tell them apart with name:")
                continue
            why = rl.problem(case, rel)
            if why:
                self.err(loc, f"{w}", f"{kind}: {why}")
                continue
            out.append(rel)
        if len(out) != len(v):
            return None
        return replace(case, relations=tuple(out))


class _Abort(Exception):
    pass


def _out_shape(family: str, shape: tuple[int, ...], axis: int) -> tuple[int, ...]:
    """The output shape of a building block: the input's, or without the class axis for logsumexp."""
    if FAMILIES[family].get("reduces_classes") and -len(shape) <= axis < len(shape):
        return tuple(s for i, s in enumerate(shape) if i != axis % len(shape))
    return tuple(shape)


def _kind(v: Any) -> str:
    if isinstance(v, dict):
        return "a mapping"
    if isinstance(v, list):
        return "a list"
    if v is None:
        return "nothing"
    return f"{type(v).__name__} {v!r}"


def _plain(v: Any) -> Any:
    """ruamel's round-trip types to plain Python (lists, dicts, int, float, str, bool)."""
    if isinstance(v, dict):
        return {str(k): _plain(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_plain(x) for x in v]
    if isinstance(v, bool):
        return bool(v)
    if isinstance(v, int):
        return int(v)
    if isinstance(v, float):
        return float(v)
    if isinstance(v, str):
        return str(v)
    return v


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _finite(v: Any) -> float | None:
    """v as a float when it is a finite number (not a bool, not too large for a float), else None."""
    if not _is_number(v):
        return None
    try:
        f = float(v)
    except OverflowError:
        return None
    return f if math.isfinite(f) else None


def _shape(values: Any) -> tuple[int, ...] | None:
    if not isinstance(values, list):
        return ()
    if not values:
        return (0,)
    shapes = {_shape(v) for v in values}
    if len(shapes) != 1 or None in shapes:
        return None
    return (len(values), *shapes.pop())


def _flatten(values: Any) -> list[Any]:
    if isinstance(values, list):
        return [x for v in values for x in _flatten(v)]
    return [values]
