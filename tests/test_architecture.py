"""The shape of the package: layers import only downwards, and the command line stays light."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "ncodec"
GOLDEN = Path(__file__).resolve().parent / "golden"

#: the data flow, lowest first: a module may import from its own rank or below, never above
LAYERS = [
    ("ncodec.errors", "ncodec.atomic", "ncodec.quiet", "ncodec.determinism", "ncodec.devices", "ncodec.weights"),
    ("ncodec.media", "ncodec.colour"),
    ("ncodec.media_io", "ncodec.datasets", "ncodec.container", "ncodec.latents", "ncodec.entropy", "ncodec.checkpoint"),
    ("ncodec.codecs",),
    ("ncodec.eval", "ncodec.learning"),
    ("ncodec.cli", "ncodec"),
]


def _rank(module: str) -> int:
    best = None
    for rank, prefixes in enumerate(LAYERS):
        for p in prefixes:
            if (module == p or module.startswith(p + ".")) and (best is None or len(p) > best[1]):
                best = (rank, len(p))
    assert best is not None, f"{module} is in no layer"
    return best[0]


def _imports(path: Path) -> set[str]:
    """Every ncodec module ``path`` imports, function-local imports included."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0 and node.module.startswith("ncodec"):
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("ncodec"))
    return found


def _module(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def test_no_module_imports_from_a_layer_above_it():
    upward = []
    for path in sorted(ROOT.rglob("*.py")):
        me = _module(path)
        for target in _imports(path):
            if _rank(target) > _rank(me):
                upward.append(f"{me} -> {target}")
    assert not upward, "imports that run up the layers:\n" + "\n".join(upward)


def test_no_cycles_between_codec_families():
    """Codec families stand side by side: none imports another (the base and registry are shared)."""
    families = ("classical", "image", "video", "audio")
    crossing = []
    for fam in families:
        for path in sorted((ROOT / "codecs" / fam).rglob("*.py")):
            for target in _imports(path):
                for other in families:
                    if other != fam and target.startswith(f"ncodec.codecs.{other}"):
                        crossing.append(f"{_module(path)} -> {target}")
    assert not crossing, "\n".join(crossing)


LIGHT = """
import sys
from pathlib import Path
import ncodec
from ncodec.codecs import get, names
from ncodec.container import Container, describe
for n in names():
    get(n).settings()
golden = Path(sys.argv[1])
describe(Container.from_bytes((golden / "checkerboard.ncd").read_bytes()))
for n in ["png", "webp", "jpeg", "avif", "jpeg2000", "h264", "opus", "flac"]:
    ncodec.decode((golden / f"{n}.ncd").read_bytes())
heavy = sorted(m for m in ("torch", "compressai") if m in sys.modules)
print(",".join(heavy) or "none")
"""


def test_listing_info_and_classical_decodes_import_no_torch():
    out = subprocess.run([sys.executable, "-c", LIGHT, str(GOLDEN)], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "none"


@pytest.mark.parametrize("command", [["codecs"], ["info", "png.ncd"], ["decode", "-f", "png.ncd", "OUT.png"]])
def test_the_command_line_imports_no_torch_for_light_commands(command, tmp_path):
    args = [str(GOLDEN / a) if a.endswith(".ncd") else str(tmp_path / a) if a.startswith("OUT") else a
            for a in command]
    code = ("import sys, runpy; sys.argv = ['ncodec', *sys.argv[1:]]\n"
            "from ncodec.cli.main import main\nrc = main(sys.argv[1:])\n"
            "assert rc == 0, rc\nprint('torch' in sys.modules, 'compressai' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "False False"


def test_no_cycles_between_packages():
    """The package graph (ncodec.entropy, ncodec.codecs.image, ...) is acyclic, modules in a package aside."""
    def package(module: str) -> str:
        """A package, or a top-level module (ncodec.container, ncodec.media, ...) as a node of its own."""
        path = ROOT.parent / Path(*module.split("."))
        parent = module.rpartition(".")[0]
        return module if path.is_dir() or parent == "ncodec" else parent

    edges: dict[str, set[str]] = {}
    for path in sorted(ROOT.rglob("*.py")):
        me = _module(path) if path.name == "__init__.py" else package(_module(path))
        for target in _imports(path):
            other = package(target)
            if other != me and not me.startswith(other + ".") and not other.startswith(me + "."):
                edges.setdefault(me, set()).add(other)

    def cycle_from(node, stack, seen):
        for nxt in sorted(edges.get(node, ())):
            if nxt in stack:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in seen:
                seen.add(nxt)
                found = cycle_from(nxt, stack + [nxt], seen)
                if found:
                    return found
        return None

    for start in sorted(edges):
        found = cycle_from(start, [start], {start})
        assert found is None, " -> ".join(found)
