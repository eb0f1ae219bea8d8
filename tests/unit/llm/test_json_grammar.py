"""The compact-JSON grammar in both forms llama.cpp's converter gives (llguidance and GBNF).
That the bundled server decodes under it is tested with the real model in
tests/integration/test_local_model.py."""

from __future__ import annotations

import json

from promptkiln.llm.json_grammar import COMPACT, compact

SCHEMA = {"type": "object", "properties": {"a": {"type": "integer"}}}
#: What llama.cpp's converter gives for SCHEMA when built without llguidance.
GBNF = """a-kv ::= "\\"a\\"" space ":" space integer
integer ::= ("-"? integral-part)
integral-part ::= [0] | [1-9] [0-9]{0,15}
root ::= "{" space  (a-kv )? space "}"
space ::= | " " | "\\n"{1,2} [ \\t]{0,20}
"""


def test_an_llguidance_grammar_carries_the_compact_options() -> None:
    out = compact(SCHEMA, "%llguidance {}\nstart: %json " + json.dumps(SCHEMA))
    assert out is not None
    head, _, body = out.partition("%json ")
    assert head == "%llguidance {}\nstart: "
    assert json.loads(body) == {**SCHEMA, "x-guidance": COMPACT}
    assert COMPACT == {"whitespace_flexible": False, "item_separator": ",", "key_separator": ":"}


def test_a_gbnf_grammar_loses_the_blanks_between_tokens_and_nothing_else() -> None:
    out = compact(SCHEMA, GBNF)
    assert out is not None
    assert 'space ::= ""' in out.splitlines()
    assert out.replace('space ::= ""', "") == GBNF.replace(
        'space ::= | " " | "\\n"{1,2} [ \\t]{0,20}', ""
    )
    # a grammar without exactly one such rule is not guessed at: the schema goes as it is
    assert compact(SCHEMA, GBNF.replace("space ::=", "blank ::=")) is None
