"""Progress of a run on the console: per framework the trials done out of its total, and the time left.

Read from the progress files the framework processes write anyway (harness/run/session.py): a
`TRIALS [...]` line once collection is done (the trial ids, case x dtype, that process will run) and
`BEGIN <row id>` before each row. The runner's loop, which polls those files for crashes and hangs,
hands every line here and ticks; nothing is asked of the framework processes. A framework is
`starting` until its TRIALS line (imports, collection). A trial counts as done once its process has
begun a later one. The time left of a framework is the expected cost of its remaining trials (the
cost model of harness/run/schedule.py) at the rate its done trials went over the last minute; the
run's is the longest. On a terminal a live display (rich) shows a bar per framework; otherwise,
as in CI logs, a plain `progress:` line at most every HARNESS_PROGRESS_INTERVAL seconds.
"""

from __future__ import annotations

import json
import math
import sys
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn

from harness.results.rows import parse_row_id
from harness.run.schedule import shard_costs
from harness.schema.model import Case

WINDOW_S = 60.0  # the rate of the last minute: frameworks that finish leave their cores to the others
SAMPLE_S = 1.0
LIVE_REFRESH_S = 0.25


def trial_of(rid: str, framework: str) -> str:
    """The trial id ('case[dtype]') of a row id of the framework's; a relation row ('case~relation[...]') is its case's."""
    case, _, _, dtype = parse_row_id(rid, framework)
    return f"{case.partition('~')[0]}[{dtype}]"


@dataclass
class Tally:
    """One framework: its trials (with their expected costs), those begun, the one in flight in each process."""

    name: str
    costs: dict[str, int]  # the cost model's expected cost of each trial of the case files
    planned: set[str] = field(default_factory=set)  # what its processes collected (a restart's TRIALS adds none)
    collected: bool = False  # a TRIALS line came: it is past its imports and collection
    begun: set[str] = field(default_factory=set)
    current: dict[str, str] = field(default_factory=dict)  # progress file -> trial in flight
    first: float | None = None  # when its first trial began
    samples: deque = field(default_factory=deque)  # (time, cost done), over the last WINDOW_S
    ended: bool = False

    def line(self, stream: str, text: str, now: float) -> None:
        if text.startswith("TRIALS "):
            try:
                self.planned.update(json.loads(text[7:]))
                self.collected = True
            except ValueError:
                pass
            self.current.pop(stream, None)
        elif text.startswith("PID "):  # a new worker in that file: the trial of the one before it is over
            self.current.pop(stream, None)
        elif text.startswith("BEGIN "):
            trial = trial_of(text[6:].strip(), self.name)
            if trial == self.current.get(stream):
                pass  # its next api path or device
            elif trial in self.begun:  # a relation row of a trial already counted: the one in flight is over
                self.current.pop(stream, None)
            else:
                self.begun.add(trial)
                self.current[stream] = trial
                self.first = self.first if self.first is not None else now

    def done(self) -> set[str]:
        done = self.begun & self.planned
        return done if self.ended else done - set(self.current.values())

    def cost(self, trials: Iterable[str]) -> int:
        mean = sum(self.costs.values()) // max(len(self.costs), 1)
        return sum(self.costs.get(t, mean) for t in trials)

    def sample(self, now: float) -> None:
        self.samples.append((now, self.cost(self.done())))
        while self.samples and now - self.samples[0][0] > WINDOW_S:
            self.samples.popleft()

    def left(self, now: float) -> float | None:
        """Seconds until its last trial is done; None until one is."""
        if self.ended or (self.collected and not self.planned):
            return 0.0
        done = self.done()
        if not self.planned or not done or self.first is None:
            return None
        now_cost = self.cost(done)
        t0, c0 = self.samples[0] if self.samples else (self.first, 0)
        if now - t0 < 10 or now_cost <= c0:  # too short a window, or nothing done in it: since the first trial
            t0, c0 = self.first, 0
        rate = (now_cost - c0) / max(now - t0, 1e-6)
        return self.cost(self.planned - done) / rate

    def state(self) -> str:
        if self.planned:
            return "done" if self.ended else "running"
        return "no trials" if self.ended or self.collected else "starting"


def duration(seconds: float) -> str:
    """A time left, as rounded as it is uncertain: '~15s', '~4m', '~1h05m'."""
    if seconds < 60:
        return f"~{max(5, 5 * math.ceil(seconds / 5))}s"
    if seconds < 3600:
        return f"~{round(seconds / 60)}m"
    return f"~{int(seconds // 3600)}h{round(seconds % 3600 / 60):02d}m"


class RunProgress:
    """What the runner tells (the lines of the progress files, the frameworks done), for a view to show."""

    def __init__(self, costs: dict[str, dict[str, int]], view, clock: Callable[[], float] = time.monotonic):
        self.tallies = {name: Tally(name, c) for name, c in costs.items()}
        self.view = view
        self.clock = clock
        self.last_sample = -math.inf

    def line(self, framework: str, stream: str, text: str) -> None:
        if framework in self.tallies:
            self.tallies[framework].line(stream, text, self.clock())

    def tick(self, ended: Iterable[str] = ()) -> None:
        now = self.clock()
        for name in ended:
            if name in self.tallies:
                self.tallies[name].ended = True
        if now - self.last_sample >= SAMPLE_S:
            self.last_sample = now
            for t in self.tallies.values():
                t.sample(now)
        self.view.show(self, now)

    def left(self, now: float) -> float | None:
        """The run's time left: its slowest framework's; None while one that runs has no estimate yet."""
        lefts = [t.left(now) for t in self.tallies.values() if not t.ended]
        return None if None in lefts else max(lefts, default=0.0)

    def summary(self, now: float) -> str:
        """One line: `progress: torch 120/400 trials, jax 30/900, keras-jax starting, oracle 12/12; ~4m left`."""
        parts, unit = [], " trials"
        for t in self.tallies.values():
            if t.planned:
                parts.append(f"{t.name} {len(t.done())}/{len(t.planned)}{unit}")
                unit = ""
            else:
                parts.append(f"{t.name} {t.state()}")
        left = self.left(now)
        tail = "finished" if all(t.ended for t in self.tallies.values()) else (
            "time left: estimating" if left is None else f"{duration(left)} left")
        return "progress: " + ", ".join(parts) + "; " + tail


class PlainView:
    """Lines for logs and pipes: one `progress:` line at most every `interval` seconds (0: none)."""

    def __init__(self, interval: float, write: Callable[[str], None] | None = None, clock=time.monotonic):
        self.interval = interval
        self.write = write or (lambda s: print(s, flush=True))
        self.next = clock() + interval

    def show(self, progress: RunProgress, now: float) -> None:
        if self.interval > 0 and now >= self.next:
            self.next = now + self.interval
            self.write(progress.summary(now))

    def close(self, progress: RunProgress, now: float) -> None:
        pass  # the runner says how each framework ended


class LiveView:
    """A terminal's live display: a bar per framework with its trials done, its state or time left, and the run's."""

    def __init__(self, console: Console, frameworks: list[str]):
        self.bars = Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[count]}"),
                             TextColumn("{task.fields[state]}"), console=console, auto_refresh=False)
        self.tasks = {n: self.bars.add_task(n, total=None, count="", state="starting") for n in frameworks}
        self.total = self.bars.add_task("all", total=None, count="", state="")
        self.last = -math.inf
        self.bars.start()

    def show(self, progress: RunProgress, now: float, force: bool = False) -> None:
        if not force and now - self.last < LIVE_REFRESH_S:
            return
        self.last = now
        done = total = 0
        for name, t in progress.tallies.items():
            n, of = len(t.done()), len(t.planned)
            done, total = done + n, total + of
            left = t.left(now)
            state = t.state() if t.state() != "running" else ("estimating" if left is None else f"{duration(left)} left")
            self.bars.update(self.tasks[name], total=of or None, completed=n, count=f"{n}/{of} trials" if of else "",
                             state=state)
        left = progress.left(now)
        state = "done" if all(t.ended for t in progress.tallies.values()) else (
            "estimating" if left is None else f"{duration(left)} left")
        self.bars.update(self.total, total=total or None, completed=done, count=f"{done}/{total} trials", state=state)
        self.bars.refresh()

    def close(self, progress: RunProgress, now: float) -> None:
        self.show(progress, now, force=True)
        self.bars.stop()


@contextmanager
def watch(cases: list[Case], frameworks: list[str], interval: float, console: Console | None = None,
          write: Callable[[str], None] | None = None) -> Iterator[RunProgress]:
    """The progress of a run of these cases and frameworks, shown live on a terminal and as plain lines otherwise."""
    console = console or Console(file=sys.stdout)
    view = LiveView(console, frameworks) if console.is_interactive else PlainView(interval, write)
    progress = RunProgress({f: shard_costs(cases, f) for f in frameworks}, view)
    try:
        yield progress
    finally:
        progress.tick()
        view.close(progress, progress.clock())
