"""The row cache in a framework's pytest process: a collected trial whose row is cached is served without running; one that ran is stored.

The runner passes `--row-cache DIR --row-cache-run ID` (harness/run/runcache.py). After collection, once
-k and --harness-shard have chosen the items, every item whose key (harness/run/cachekeys.py) has a row
in the cache is taken out of the session and its row recorded as it was stored, with the known
differences applied again and its `source` (file:line) the case's current one; the rest run, and each
row they record that is `cacheable` is stored under its key. Under pytest-xdist every worker takes the
same items out (they read the same files: none of this run's), and only the first one records their rows.
"""

from __future__ import annotations

from pathlib import Path

from harness.results.cachefiles import RowStore, cacheable
from harness.results.rows import Row
from harness.run.cachekeys import case_hash, env_key, relation_hash, row_key
from harness.schema.model import Case


class TrialCache:
    def __init__(self, folder: Path, run: str, worker: str, serves: bool, read: bool = True):
        self.folder, self.run, self.tag, self.serves, self.read = Path(folder), run, worker or "main", serves, read
        self.envs: dict[str, str] = {}  # framework -> its environment's key
        self.custom: dict[str, frozenset[str]] = {}  # framework -> the API names of a user's own loss paths
        self.stores: dict[str, RowStore] = {}
        self.hashes: dict[int, tuple[Case, str]] = {}  # id(case) -> (the case, kept alive; its hash)
        self.served = 0

    def environment(self, framework: str, environment: dict | None, adapter: object | None) -> None:
        """Key the framework's rows by its process's environment (what the shard's .env.json records of it)."""
        from adapters import custom

        self.envs[framework] = env_key(framework, environment, adapter)
        self.custom[framework] = frozenset(s.api for s in custom.from_env() if framework in s.frameworks)

    def store(self, framework: str) -> RowStore:
        if framework not in self.stores:
            self.stores[framework] = RowStore(self.folder / "rows" / framework, self.run, self.tag)
        return self.stores[framework]

    def key(self, item) -> str | None:
        """The cache key of an item's row; None where it has none (a user's own loss path, an unknown framework)."""
        env = self.envs.get(item.framework)
        api = item.api_path.name if item.api_path is not None else ""
        if env is None or api in self.custom.get(item.framework, ()):
            return None
        case, relation = item.case, getattr(item, "relation", None)
        if id(case) not in self.hashes:
            self.hashes[id(case)] = (case, case_hash(case))
        return row_key(env, self.hashes[id(case)][1], item.name, relation_hash(relation) if relation is not None else "")

    def take(self, items: list, record) -> list:
        """The items whose rows are not cached; a cached one's row is recorded (by the serving process) instead.
        Each item that stays carries its key (`cache_key`) for `put`."""
        keep = []
        for item in items:
            key = self.key(item) if hasattr(item, "case") else None
            if key is None:
                keep.append(item)
                continue
            store = self.store(item.framework)
            row = store.get(key) if self.read else None
            if row is None:
                item.cache_key = key
                keep.append(item)
                continue
            if self.serves:
                relation = getattr(item, "relation", None)
                row.source = str(relation.location if relation is not None else item.case.location)
                record(row)
                store.mark(key, item.name, self.envs[item.framework])
                self.served += 1
        return keep

    def put(self, row: Row, key: str) -> None:
        """Store a row the process computed, before the known differences are applied, if it may be served again."""
        if cacheable(row, self.custom.get(row.framework, frozenset())):
            self.store(row.framework).put(key, row, self.envs[row.framework])

    def close(self) -> None:
        for s in self.stores.values():
            s.close()
