"""The repair loop teaches and changes something: real litellm against the scripted
OpenAI-compatible server, real Docker for the scripts and for the API look-ups. Each test
asserts on what the model server received."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from promptkiln.config import load_settings
from promptkiln.errors import AttemptsExhausted
from promptkiln.making.make import make

pytestmark = [pytest.mark.docker]


def py(code: str) -> str:
    return f"```python\n{code.strip()}\n```"


CHART = """
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
fig, ax = plt.subplots(figsize={size}, dpi=100)
ax.bar(["Q1", "Q2"], [2.1, 2.8])
fig.savefig("revenue.png")
"""


# drawn with PIL: a size autofix cannot set for the model (it only sets matplotlib's)
PIXELS = 'from PIL import Image\nImage.new("RGB", {size}, "white").save("revenue.png")\n'


def settings_for(server: Any, **kw: Any) -> Any:
    return load_settings(
        model="openai/test-model", api_base=server.url, limits={"timeout": 180}, **kw
    )


def last_user(request: dict[str, Any]) -> str:
    return str(request["messages"][-1]["content"])


def test_import_error_gets_the_real_names_from_the_sandbox(
    openai_server: Any, tmp_path: Path
) -> None:
    openai_server.enqueue(py("from openpyxl.styles import NumberFormat\nprint('x')"))
    openai_server.enqueue(py(CHART.format(size="(6, 4)")))
    result = make(
        "chart", formats=["png"], out=tmp_path / "o", settings=settings_for(openai_server)
    )
    assert result.attempt_count == 2
    feedback = last_user(openai_server.history[1])
    assert (
        "Hint: openpyxl.styles has no 'NumberFormat'; the real names closest to it are:" in feedback
    )
    listed = feedback.split("closest to it are:", 1)[1].split("\n", 1)[0]
    import openpyxl.styles

    names = [n.strip(" .") for n in listed.split(",")]
    assert names and all(hasattr(openpyxl.styles, n) for n in names), names
    # the repair extends the first request: its answer and the error come after it
    assert len(openai_server.history[1]["messages"]) == 4
    assert openai_server.history[1]["messages"][:2] == openai_server.history[0]["messages"]
    first = result.attempts[0]
    assert first.failure is not None and first.failure.line == 1
    assert first.failure.exc_type == "ImportError"


def test_object_attribute_error_hint_names_the_class(openai_server: Any, tmp_path: Path) -> None:
    bad = "from openpyxl import Workbook\nwb = Workbook()\nwb.active.set_col_width(1, 20)\n"
    openai_server.enqueue(py(bad))
    openai_server.enqueue(py(CHART.format(size="(6, 4)")))
    make("chart", formats=["png"], out=tmp_path / "o", settings=settings_for(openai_server))
    feedback = last_user(openai_server.history[1])
    assert "Worksheet has no 'set_col_width'" in feedback
    assert "line 3 (`wb.active.set_col_width(1, 20)`) raised AttributeError" in feedback


def test_same_line_same_error_twice_changes_the_request(openai_server: Any, tmp_path: Path) -> None:
    openai_server.enqueue(py("x = {}\nprint('a')\nx['total']"))
    openai_server.enqueue(py("x = {'t': 1}\nprint('b')\nx['total']"))
    openai_server.enqueue(py(CHART.format(size="(6, 4)")))
    result = make(
        "chart", formats=["png"], out=tmp_path / "o", settings=settings_for(openai_server)
    )
    assert result.attempt_count == 3
    assert result.attempts[1].same_failure_as_previous
    temps = [r["temperature"] for r in openai_server.history]
    assert temps[0] == 0 and temps[1] < temps[2]
    assert "SAME error on the SAME line" in last_user(openai_server.history[2])
    assert "SAME error" not in last_user(openai_server.history[1])
    # each repair extends the conversation the model already read (a prompt cache reuses it)
    second, third = openai_server.history[1]["messages"], openai_server.history[2]["messages"]
    assert third[:4] == second and len(third) == 6


def test_identical_script_is_not_run_again(openai_server: Any, tmp_path: Path) -> None:
    crash = py("raise RuntimeError('boom')")
    openai_server.enqueue(crash)
    openai_server.enqueue(crash)
    openai_server.enqueue(py(CHART.format(size="(6, 4)")))
    result = make(
        "chart", formats=["png"], out=tmp_path / "o", settings=settings_for(openai_server)
    )
    assert result.attempt_count == 2 and result.attempts[1].repeated_script
    # a fresh request: the repeated answer is not shown again (small models copy it verbatim)
    fresh = openai_server.history[2]["messages"]
    assert len(fresh) == 2 and "```python\nraise RuntimeError" not in fresh[-1]["content"]
    assert "a script written for this request before failed" in fresh[-1]["content"]
    assert "RuntimeError: boom" in fresh[-1]["content"]
    assert openai_server.history[2]["temperature"] > openai_server.history[1]["temperature"]


def test_an_answer_cut_off_at_the_token_limit_is_explained(
    openai_server: Any, tmp_path: Path
) -> None:
    openai_server.enqueue("```python\ndata = [\n  1, 2, 3,\n", finish_reason="length")
    openai_server.enqueue(py(CHART.format(size="(6, 4)")))
    result = make(
        "chart", formats=["png"], out=tmp_path / "o", settings=settings_for(openai_server)
    )
    assert result.attempt_count == 2
    limit = openai_server.history[0]["max_tokens"]
    assert f"cut off at the {limit}-token limit" in (result.attempts[0].problem or "")
    assert "read data from ./inputs/" in last_user(openai_server.history[1])


def test_a_forgotten_import_is_fixed_without_another_generation(
    openai_server: Any, tmp_path: Path
) -> None:
    body = CHART.format(size="(6, 4)").replace("import matplotlib.pyplot as plt\n", "")
    assert "plt." in body and "import matplotlib.pyplot" not in body
    openai_server.enqueue(py(body))
    result = make(
        "chart", formats=["png"], out=tmp_path / "o", settings=settings_for(openai_server)
    )
    assert result.attempt_count == 1 and len(openai_server.history) == 1
    assert result.attempts[0].fixes == ["added import matplotlib.pyplot as plt"]
    assert result.script.startswith("import matplotlib.pyplot as plt\n")
    assert result.attempts[0].to_dict()["fixes"] == result.attempts[0].fixes


def test_a_stated_pixel_size_is_set_in_the_matplotlib_calls(
    openai_server: Any, tmp_path: Path
) -> None:
    from PIL import Image

    openai_server.enqueue(py(CHART.format(size="(12, 6)").replace('.png")', '.png", dpi=1200)')))
    result = make(
        "A bar chart, 1200x600 pixels",
        formats=["png"],
        out=tmp_path / "o",
        settings=settings_for(openai_server),
    )
    assert result.attempt_count == 1
    assert "savefig dpi set to 100 (figsize x dpi is the pixel size)" in result.attempts[0].fixes
    with Image.open(result.files[0].path) as im:
        assert im.size == (1200, 600)


def test_the_token_cap_is_sized_to_the_request_unless_set(
    openai_server: Any, tmp_path: Path
) -> None:
    from promptkiln.making.repair import token_budget

    openai_server.enqueue("```python\ndata = [\n  1, 2, 3,\n", finish_reason="length")
    openai_server.enqueue(py(CHART.format(size="(6, 4)")))
    make("chart", formats=["png"], out=tmp_path / "a", settings=settings_for(openai_server))
    sized = token_budget(["png"], 0, "chart", 4096)
    assert sized < 4096
    # the first request is sized to a chart; the answer cut off there gets twice the room
    assert [r["max_tokens"] for r in openai_server.history] == [sized, 2 * sized]
    openai_server.history.clear()
    openai_server.enqueue(py(CHART.format(size="(6, 4)")))
    pinned = settings_for(openai_server, max_tokens=700)
    make("chart", formats=["png"], out=tmp_path / "b", settings=pinned)
    assert openai_server.history[0]["max_tokens"] == 700


def test_a_looping_answer_is_cut_off_and_explained(openai_server: Any, tmp_path: Path) -> None:
    loop = "```python\nstory = []\n" + "story.append('Lorem ipsum')\n" * 400
    openai_server.enqueue(loop, chunk_chars=40)
    openai_server.enqueue(py(CHART.format(size="(6, 4)")))
    result = make(
        "chart", formats=["png"], out=tmp_path / "o", settings=settings_for(openai_server)
    )
    first = result.attempts[0]
    assert first.stopped == "repetition"
    assert len(first.response) < 400  # cut at the start of the loop, not read to the end
    assert "kept repeating the same lines" in last_user(openai_server.history[1])


def test_context_overflow_drops_the_history_and_retries(openai_server: Any, tmp_path: Path) -> None:
    openai_server.enqueue(py("raise RuntimeError('boom')"))
    openai_server.enqueue_error(
        400, "the request exceeds the available context size, try increasing it"
    )
    openai_server.enqueue(py(CHART.format(size="(6, 4)")))
    result = make(
        "chart", formats=["png"], out=tmp_path / "o", settings=settings_for(openai_server)
    )
    assert [f.name for f in result.files] == ["revenue.png"]
    assert len(openai_server.history[1]["messages"]) == 4
    assert len(openai_server.history[2]["messages"]) == 2  # the first request again


def test_unmet_requirement_is_fed_back_then_met(openai_server: Any, tmp_path: Path) -> None:
    openai_server.enqueue(py(PIXELS.format(size="(640, 480)")))
    openai_server.enqueue(py(PIXELS.format(size="(800, 600)")))
    result = make(
        "A bar chart, 800x600 pixels",
        formats=["png"],
        out=tmp_path / "o",
        settings=settings_for(openai_server),
    )
    assert result.attempt_count == 2
    feedback = last_user(openai_server.history[1])
    assert "image is 800x600 px, but revenue.png is 640x480 px" in feedback
    assert [(o.requirement.kind, o.met) for o in result.requirements] == [("size", True)]
    assert result.warnings == []


def test_unmet_requirement_after_all_attempts_is_held_back_unless_accepted(
    openai_server: Any, tmp_path: Path
) -> None:
    openai_server.enqueue(py(PIXELS.format(size="(640, 480)")))
    result = make(
        "A bar chart, 800x600 pixels",
        formats=["png"],
        out=tmp_path / "o",
        settings=settings_for(openai_server, attempts=1),
    )
    assert result.status == "unmet" and result.files == []
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir())
    assert [o.requirement.text for o in result.unmet] == ["image is 800x600 px"]
    openai_server.enqueue(py(PIXELS.format(size="(640, 480)")))
    result = make(
        "A bar chart, 800x600 pixels",
        formats=["png"],
        out=tmp_path / "o",
        settings=settings_for(openai_server, attempts=1, accept_unmet=True),
    )
    assert result.status == "unmet"
    assert [f.name for f in result.files] == ["revenue.png"]
    assert result.warnings == [
        "requirement not met: image is 800x600 px (revenue.png is 640x480 px)"
    ]


CRASH_AFTER = CHART.format(size="(6, 4)") + "\nprint(undefined_name)\n"


def test_crash_after_valid_files_is_explained(openai_server: Any, tmp_path: Path) -> None:
    openai_server.enqueue(py(CRASH_AFTER))
    openai_server.enqueue(py(CHART.format(size="(6, 4)")))
    make("chart", formats=["png"], out=tmp_path / "o", settings=settings_for(openai_server))
    feedback = last_user(openai_server.history[1])
    assert "wrote the requested files and they were fine, but then it crashed" in feedback
    assert "NameError" in feedback


@pytest.mark.parametrize("keep", [False, True])
def test_keep_valid_on_crash(openai_server: Any, tmp_path: Path, keep: bool) -> None:
    openai_server.enqueue(py(CRASH_AFTER))
    out = tmp_path / "o"
    settings = settings_for(openai_server, attempts=1, keep_valid_on_crash=keep)
    if not keep:
        with pytest.raises(AttemptsExhausted):
            make("chart", formats=["png"], out=out, settings=settings)
        assert not out.exists()
        return
    result = make("chart", formats=["png"], out=out, settings=settings)
    assert [p.name for p in out.iterdir()] == ["revenue.png"]
    assert "crashed after writing these files" in result.warnings[0]


def test_continue_after_a_turn_that_made_nothing_says_so(
    openai_server: Any, tmp_path: Path
) -> None:
    from promptkiln.errors import UsageError
    from promptkiln.making.sessions import run_turn

    openai_server.enqueue(py("raise RuntimeError('boom')"))
    settings = settings_for(openai_server, attempts=1)
    with pytest.raises(AttemptsExhausted):
        run_turn("chart", formats=["png"], out=tmp_path / "o", settings=settings)
    with pytest.raises(UsageError) as info:
        run_turn("make it blue", last=True, out=tmp_path / "o", settings=settings)
    assert "has no files yet" in info.value.message
    assert len(openai_server.history) == 1  # the model was not asked again


def test_class_hint_prefers_the_class_the_script_imported(
    openai_server: Any, tmp_path: Path
) -> None:
    """matplotlib also has a Table class: the hint must be about reportlab's, which was used."""
    bad = (
        "import matplotlib.pyplot as plt\n"
        "from reportlab.platypus import Table\n"
        "t = Table([['a', 'b']])\n"
        "t.add_row(['c', 'd'])\n"
    )
    openai_server.enqueue(py(bad))
    openai_server.enqueue(py(CHART.format(size="(6, 4)")))
    make("chart", formats=["png"], out=tmp_path / "o", settings=settings_for(openai_server))
    feedback = last_user(openai_server.history[1])
    assert "reportlab.platypus.tables.Table has no 'add_row'" in feedback


def test_candidates_keep_the_first_sampled_script_that_succeeds(
    openai_server: Any, tmp_path: Path
) -> None:
    openai_server.enqueue(py("raise RuntimeError('first candidate')"))
    openai_server.enqueue(py(CHART.format(size="(6, 4)")))
    result = make(
        "chart",
        formats=["png"],
        out=tmp_path / "o",
        settings=settings_for(openai_server, candidates=3),
    )
    # the second candidate succeeded: the third is never generated, and it is one round
    assert len(openai_server.history) == 2 and result.attempt_count == 1
    assert [(a.number, a.candidate, a.chosen) for a in result.attempts] == [
        (1, 1, False),
        (1, 2, True),
    ]
    first, second = openai_server.history
    assert first["temperature"] == 0 and second["temperature"] >= 0.7
    assert first["messages"] == second["messages"]  # the same request, sampled differently
    assert first.get("seed") != second.get("seed")


def test_candidates_that_all_fail_repair_the_one_that_got_furthest(
    openai_server: Any, tmp_path: Path
) -> None:
    openai_server.enqueue(py("raise RuntimeError('no files')"))
    openai_server.enqueue(py(PIXELS.format(size="(640, 480)")))  # valid file, wrong size
    openai_server.enqueue(py(PIXELS.format(size="(800, 600)")))
    result = make(
        "A bar chart, 800x600 pixels",
        formats=["png"],
        out=tmp_path / "o",
        settings=settings_for(openai_server, candidates=2),
    )
    assert result.attempt_count == 2
    assert [(a.number, a.candidate, a.chosen) for a in result.attempts] == [
        (1, 1, False),
        (1, 2, True),
        (2, 0, False),
    ]
    repair = last_user(openai_server.history[2])
    assert "800x600" in repair and "640x480" in repair
    assert "(640, 480)" in str(openai_server.history[2]["messages"][-2]["content"])


@pytest.mark.parametrize(
    ("first", "second", "ran"),
    [
        (py("raise RuntimeError('no files')"), py(PIXELS.format(size="(640, 480)")),
         [True, True, True]),
        ("I cannot write code today.", "Nor today.", [False, False, True]),  # no script, no run
    ],
    ids=["scripts-that-failed", "answers-without-a-script"],
)  # fmt: skip
def test_candidates_of_a_session_turn_are_recorded_as_runs_of_their_own(
    first: str, second: str, ran: list[bool], openai_server: Any, tmp_path: Path
) -> None:
    # the eval with --candidates 2 crashed with "UNIQUE constraint failed: runs.id" when both
    # candidates of the first round failed: they shared one run id (and one staging directory)
    from promptkiln.making.sessions import run_turn

    openai_server.enqueue(first)
    openai_server.enqueue(second)
    openai_server.enqueue(py(PIXELS.format(size="(800, 600)")))
    turn = run_turn(
        "A bar chart, 800x600 pixels",
        formats=["png"],
        out=tmp_path / "o",
        settings=settings_for(openai_server, candidates=2, home=tmp_path / "home"),
    )
    assert [(a.number, a.candidate) for a in turn.result.attempts] == [(1, 1), (1, 2), (2, 0)]
    assert [a.run is not None for a in turn.result.attempts] == ran
    assert [p.name for p in turn.delivered] == ["revenue.png"]


def test_a_wrong_closing_bracket_is_fixed_without_another_generation(
    openai_server: Any, tmp_path: Path
) -> None:
    body = CHART.format(size="(6, 4)").replace(
        'ax.bar(["Q1", "Q2"], [2.1, 2.8])', 'ax.bar(["Q1", "Q2"], [2.1, 2.8]]'
    )
    openai_server.enqueue(py(body))
    result = make(
        "chart", formats=["png"], out=tmp_path / "o", settings=settings_for(openai_server)
    )
    assert len(openai_server.history) == 1 and result.attempt_count == 1
    assert result.attempts[0].fixes == ["line 5: closed ( with ')', not ']'"]
    assert 'ax.bar(["Q1", "Q2"], [2.1, 2.8])' in result.script


FAILS = py("import sys\nsys.exit('the data file is missing')")


def out_of_budget(server: Any, tmp_path: Path, progress: list[str]) -> AttemptsExhausted:
    """make() of a chart with a 3 s time budget, which must give up; its error."""
    with pytest.raises(AttemptsExhausted) as caught:
        make(
            "chart",
            formats=["png"],
            out=tmp_path / "o",
            settings=settings_for(server, time_budget=3),
            progress=progress.append,
        )
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir())
    return caught.value


def test_a_repair_that_would_overrun_the_time_budget_is_not_started(
    openai_server: Any, tmp_path: Path
) -> None:
    openai_server.enqueue_slow(FAILS, 2.0)
    openai_server.enqueue(py(CHART.format(size="(6, 4)")))  # would succeed, if it were asked
    progress: list[str] = []
    err = out_of_budget(openai_server, tmp_path, progress)
    assert len(openai_server.history) == 1
    assert err.budget == 3 and err.attempts == 1
    assert "past the 3 s time budget" in err.message and "--time-budget" in (err.hint or "")
    assert any(line.startswith("not starting attempt 2:") for line in progress), progress


def test_an_answer_still_streaming_when_the_time_budget_ends_is_cut_there(
    openai_server: Any, tmp_path: Path
) -> None:
    # a slow model: the whole answer would take ~40 s to arrive
    openai_server.enqueue_trickle(py(CHART.format(size="(6, 4)")), 0.2)
    started = time.monotonic()
    err = out_of_budget(openai_server, tmp_path, [])
    assert time.monotonic() - started < 10
    assert err.budget == 3 and err.attempts == 1 and len(openai_server.history) == 1
    assert err.last_problem == (
        "the script was still being written when the 3 s time budget (--time-budget) ran out"
    )


def test_a_script_still_running_when_the_time_budget_ends_is_stopped_there(
    openai_server: Any, tmp_path: Path
) -> None:
    # the sandbox's own time limit is 180 s; the request's budget is 6 s
    openai_server.enqueue(py("import time\ntime.sleep(120)"))
    started = time.monotonic()
    with pytest.raises(AttemptsExhausted) as caught:
        make("chart", formats=["png"], out=tmp_path / "o",
             settings=settings_for(openai_server, time_budget=6))  # fmt: skip
    assert time.monotonic() - started < 40  # a cold sandbox's start, then at most ~5 s of run
    assert caught.value.last_problem == (
        "the script was still running when the 6 s time budget (--time-budget) ran out"
    )
    assert len(openai_server.history) == 1


def test_no_time_budget_runs_every_attempt(openai_server: Any, tmp_path: Path) -> None:
    openai_server.enqueue_slow(FAILS, 2.0)
    openai_server.enqueue(py(CHART.format(size="(6, 4)")))
    result = make(
        "chart",
        formats=["png"],
        out=tmp_path / "o",
        settings=settings_for(openai_server, time_budget=0),
    )
    assert result.attempt_count == 2 and len(openai_server.history) == 2
    assert [f.name for f in result.files] == ["revenue.png"]


DECK = """
from pptx import Presentation
prs = Presentation()
slide = prs.slides.add_slide(prs.slide_layouts[1])
slide.shapes.title.text = "Launch"
body = slide.placeholders[1].text_frame
body.text = "{first}"
for line in {rest}:
    body.add_paragraph().text = line
prs.save("launch.pptx")
"""


def test_placeholder_text_left_in_a_file_is_pointed_at_in_the_script(
    openai_server: Any, tmp_path: Path
) -> None:
    openai_server.enqueue(py(DECK.format(first="Launch in May", rest='["Second bullet"]')))
    openai_server.enqueue(py(DECK.format(first="Launch in May", rest='["Price: 20 EUR"]')))
    result = make(
        "a one-slide deck about the launch",
        formats=["pptx"],
        out=tmp_path / "o",
        settings=settings_for(openai_server),
    )
    assert result.attempt_count == 2
    feedback = last_user(openai_server.history[1])
    assert "launch.pptx still says 'Second bullet'" in feedback
    assert (
        'line 7 of the script writes placeholder text: `for line in ["Second bullet"]:`' in feedback
    )
