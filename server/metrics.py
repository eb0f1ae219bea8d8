"""Prometheus text exposition, hand-written: counters and summaries kept in this process, and
gauges (jobs by status, queue depth) read from the store when scraped."""

from __future__ import annotations

import threading
from collections import defaultdict

Labels = tuple[tuple[str, str], ...]


class Metrics:
    """Thread-safe counters and summaries (count and sum) with labels."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.counters: dict[tuple[str, tuple[tuple[str, str], ...]], float] = defaultdict(float)
        self.summaries: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])

    def inc(self, name: str, value: float = 1.0, **labels: str) -> None:
        with self._lock:
            self.counters[(name, tuple(sorted(labels.items())))] += value

    def observe(self, name: str, value: float) -> None:
        with self._lock:
            s = self.summaries[name]
            s[0] += 1
            s[1] += value

    def render(self, gauges: dict[str, dict[Labels, float]]) -> str:
        lines: list[str] = []
        with self._lock:
            by_name: dict[str, list[tuple[tuple[tuple[str, str], ...], float]]] = defaultdict(list)
            for (name, labels), value in sorted(self.counters.items()):
                by_name[name].append((labels, value))
            for name, series in by_name.items():
                lines.append(f"# TYPE {name} counter")
                lines += [f"{name}{_labels(lb)} {v:g}" for lb, v in series]
            for name, (count, total) in sorted(self.summaries.items()):
                lines += [
                    f"# TYPE {name} summary",
                    f"{name}_count {count:g}",
                    f"{name}_sum {total:g}",
                ]
        for gauge, values in gauges.items():
            lines.append(f"# TYPE {gauge} gauge")
            lines += [f"{gauge}{_labels(lb)} {v:g}" for lb, v in values.items()]
        return "\n".join(lines) + "\n"


def _labels(labels: tuple[tuple[str, str], ...]) -> str:
    if not labels:
        return ""
    inner = ",".join(
        f'{k}="{v.replace(chr(92), chr(92) * 2).replace(chr(34), chr(92) + chr(34))}"'
        for k, v in labels
    )
    return "{" + inner + "}"
