"""The examples as the end-to-end tests take them: which ones, with which render flags, and
which XRD and Composition each is installed with."""

import pathlib

import yaml

from function_server import REPO

# Every example that is a claim or an XR.
EXAMPLES = sorted(
    p for p in (REPO / "examples").glob("*.yaml")
    if yaml.safe_load(p.read_text()).get("kind") in ("EventDrivenService", "XEventDrivenService")
)
XRDS = [REPO / "apis/definition.yaml", REPO / "apis/v2/definition.yaml"]
COMPOSITIONS = [
    REPO / "apis/composition.yaml",
    REPO / "apis/v2/composition-objects.yaml",
    REPO / "apis/v2/composition-direct.yaml",
]


def flags_of(example: pathlib.Path) -> list:
    """The example's `# render-flags:` line, as the golden render tests read it."""
    for line in example.read_text().splitlines():
        if line.startswith("# render-flags:"):
            return line.removeprefix("# render-flags:").split()
    return []


def flavour(flags: list):
    """The XRD and Composition an example is installed with."""
    if "--namespaced" not in flags:
        return XRDS[0], COMPOSITIONS[0]
    direct = "--input" in flags and "Direct" in (REPO / flags[flags.index("--input") + 1]).read_text()
    return XRDS[1], COMPOSITIONS[2] if direct else COMPOSITIONS[1]


def step_input(composition: pathlib.Path) -> dict:
    """The function Input of a Composition's one pipeline step."""
    (step,) = yaml.safe_load(composition.read_text())["spec"]["pipeline"]
    return step["input"]


def documents(text: str) -> list:
    return [d for d in yaml.safe_load_all(text) if d is not None]
