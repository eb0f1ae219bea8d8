"""The bundled model's speed on this machine (``make bench-model``): numbers, not assertions.

In a private home (its own server, its own slot files), with the model file of the usual cache:

1. llama.cpp's own ``llama-bench`` (built once, :mod:`llama_bench`) on the same GGUF: prompt
   evaluation (pp512) and generation (tg32) tokens/s for each thread count and batch/ubatch;
   the fastest prompt evaluation is written to the tuning file the server reads.
2. The bundled server with those settings, through litellm like ``promptkiln make``:
   a first attempt with nothing cached (cold), its repair (the conversation extended), a new
   request of the same format (warm), and, after a restart, a new request of a seen format
   (the prefix restored from disk). For each: prompt tokens evaluated and reused, prompt-eval
   and generation tokens/s, time to first token, seconds.
3. End to end (``make()``, the real sandbox): ``make demo``'s chart on a warm server, and a
   document request's first attempt.

The machine's load average is printed with the figures: on shared cores they move with it. Ends
with one JSON line: ``prompt_reused_repair``, ``prompt_reused_new`` (fractions of the prompt
served from cache), ``pp_vs_llama_bench`` (the server's prompt-eval tokens/s over llama-bench's
with the same threads and batch), ``demo_chart_warm_s``, ``doc_first_attempt_s`` and more.
The engine's CPU features are printed first: xllamacpp's PyPI wheel is built for AVX2,
llama-bench here for this CPU (``promptkiln models --build-engine`` builds the engine for it
too).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

import llama_bench

from promptkiln.config import Settings, load_settings
from promptkiln.llm import local
from promptkiln.llm.generate import Generation, LiteLLMGenerator
from promptkiln.llm.local_engine import engine_info
from promptkiln.llm.local_tuning import Tuning, default_threads, save_tuning
from promptkiln.llm.request_prompt import render_messages
from promptkiln.making.repair import Feedback, as_answer, repair_request

DEMO_PROMPT = "Bar chart of quarterly revenue: Q1=2.1M, Q2=2.8M, Q3=3.2M, Q4=3.9M"
WARMUP_CHART = "Line chart of monthly visitors: Jan 120, Feb 150, Mar 170, Apr 160"
SALES = b"region,quarter,revenue\nNorth,Q1,1200\nSouth,Q1,950\nNorth,Q2,1430\nSouth,Q2,1100\n"
DOC_FIRST = "A one-page PDF report on revenue per region, with a table and a short summary"
DOC_NEW = "A PDF with a bar chart of the revenue of each quarter and one paragraph about it"
DOC_AFTER_RESTART = "A PDF listing each region's total revenue in a table"


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load {one:.1f}/{five:.1f} on {os.cpu_count()} cores"


def say(text: str) -> None:
    print(text, flush=True)


def figures(case: str, g: Generation) -> dict[str, Any]:
    t = g.timings
    row = {
        "case": case, "seconds": round(g.duration_s, 1),
        "first_token_s": None if t.first_token_s is None else round(t.first_token_s, 1),
        "prompt_tokens": t.prompt, "reused": t.cached, "evaluated": t.evaluated,
        "reused_fraction": None if t.reused is None else round(t.reused, 3),
        "prompt_tps": None if t.prompt_per_second is None else round(t.prompt_per_second, 1),
        "gen_tps": None if t.predicted_per_second is None else round(t.predicted_per_second, 1),
        "generated": t.predicted,
    }  # fmt: skip
    say(f"  {case:<28} {row['seconds']:>6} s  first token {row['first_token_s']} s  prompt "
        f"{t.prompt} ({t.cached} reused, {t.evaluated} evaluated at {row['prompt_tps']} t/s)  "
        f"{t.predicted} generated at {row['gen_tps']} t/s   [{load()}]")  # fmt: skip
    return row


def generator(settings: Settings, max_tokens: int) -> LiteLLMGenerator:
    params = local.local_model_params(settings, progress=lambda m: say(f"  {m}"))
    return LiteLLMGenerator(
        params["model"], api_base=params["api_base"], api_key=params["api_key"],
        extra_body=params["extra_body"], max_tokens=max_tokens, timeout_s=900,
    )  # fmt: skip


def tune(cache: Path, model: Path, build: bool) -> tuple[Tuning, list[llama_bench.BenchRow]]:
    """llama-bench over threads and batch sizes; the fastest prompt evaluation is kept."""
    exe = llama_bench.binary(cache) if not build else llama_bench.ensure(cache, say)
    if exe is None or not exe.is_file():
        say("llama-bench: not built (run without --no-build); server defaults are used")
        return Tuning(default_threads()), []
    cpus = default_threads()
    threads = sorted({cpus, max(1, cpus - 1)})
    say(f"llama-bench: threads {threads} at batch 2048/512, pp512 and tg32  [{load()}]")
    rows = llama_bench.measure(exe, model, threads=threads, batches=[(2048, 512)])
    fastest = max((r for r in rows if r.test == "pp"), key=lambda r: r.tokens_per_s).threads
    smaller = [(2048, 256), (2048, 128)]
    say(f"llama-bench: {fastest} threads at batch/ubatch {smaller}  [{load()}]")
    rows += llama_bench.measure(exe, model, threads=[fastest], batches=smaller)
    for r in rows:
        say(f"  {r.test}{r.tokens:<4} threads {r.threads} batch {r.batch}/{r.ubatch}: "
            f"{r.tokens_per_s:.1f} tokens/s")  # fmt: skip
    best = max((r for r in rows if r.test == "pp"), key=lambda r: r.tokens_per_s)
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%MZ")
    tuning = Tuning(best.threads, best.batch, best.ubatch, f"measured {stamp}")
    save_tuning(tuning, local.QWEN_CODER_1_5B.sha256, stamp, cache)
    say(f"  fastest prompt evaluation: {best.threads} threads, batch {best.batch}/{best.ubatch}"
        " (written to the tuning file the server reads)")  # fmt: skip
    return tuning, rows


def server_cases(settings: Settings, max_tokens: int) -> dict[str, dict[str, Any]]:
    # the inputs as the user message carries them (the profile's text; here the file itself)
    sales = "./inputs/sales.csv:\n" + SALES.decode()
    rows: dict[str, dict[str, Any]] = {}
    say(f"the bundled server (a fresh one, nothing cached)  [{load()}]")
    gen = generator(settings, max_tokens)
    first = render_messages(DOC_FIRST, ["pdf"], sales)
    g1 = gen.generate(first)
    rows["first_cold"] = figures("first attempt, cold", g1)
    feedback = Feedback("report.pdf has 1 page; the request asks for 2", stderr="")
    repair = repair_request(first, as_answer(None, g1.text), feedback)
    rows["repair_warm"] = figures("repair (extends it)", gen.generate(repair))
    rows["new_warm"] = figures(
        "new request, same format", gen.generate(render_messages(DOC_NEW, ["pdf"], sales))
    )
    say("restarting the server (its slot is on disk)")
    local.stop_server(settings.home)
    gen = generator(settings, max_tokens)
    after = render_messages(DOC_AFTER_RESTART, ["pdf"], sales)
    rows["new_after_restart"] = figures("new request, after restart", gen.generate(after))
    return rows


def breakdown(timings: dict[str, float], total: float) -> str:
    """``plan 6.1 s, generate 10.7 s, … other 2.0 s``: make()'s own timings (plan, generation,
    sandbox start/run/collect/close, validation), largest first, and what none of them covers."""
    parts = sorted(timings.items(), key=lambda kv: -kv[1])
    other = total - sum(timings.values())
    said = [f"{k.removesuffix('_s')} {v:.1f} s" for k, v in parts if v >= 0.05]
    return ", ".join([*said, f"other {other:.1f} s"])


def end_to_end(settings: Settings, out: Path) -> dict[str, Any]:
    from promptkiln.making.make import make

    say(f"end to end (make(), the real sandbox)  [{load()}]")
    sales = out / "sales.csv"
    sales.write_bytes(SALES)
    make(WARMUP_CHART, formats=["png"], out=out / "warmup", settings=settings)
    started = time.monotonic()
    demo = make(DEMO_PROMPT, formats=["png"], out=out / "demo", settings=settings)
    demo_s = time.monotonic() - started
    a = demo.attempts[0]
    say(f"  demo chart, warm: {demo_s:.1f} s ({len(demo.attempts)} attempt(s), generation "
        f"{a.generation_s:.1f} s, prompt {a.prompt_tokens} with {a.prompt_cached} reused)  "
        f"[{load()}]")  # fmt: skip
    say(f"    where the time went: {breakdown(demo.timings, demo_s)}")
    one = settings.model_copy(update={"attempts": 1})
    started = time.monotonic()
    try:
        doc = make(DOC_FIRST, formats=["pdf"], inputs=[sales], out=out / "doc", settings=one)
        first = doc.attempts[0]
        ok = True
    except Exception as exc:  # a failed first attempt still has a duration
        say(f"  the document's first attempt failed: {exc}")
        first, ok = None, False
    doc_s = first.seconds if first is not None else time.monotonic() - started
    say(f"  document, first attempt: {doc_s:.1f} s (ok: {ok})  [{load()}]")
    return {"demo_chart_warm_s": round(demo_s, 1), "demo_attempts": len(demo.attempts),
            "demo_timings": {k: round(v, 1) for k, v in demo.timings.items()},
            "doc_first_attempt_s": round(doc_s, 1), "doc_first_attempt_ok": ok}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--no-build", action="store_true", help="skip llama-bench if not built")
    parser.add_argument("--max-tokens", type=int, default=1024)
    parser.add_argument("--no-make", action="store_true", help="skip the end-to-end cases")
    args = parser.parse_args()
    base = load_settings()
    cache = base.cache
    model = local.ensure_model(base.local_model, cache_dir=cache, progress=say)
    say(f"bench-model: {model.name}, {default_threads()} usable cores  [{load()}]")
    engine = engine_info()
    say(f"engine: {engine.summary()}")
    tuning, bench = tune(cache, model, build=not args.no_build)
    with tempfile.TemporaryDirectory(prefix="bench-model-") as tmp:
        settings = base.model_copy(update={"home": Path(tmp) / "home", "model": None})
        try:
            rows = server_cases(settings, args.max_tokens)
            e2e = {} if args.no_make else end_to_end(settings, Path(tmp))
        finally:
            local.stop_server(settings.home)
    pp = [r for r in bench if r.test == "pp" and (r.threads, r.batch, r.ubatch) ==
          (tuning.threads, tuning.batch, tuning.ubatch)]  # fmt: skip
    tg = [r for r in bench if r.test == "tg" and r.threads == tuning.threads]
    cold = rows["first_cold"]
    # The cold prompt is read from depth 0 up to its length: llama-bench at its middle depth too.
    exe = llama_bench.binary(cache)
    deep = None
    if pp and exe.is_file() and cold["evaluated"]:
        half = int(cold["evaluated"]) // 2
        say(f"llama-bench: pp512 at depth {half} (the cold prompt's middle)  [{load()}]")
        deep = llama_bench.measure(
            exe, model, threads=[tuning.threads], batches=[(tuning.batch, tuning.ubatch)],
            gen=0, depth=half,
        )[0].tokens_per_s  # fmt: skip
        say(f"  pp512 at depth {half}: {deep:.1f} tokens/s")
    result = {
        "prompt_reused_repair": rows["repair_warm"]["reused_fraction"],
        "prompt_reused_new": rows["new_warm"]["reused_fraction"],
        "prompt_reused_after_restart": rows["new_after_restart"]["reused_fraction"],
        "pp_tps": cold["prompt_tps"], "llama_bench_pp_tps": pp[0].tokens_per_s if pp else None,
        "pp_vs_llama_bench": round(cold["prompt_tps"] / pp[0].tokens_per_s, 2)
        if pp and cold["prompt_tps"] else None,
        "llama_bench_pp_tps_same_depth": deep,
        "pp_vs_llama_bench_same_depth": round(cold["prompt_tps"] / deep, 2)
        if deep and cold["prompt_tps"] else None,
        "engine_version": engine.version, "engine_built_for": list(engine.built_for),
        "engine_unused_cpu_features": list(engine.unused),
        "tg_tps": cold["gen_tps"], "llama_bench_tg_tps": tg[0].tokens_per_s if tg else None,
        "first_cold_s": cold["seconds"], "repair_warm_s": rows["repair_warm"]["seconds"],
        "new_after_restart_s": rows["new_after_restart"]["seconds"],
        **e2e,
        "threads": tuning.threads, "batch": tuning.batch, "ubatch": tuning.ubatch,
        "load": [round(x, 1) for x in os.getloadavg()], "cores": os.cpu_count(),
    }  # fmt: skip
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
