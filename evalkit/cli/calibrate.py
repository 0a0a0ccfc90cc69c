"""`evalkit calibrate`: measure a model's prefill and decode speed on this machine -> a cost profile (JSON) for
`evalkit offload-sim` and for `--dry-run` time estimates."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from evalkit.cli.app import console, out, slug
from evalkit.cli.command import takes
from evalkit.cli.options import CONFIG_OPTS

CALIBRATE_OPTIONS = ("model", "out_file", "prompt_tokens", "decode_tokens", "context_tokens", "repeats", "engine",
                     "max_model_len", "gpu_memory_utilization", "tensor_parallel_size", *CONFIG_OPTS)


@takes(*CALIBRATE_OPTIONS, defaults={"model": None}, help={"engine": "Engine: vllm (in-process).",
                                                            "model": "Hub id, local path or smollm2-demo (required)."})
def calibrate(**o: Any) -> None:
    """Measure a model's prefill and decode speed here and write a cost profile (JSON) for offload-sim.

    Example: evalkit calibrate --model smollm2-demo --prompt-tokens 512 --context-tokens 1024 --out demo.json
    """
    from evalkit.config import EngineSpec
    from evalkit.engines.factory import build_engine
    from evalkit.errors import EvalkitError
    from evalkit.sim.calibrate import CalibrationPlan, calibrate as measure, profile_for

    model = o["model"]
    if not model:
        raise EvalkitError("evalkit calibrate needs a model: pass --model NAME (or `model` in --config)")
    plan = CalibrationPlan(o["prompt_tokens"], o["decode_tokens"], o["context_tokens"], o["repeats"])
    target = o["out_file"] or Path("results") / "profiles" / f"{slug(model)}.json"
    eng = build_engine(EngineSpec(kind=o["engine"], model=model, max_model_len=o["max_model_len"],
                                  gpu_memory_utilization=o["gpu_memory_utilization"],
                                  tensor_parallel_size=o["tensor_parallel_size"]))
    try:
        cost, measurements = measure(eng, plan, log=lambda m: console.print(f"[cyan]{m}[/]"))
        prof = profile_for(model, cost, measurements, eng.identity())
    finally:
        eng.close()
    prof.save(target)
    out.print(
        f"[green]{model}[/]: prefill {cost.prefill_tps:,.0f} tok/s, decode {cost.decode_tps:,.1f} tok/s, "
        f"decode slowdown {cost.decode_slowdown_per_1k:.3f} per 1k context, {1000 * cost.request_overhead_s:.0f} ms "
        f"per request -> {target}"
    )
