"""--model-requirements: one short call asks the model for the exact words the files must
hold, before the script is generated. Real litellm against the scripted OpenAI-compatible
server, real Docker for the scripts; the assertions are on what the server received."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from promptkiln.config import load_settings
from promptkiln.making.make import make
from promptkiln.making.requirements_model import SYSTEM

pytestmark = [pytest.mark.docker]

LETTER = """```python
import docx
doc = docx.Document()
doc.add_heading("Meeting", 0)
doc.add_paragraph("{body}")
doc.save("letter.docx")
```"""
PROMPT = "A short letter as a Word document confirming the meeting with the Lisbon office"


def settings_for(server: Any, **kw: Any) -> Any:
    return load_settings(
        model="openai/test-model", api_base=server.url, limits={"timeout": 120}, **kw
    )


def test_the_words_the_model_reads_in_the_request_are_checked(
    openai_server: Any, tmp_path: Path
) -> None:
    openai_server.enqueue('["Lisbon office", "Porto office"]')  # one real, one invented
    openai_server.enqueue(LETTER.format(body="We confirm the meeting."))
    openai_server.enqueue(LETTER.format(body="We confirm the meeting with the Lisbon office."))
    progress: list[str] = []
    result = make(
        PROMPT,
        formats=["docx"],
        out=tmp_path / "o",
        settings=settings_for(openai_server, model_requirements=True),
        progress=progress.append,
    )
    first = openai_server.history[0]["messages"]
    assert first[0]["content"] == SYSTEM and first[1]["content"] == PROMPT
    assert result.attempt_count == 2
    asked = [o.requirement.params.get("text") for o in result.requirements]
    assert "Lisbon office" in asked and "Porto office" not in asked
    assert all(o.met for o in result.requirements)
    feedback = str(openai_server.history[2]["messages"][-1]["content"])
    assert 'the text "Lisbon office" appears, but not found in letter.docx' in feedback
    assert 'doc.add_paragraph("Lisbon office")' in feedback
    assert any("which exact words" in line for line in progress)


def test_off_by_default_and_a_garbled_answer_adds_nothing(
    openai_server: Any, tmp_path: Path
) -> None:
    openai_server.enqueue(LETTER.format(body="We confirm the meeting."))
    make(PROMPT, formats=["docx"], out=tmp_path / "a", settings=settings_for(openai_server))
    assert len(openai_server.history) == 1  # no extra call
    openai_server.enqueue("I cannot help with that.")
    openai_server.enqueue(LETTER.format(body="We confirm the meeting."))
    result = make(
        PROMPT,
        formats=["docx"],
        out=tmp_path / "b",
        settings=settings_for(openai_server, model_requirements=True),
    )
    assert len(openai_server.history) == 3 and result.attempt_count == 1
    assert not [o for o in result.requirements if o.requirement.kind == "text"]
