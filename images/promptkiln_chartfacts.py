"""Record what matplotlib drew, for promptkiln's content checks: the chart-facts hook.

Installed into the sandbox image's site-packages and imported at interpreter start by
``promptkiln-seed.pth``, so it is in place in a cold ``python3 main.py`` and in the warm
interpreter (which imports matplotlib before any job exists) alike, and on the E2B template,
which is built from the same Dockerfile. It does not import matplotlib: a finder on
``sys.meta_path`` waits until ``matplotlib.figure`` is imported by someone else and then wraps
``Figure.savefig`` (``pyplot.savefig`` calls it). After each save it reads the figure's own
objects -- per axes: title, axis labels, legend entries, bar containers (label, category,
height, bottom), lines (label, x, y), pie wedges (label, fraction), scatter offsets, other
patches -- and rewrites :data:`PATH` (outside the working directory, so it is never an output)
with every figure saved so far. The host reads that file through the sandbox API after the run.

What these facts are trusted for: catching a *confused* model's wrong chart (the sums where
the means were asked, one line where one per city was asked, a placeholder title). They are
written by the script's own process, so a *hostile* script can write anything here; it gains
nothing by it but a wrong verdict on its own files, which never leave the sandbox unchecked by
the other rules. Isolation is the security boundary, not these facts.

Everything is bounded (figures, axes, artists, points, characters) and nothing here ever
raises into the script: a failure to record leaves the save as it was.
"""

import contextlib
import importlib.abc
import json
import os
import sys

PATH = "/home/user/.promptkiln/chart-facts.json"
WORKDIR = "/home/user/work"
MAX_FIGURES = 40
MAX_AXES = 12
MAX_ARTISTS = 60
MAX_POINTS = 400
MAX_TEXT = 200

_saved = []


def _text(value):
    try:
        return str(value)[:MAX_TEXT]
    except Exception:
        return ""


def _num(value):
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return f if f == f and f not in (float("inf"), float("-inf")) else None


def _nums(values):
    out = []
    try:
        for v in list(values)[:MAX_POINTS]:
            out.append(_num(v))
    except Exception:
        pass
    return out


def _categories(axis):
    """position -> category name of a categorical (string) axis, or {}."""
    try:
        mapping = getattr(axis.get_units(), "_mapping", None)
        if mapping:
            return {float(pos): _text(name) for name, pos in list(mapping.items())[:MAX_POINTS]}
    except Exception:
        pass
    return {}


def _ticks(axis):
    """(position, label) of the axis's labelled ticks, as drawn."""
    out = []
    try:
        locs = axis.get_ticklocs()
        labels = axis.get_ticklabels()
        for loc, label in zip(locs, labels, strict=False):
            text = label.get_text()
            if text:
                out.append([float(loc), _text(text)])
    except Exception:
        pass
    return out[:MAX_POINTS]


def _label_at(pos, cats, ticks, tolerance):
    if pos is None:
        return None
    for table in (cats, dict(ticks)):
        if not table:
            continue
        best = min(table, key=lambda p: abs(p - pos))
        if abs(best - pos) <= tolerance:
            return table[best]
    return None


def _bars(ax, container, horizontal):
    """One bar container: each bar's category, height (width for barh) and bottom."""
    axis = ax.yaxis if horizontal else ax.xaxis
    cats, ticks = _categories(axis), _ticks(axis)
    bars = []
    patches = list(container.patches)[:MAX_POINTS]
    for rect in patches:
        try:
            if horizontal:
                center = rect.get_y() + rect.get_height() / 2
                size, value, base = rect.get_height(), rect.get_width(), rect.get_x()
            else:
                center = rect.get_x() + rect.get_width() / 2
                size, value, base = rect.get_width(), rect.get_height(), rect.get_y()
        except Exception:
            continue
        label = _label_at(_num(center), cats, ticks, max(abs(size), 0.5))
        bars.append(
            {
                "category": label,
                "pos": _num(center),
                "width": _num(size),
                "value": _num(value),
                "bottom": _num(base),
            }
        )
    return bars


def _wedges(ax):
    out = []
    for patch in list(ax.patches)[:MAX_POINTS]:
        if type(patch).__name__ != "Wedge":
            continue
        try:
            span = (float(patch.theta2) - float(patch.theta1)) / 360.0
        except Exception:
            continue
        label = patch.get_label()
        out.append(
            {
                "label": _text(label) if label and not label.startswith("_") else None,
                "fraction": _num(span),
            }
        )
    if out and all(w["label"] is None for w in out):
        texts = [t.get_text() for t in ax.texts if t.get_text()]
        # pie(labels=...) writes one text per wedge, then (autopct) one per wedge again
        for wedge, text in zip(out, texts, strict=False):
            wedge["label"] = _text(text)
    return out


def _day(value):
    """A date (or date-time) as ISO text: ``2024-01-05``, the time only when there is one."""
    text = value.isoformat() if hasattr(value, "isoformat") else str(value)
    date, _, time = text.replace(" ", "T").partition("T")
    return date if not time or time.strip("0:.") == "" else f"{date}T{time}"


def _is_date_axis(axis):
    try:
        conv = axis.get_converter() if hasattr(axis, "get_converter") else axis.converter
    except Exception:
        return False
    return "Date" in type(conv).__name__


def _line_x(line, cats, dates):
    xs = _nums(line.get_xdata(orig=False))
    if cats:
        return [cats.get(x, x) if x is not None else None for x in xs]
    if dates:
        import datetime

        epoch = datetime.datetime(1970, 1, 1)
        out = []
        for x in xs:
            try:
                out.append(_day(epoch + datetime.timedelta(days=x)))
            except (TypeError, OverflowError, ValueError):
                out.append(x)
        return out
    return xs


def _axes(ax):
    from matplotlib.container import BarContainer

    facts = {
        "title": _text(ax.get_title() or ax.get_title("left") or ax.get_title("right")),
        "xlabel": _text(ax.get_xlabel()),
        "ylabel": _text(ax.get_ylabel()),
        "legend": [],
        "bars": [],
        "lines": [],
        "wedges": _wedges(ax),
        "scatter": [],
        "xticks": [t for _, t in _ticks(ax.xaxis)][:MAX_POINTS],
        "yticks": [t for _, t in _ticks(ax.yaxis)][:MAX_POINTS],
    }
    legend = ax.get_legend()
    if legend is not None:
        facts["legend"] = [_text(t.get_text()) for t in legend.get_texts()][:MAX_ARTISTS]
    in_bars = set()
    for container in list(ax.containers)[:MAX_ARTISTS]:
        if not isinstance(container, BarContainer):
            continue
        horizontal = getattr(container, "orientation", None) == "horizontal"
        in_bars.update(id(p) for p in container.patches)
        label = container.get_label()
        facts["bars"].append(
            {
                "label": _text(label) if label and not label.startswith("_") else None,
                "horizontal": horizontal,
                "bars": _bars(ax, container, horizontal),
            }
        )
    cats, dates = _categories(ax.xaxis), _is_date_axis(ax.xaxis)
    for line in list(ax.lines)[:MAX_ARTISTS]:
        label = line.get_label()
        facts["lines"].append(
            {
                "label": _text(label) if label and not label.startswith("_") else None,
                "x": _line_x(line, cats, dates),
                "y": _nums(line.get_ydata(orig=False)),
            }
        )
    from matplotlib.collections import PathCollection

    for coll in list(ax.collections)[:MAX_ARTISTS]:
        if isinstance(coll, PathCollection):
            label = coll.get_label()
            offsets = coll.get_offsets()
            facts["scatter"].append(
                {
                    "label": _text(label) if label and not label.startswith("_") else None,
                    "points": [[_num(p[0]), _num(p[1])] for p in list(offsets)[:MAX_POINTS]],
                }
            )
    facts["patches"] = sum(1 for p in ax.patches if id(p) not in in_bars)
    return facts


def _target(args, kwargs):
    fname = args[0] if args else kwargs.get("fname")
    try:
        path = os.fspath(fname)
    except TypeError:
        return None  # a file object (BytesIO): embedded in another file
    if isinstance(path, bytes):
        path = path.decode("utf-8", "replace")
    full = os.path.abspath(path)
    if not os.path.splitext(full)[1]:
        fmt = kwargs.get("format")
        if not fmt:
            import matplotlib

            fmt = matplotlib.rcParams.get("savefig.format", "png")
        full = full + "." + str(fmt)
    if full.startswith(WORKDIR + "/"):
        return full[len(WORKDIR) + 1 :]
    return full


def _record(fig, args, kwargs):
    if len(_saved) >= MAX_FIGURES:
        return
    suptitle = getattr(fig, "_suptitle", None)
    entry = {
        "file": _target(args, kwargs),
        "suptitle": _text(suptitle.get_text()) if suptitle is not None else "",
        "axes": [_axes(ax) for ax in list(fig.get_axes())[:MAX_AXES]],
    }
    _saved.append(entry)
    os.makedirs(os.path.dirname(PATH), exist_ok=True)
    tmp = PATH + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump({"version": 1, "figures": _saved}, f)
    os.replace(tmp, PATH)


def _patch(module):
    cls = getattr(module, "Figure", None)
    original = getattr(cls, "savefig", None)
    if original is None or getattr(original, "_promptkiln_facts", False):
        return

    def savefig(self, *args, **kwargs):
        result = original(self, *args, **kwargs)
        with contextlib.suppress(Exception):
            _record(self, args, kwargs)
        return result

    savefig.__doc__ = original.__doc__
    savefig.__wrapped__ = original
    savefig._promptkiln_facts = True
    cls.savefig = savefig


class _Finder(importlib.abc.MetaPathFinder):
    """Wraps the loader of ``matplotlib.figure`` so the module is patched once executed."""

    def find_spec(self, name, path, target=None):
        if name != "matplotlib.figure":
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is not None and spec.loader is not None:
                loader = spec.loader
                exec_module = loader.exec_module

                def run(module, _exec=exec_module):
                    _exec(module)
                    with contextlib.suppress(Exception):
                        _patch(module)

                try:
                    loader.exec_module = run
                except Exception:
                    return None
                return spec
        return None


def install():
    if "matplotlib.figure" in sys.modules:
        _patch(sys.modules["matplotlib.figure"])
    elif not any(isinstance(f, _Finder) for f in sys.meta_path):
        sys.meta_path.insert(0, _Finder())


with contextlib.suppress(Exception):
    install()
