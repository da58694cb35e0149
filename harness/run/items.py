"""Collection and the items: a case file becomes one pytest item per (case, dtype, framework, api, device), and one
per relation check; running an item runs one adapter path and records one row."""

from __future__ import annotations

import time
import traceback
import warnings
from pathlib import Path

import numpy as np
import pytest

from adapters.api import ApiPath, Observation, run_order
from harness import oracle
from harness.core import settings
from harness.core.yamlfile import CaseFileError
from harness.judge import assemble, relations, tolerances
from harness.judge.trial import against_oracle, golden
from harness.judge.verdicts import judge
from harness.oracle import orders
from harness.results.rows import FAILING, Row, order_case, row_id
from harness.run import repro
from harness.run.schedule import ORACLE
from harness.run.session import Session, state
from harness.schema.load import load_file
from harness.schema.model import Case
from harness.schema.orders import with_orders
from harness.trials import Trial


def is_case_file(file_path: Path, config) -> bool:
    """A YAML file under the `harness_cases` folders of the ini file, or under a path given on the command line."""
    if file_path.suffix not in (".yaml", ".yml"):
        return False
    root = Path(config.rootpath).resolve()
    fp = file_path.resolve()
    roots = [Path(p).resolve() for p in config.getini("harness_cases")]
    for a in config.args:
        p = Path(a.split("::")[0])
        p = (Path(config.invocation_params.dir) / p).resolve()
        if p != root:
            roots.append(p)
    return any(fp == r or r in fp.parents for r in roots)


class CaseFileProblem(Exception):
    pass


class CaseFile(pytest.File):
    def collect(self):
        st = state(self.config)
        try:
            cases = load_file(self.path)
        except CaseFileError as e:
            raise CaseFileProblem(str(e)) from None
        for case in cases:
            first = st.case_ids.setdefault(case.id, str(case.location))
            if first != str(case.location):
                raise CaseFileProblem(f"{case.location}: id: duplicate id {case.id!r}; first defined at {first}")
        asked = settings.orders()  # run --orders: where they apply, beside the case's own
        for case in cases:
            case = with_orders(case, asked) if asked else case
            yield from self._items(st, case)
            yield from _relation_items(self, st, case)

    def _items(self, st: Session, case: Case):
        for fw in st.frameworks:
            if fw == ORACLE:
                if case.expect.loss is not None:
                    yield TrialItem.from_parent(self, name=row_id(case.id, ORACLE, "golden", "cpu", "float64"),
                                                case=case, dtype="float64", framework=ORACLE, api_path=None, device="cpu")
                continue
            ad = st.adapter(fw)
            if ad is None:
                continue
            seen = st.seen_devices.setdefault(fw, ad.devices())
            devices = [d for d in seen if not st.devices_filter or d in st.devices_filter]
            # a device asked for that the framework does not see still gets its rows: they say so
            devices += [d for d in st.devices_filter if d not in seen and d not in devices]
            for dtype in case.dtypes:
                for device in devices:
                    for path in ad.paths():
                        if case.family not in path.families:
                            continue
                        rid = row_id(case.id, fw, path.name, device, dtype)
                        if rid in st.done:
                            continue
                        yield TrialItem.from_parent(self, name=rid, case=case, dtype=dtype, framework=fw,
                                                    api_path=path, device=device)
                        for order in case.orders:
                            for method in ad.order_methods.get(order, ()):
                                rid = row_id(order_case(case.id, f"{order}:{method}"), fw, path.name, device, dtype)
                                if rid not in st.done:
                                    yield OrderItem.from_parent(self, name=rid, case=case, dtype=dtype, framework=fw,
                                                                api_path=path, device=device, order=order, method=method)

    def repr_failure(self, excinfo, style=None):
        if isinstance(excinfo.value, CaseFileProblem):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style)


class ConformanceFailure(AssertionError):
    pass


class TrialItem(pytest.Item):
    cache_key: str | None = None  # the key its row is stored under in the row cache (harness/run/trialcache.py)

    def __init__(self, *, case: Case, dtype: str, framework: str, api_path: ApiPath | None, device: str, **kw):
        super().__init__(**kw)
        self.case, self.dtype, self.framework, self.api_path, self.device = case, dtype, framework, api_path, device
        for kwd in (framework, dtype, device, case.family, *case.tags):
            self.extra_keyword_matches.add(kwd)

    def reportinfo(self):
        return self.path, self.case.location.line, self.name

    def repr_failure(self, excinfo, style=None):
        """A conformance failure or a known difference reads like the report, with no traceback to build
        (pytest formats one for every failing or xfail item otherwise: ~0.2 s each)."""
        if isinstance(excinfo.value, (ConformanceFailure, pytest.xfail.Exception)):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style)

    def runtest(self):
        st = state(self.config)
        st.begin(self.name)
        t0 = time.perf_counter()
        try:
            row = self._row(st)
        except Exception as e:  # noqa: BLE001 - a harness bug becomes a row, and the run goes on
            row = assemble.harness_error(self._base_row(st), e, traceback.format_exc())
        row.duration_s = round(time.perf_counter() - t0, 6)
        row.repro = self._repro(st, row)
        st.record(row, self.cache_key)
        self.user_properties.append(("verdict", row.verdict))
        if row.verdict == "unsupported":
            pytest.skip(f"unsupported: {row.message}")
        if row.verdict == "known":
            pytest.xfail(f"known {row.raw_verdict}: {row.known_reason} ({row.known_link})")
        if row.verdict == "fixed":
            msg = f"{self.name}: recorded as {row.known_reason!r} but now passes: update known_differences"
            if self.config.getoption("strict_known"):
                raise ConformanceFailure(f"fixed (--strict-known): {msg}")
            warnings.warn(msg, stacklevel=1)
        if row.verdict in FAILING:
            raise ConformanceFailure(f"{row.verdict}: {row.message} [{self.name}; {row.call}]")

    def _repro(self, st: Session, row: Row) -> str:
        """A failing row's reproducer script, for the report (harness/run/repro.py); '' for the others."""
        if row.verdict not in FAILING or repro.refusal(row):
            return ""
        try:
            inputs, ref, _ = st.reference(Trial(self.case, self.dtype))  # kept from the row's own trial
            return repro.embedded(row, self.case, inputs, ref)
        except Exception:  # noqa: BLE001 - the row is the result; its script is an extra (`harness repro` writes it)
            return ""

    def _base_row(self, st: Session) -> Row:
        return assemble.base(
            self.name, self.case, self.framework, self.api_path.name if self.api_path else "golden", self.device, self.dtype,
            framework_version=(st.adapters[self.framework].version() if self.framework in st.adapters else ""),
            precision=st.precision.get(self.framework, ""))

    def _row(self, st: Session) -> Row:
        inputs, ref, tol = st.reference(Trial(self.case, self.dtype))
        if self.framework == ORACLE:
            obs, tol, out = golden(self.case, ref)
        else:
            ad = st.adapters[self.framework]
            missing = device_missing(ad.name, st.seen_devices.setdefault(self.framework, ad.devices()), self.device)
            if missing:
                return assemble.device_unavailable(self._base_row(st), missing, self.api_path.name)
            obs = ad.run(self.api_path, self.case, inputs, self.dtype, self.device)
            st.remember(self.case, (self.framework, self.api_path.name, self.dtype, self.device), obs)
            out = against_oracle(self.case, self.dtype, inputs, ref, tol, obs)
        return assemble.trial(self._base_row(st), out, obs, ref, tol, shape=list(self.case.predictions.shape),
                              allowances=self.framework != ORACLE)


class OrderItem(TrialItem):
    """A derivative beyond the gradient (harness/schema/orders.py) by one of the framework's ways of computing it."""

    def __init__(self, *, order: str, method: str, **kw):
        super().__init__(**kw)
        self.order, self.method = order, method
        for kwd in ("order", order, method):  # -k hvp: only the Hessian-vector products
            self.extra_keyword_matches.add(kwd)

    def _base_row(self, st: Session) -> Row:
        row = super()._base_row(st)
        row.case, row.order = order_case(self.case.id, f"{self.order}:{self.method}"), f"{self.order}:{self.method}"
        return row

    def _row(self, st: Session) -> Row:
        trial = Trial(self.case, self.dtype)
        try:
            inputs, ref, tol, v = st.order_reference(trial, self.order)
        except orders.NotJudged as e:
            return assemble.unsupported(self._base_row(st), f"harness: {e}")
        ad = st.adapters[self.framework]
        missing = device_missing(ad.name, st.seen_devices.setdefault(self.framework, ad.devices()), self.device)
        if missing:
            return assemble.device_unavailable(self._base_row(st), missing, self.api_path.name)
        obs = run_order(ad, self.api_path, self.case, inputs, self.dtype, self.device, self.order, self.method, v)
        out = judge(self.case, ref, obs, tol)  # the order only: no guard on the loss to flag
        return assemble.trial(self._base_row(st), out, obs, ref, tol, shape=list(self.case.predictions.shape),
                              allowances=True)


def _relation_items(parent: CaseFile, st: Session, case: Case):
    """One item per (relation, framework, api, dtype, device); the oracle checks each relation once, in float64."""
    for rel in case.relations:
        cid = relations.relation_case_id(case, rel)
        for fw in st.frameworks:
            if fw == ORACLE:
                dtype = "float64" if "float64" in case.dtypes else case.dtypes[0]
                rid = row_id(cid, ORACLE, "oracle", "cpu", dtype)
                if rid not in st.done:
                    yield RelationItem.from_parent(parent, name=rid, case=case, dtype=dtype, framework=ORACLE,
                                                   api_path=None, device="cpu", relation=rel)
                continue
            ad = st.adapter(fw)
            if ad is None:
                continue
            devices = [d for d in ad.devices() if not st.devices_filter or d in st.devices_filter]
            for dtype in case.dtypes:
                for device in devices:
                    for path in ad.paths():
                        if case.family not in path.families:
                            continue
                        rid = row_id(cid, fw, path.name, device, dtype)
                        if rid not in st.done:
                            yield RelationItem.from_parent(parent, name=rid, case=case, dtype=dtype, framework=fw,
                                                           api_path=path, device=device, relation=rel)


class RelationItem(TrialItem):
    """A relation checked on one framework path: the case and its partner formulation must agree."""

    def __init__(self, *, relation, **kw):
        super().__init__(**kw)
        self.relation = relation
        for kwd in ("relation_check", relation.kind, relation.name):  # -k relation_check: only relation items
            self.extra_keyword_matches.add(kwd)

    def _base_row(self, st: Session) -> Row:
        return assemble.for_relation(super()._base_row(st), self.case, self.relation,
                                     self.api_path.name if self.api_path else "oracle")

    def _row(self, st: Session) -> Row:
        inputs, ref, tol = st.reference(Trial(self.case, self.dtype))
        try:
            pt = relations.partner(self.case, self.relation, inputs, self.dtype)
        except relations.NothingToCount as e:
            return assemble.unsupported(self._base_row(st), str(e))
        ref_b = oracle.compute(pt.case, pt.inputs, self.dtype)
        tol_b = tolerances.for_trial(pt.case, self.dtype, ref_b, pt.inputs)
        if self.framework == ORACLE:
            obs_a = Observation(dtype=self.dtype, call="harness.oracle.compute", device="cpu", loss=ref.loss, grad=ref.grad)
            obs_b = Observation(dtype=self.dtype, call="harness.oracle.compute", device="cpu", loss=ref_b.loss, grad=ref_b.grad)
        else:
            ad = st.adapters[self.framework]
            path_b = relations.partner_path(self.api_path, pt.case.family, ad.paths())
            # the trial's own item made this observation just before (same process, same case); else anew
            obs_a = (st.recall(self.case, (self.framework, self.api_path.name, self.dtype, self.device))
                     or ad.run(self.api_path, self.case, inputs, self.dtype, self.device))
            if path_b is None:
                obs_b = Observation(dtype=self.dtype, unsupported=f"no {self.framework} path computes {pt.case.family} "
                                    f"the way {self.api_path.name} does")
            elif obs_a.unsupported:  # nothing to relate: the partner is not run, only asked whether it could be
                obs_b = Observation(dtype=self.dtype, unsupported=path_b.supports(pt.case, self.dtype) or "")
            else:
                obs_b = ad.run(path_b, pt.case, pt.inputs, self.dtype, self.device)
        loss_bound, grad_bound = relations.bound(tol, ref, tol_b, ref_b, pt)
        out = relations.judge(obs_a, obs_b, pt, loss_bound, grad_bound, self.dtype)
        return assemble.relation(self._base_row(st), out, obs_a, obs_b, pt, ref, tol, tol_b,
                                 shape=list(np.shape(inputs.logits)))


def device_missing(framework: str, seen: list[str], device: str) -> str:
    """Why a requested device cannot run this framework's trials ('' when it can).

    Nothing runs on another device instead: a framework without a usable GPU backend computes on the
    CPU (JAX with only a warning), and such a row would be a CPU result labelled as the GPU's.
    """
    if device in seen:
        return ""
    return (f"{device} was requested, but {framework} sees only {', '.join(seen)}: it has no usable backend for it "
            f"(a framework without one falls back to the CPU, JAX with only a warning), so nothing ran")
