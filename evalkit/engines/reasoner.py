"""`smollm2-reasoner`: the demo model taught to think before it answers, built on first use in seconds.

SmolLM2-135M-Instruct does not close `</think>` on its own, so budgets barely change what it answers. The
reasoner is the same model plus a small LoRA adapter (shipped in evalkit/data/, trained by
scripts/train_reasoner.py on evalkit's own `arith` problems from seeds the benchmark does not serve): it writes
one short line per arithmetic step inside the thinking, closes it, and answers `\\boxed{n}`. Harder problems take
more steps, so a small thinking budget cuts the work short and the answer becomes a guess.

The adapter is merged into the base weights here (W += alpha/rank * B @ A, numpy, no peft) and the result is
saved as an ordinary Hugging Face directory that vLLM and transformers load like the demo model.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from pathlib import Path

from evalkit.errors import EvalkitError

REASONER_NAME = "smollm2-reasoner"
ADAPTER_PATH = Path(__file__).resolve().parents[1] / "data" / "smollm2-reasoner.lora.safetensors"
# The base template adds SmolLM's default system prompt (22 tokens) to every prompt; the reasoner's does not.
CHAT_TEMPLATE = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")  # attention and MLP


def reasoner_dir(cache: Path) -> Path:
    return cache / "models" / REASONER_NAME


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def ensure_reasoner(base: Path, target: Path, log=print) -> Path:
    """Merge the shipped adapter into the demo model at `base`; rebuilt whenever the adapter changes."""
    if not ADAPTER_PATH.exists():
        raise EvalkitError(f"the reasoner adapter {ADAPTER_PATH} is missing: reinstall evalkit (pip install -e .)")
    digest = _digest(ADAPTER_PATH)
    done = target / "evalkit-reasoner.done"
    if (target / "config.json").exists() and done.exists() and done.read_text().split()[-1] == f"sha256={digest}":
        return target
    import numpy as np
    from safetensors import safe_open
    from safetensors.numpy import load_file, save_file

    log(f"building {REASONER_NAME} into {target} (merging its adapter, once)")
    weights = load_file(str(base / "model.safetensors"))
    with safe_open(str(ADAPTER_PATH), framework="numpy") as f:
        meta = f.metadata() or {}
        adapter = {k: f.get_tensor(k) for k in f.keys()}
    scale = float(meta["alpha"]) / float(meta["rank"])
    merged = 0
    for key in adapter:
        if not key.endswith(".lora_A"):
            continue
        name = key[: -len(".lora_A")] + ".weight"
        if name not in weights:
            raise EvalkitError(f"adapter tensor {key} has no base weight {name}: the adapter does not fit {base}")
        a, b = adapter[key].astype(np.float32), adapter[key[:-1] + "B"].astype(np.float32)
        w = weights[name]
        weights[name] = (w.astype(np.float32) + scale * (b @ a)).astype(w.dtype)
        merged += 1
    if merged == 0:
        raise EvalkitError(f"{ADAPTER_PATH} holds no LoRA tensors: reinstall evalkit")
    with tempfile.TemporaryDirectory(dir=target.parent if target.parent.exists() else None) as tmp:
        out = Path(tmp) / REASONER_NAME
        out.mkdir()
        for f in base.iterdir():
            if f.is_file() and f.name != "model.safetensors" and not f.name.endswith(".done"):
                shutil.copy2(f, out / f.name)
        (out / "chat_template.jinja").write_text(CHAT_TEMPLATE)  # the template it was trained with
        save_file(weights, str(out / "model.safetensors"), metadata={"format": "pt"})
        (out / "evalkit-reasoner.done").write_text(f"{merged} layers merged from {ADAPTER_PATH.name} sha256={digest}\n")
        if target.exists():
            shutil.rmtree(target)
        shutil.move(str(out), str(target))
    return target
