"""The shards' environments: a table of their frameworks and machines, and the precision the frameworks ran in."""

from __future__ import annotations

import json

from harness.report.markup import esc
from harness.report.values import fmt, plain
from harness.results.rows import Row


def env_table(envs: list[dict]) -> str:
    """One line per shard: its framework (or the harness alone), versions, machine, GPU, CUDA and
    precision flags, the project's commit and the time it ran."""
    heads = ["shard", "version", "python", "OS", "CPU", "GPU", "CUDA / driver", "devices", "precision flags",
             "commit", "time", "other"]
    known = {"framework", "version", "python", "platform", "machine", "cpu", "processor", "gpus", "gpu", "cuda",
             "cudnn", "driver", "devices", "precision"}
    seen: set[str] = set()
    body: list[tuple[str, str]] = []
    for env in envs:
        if not isinstance(env, dict):
            continue
        ident = json.dumps(plain(env), sort_keys=True, default=str)
        if ident in seen:
            continue
        seen.add(ident)
        h = env.get("harness") or {}
        fws = env.get("frameworks") or {"harness": {"version": h.get("version")}}
        for name, fw in fws.items():
            fw = fw if isinstance(fw, dict) else {"version": fw}
            cuda = " / ".join(fmt(fw.get(k)) for k in ("cuda", "cudnn", "driver") if fw.get(k))
            cells = [name, fw.get("version"), fw.get("python") or h.get("python"), fw.get("platform") or h.get("platform"),
                     fw.get("cpu") or fw.get("processor") or h.get("cpu") or fw.get("machine"),
                     fw.get("gpus") or fw.get("gpu") or h.get("gpus"), cuda, fw.get("devices"), fw.get("precision"),
                     h.get("commit") or "?", h.get("time"), {k: v for k, v in fw.items() if k not in known}]
            body.append((str(name), "<tr>" + "".join(f"<td>{esc(c)}</td>" for c in cells) + "</tr>"))
    if not body:
        return '<p class="note">No environment recorded.</p>'
    return (f'<table class="env"><thead><tr>{"".join(f"<th>{h}</th>" for h in heads)}</tr></thead>'
            f'<tbody>{"".join(tr for _, tr in sorted(body, key=lambda b: b[0]))}</tbody></table>')


def precision_modes(envs: list[dict]) -> list[str]:
    """The precision modes the frameworks ran in (harness/core/precision.py), from the shards' environments."""
    modes = set()
    for env in envs:
        for fw in ((env or {}).get("frameworks") or {}).values() if isinstance(env, dict) else ():
            m = (fw.get("precision") or {}).get("mode") if isinstance(fw, dict) else None
            if m:
                modes.add(str(m))
    return sorted(modes)


def precision_line(rows: list[Row], envs: list[dict]) -> str:
    """The header's precision: exactly what the rows record (each distinct `precision` value and the frameworks whose
    rows carry it, harness/core/precision.py), nothing assumed; where no row records one (rows from before rows
    did), the modes the shards' environments name."""
    by: dict[str, set[str]] = {}
    for r in rows:
        if r.precision:
            by.setdefault(r.precision, set()).add(r.framework)
    if not by:
        modes = precision_modes(envs)
        return f'<p class="precision">precision: <b>{esc(", ".join(modes))}</b> (the rows record no flags)</p>' if modes else ""
    lines = sorted((", ".join(sorted(fws)), value) for value, fws in by.items())
    items = "".join(f"<dt>{esc(fws)}</dt><dd>{esc(value)}</dd>" for fws, value in lines)
    return f'<div class="precision"><b>precision, as the rows record it</b><dl>{items}</dl></div>'
