"""The release workflow (.github/workflows/release.yml): actionlint (built from the Go module
proxy, pinned in tools/versions.sh) finds nothing, and every package it builds is built with
the README's command, which test_readme runs here, and so is the claim Configuration the live
suite installs. Its push to ghcr.io cannot run here."""

import re

import yaml

from function_server import REPO
from test_readme import readme_commands
from tooling import run, tool

WORKFLOWS = sorted((REPO / ".github" / "workflows").glob("*.yml"))


def test_actionlint_passes():
    assert WORKFLOWS, "no workflow to check"
    run([tool("actionlint"), "-no-color", *WORKFLOWS], cwd=REPO)


def workflow_commands(path) -> list:
    """The commands of every `run:` step, continuation lines joined, the CLI named as in the
    README."""
    commands = []
    for job in yaml.safe_load(path.read_text())["jobs"].values():
        for step in job["steps"]:
            for command in step.get("run", "").replace("\\\n", " ").splitlines():
                command = re.sub(r"\s+", " ", command.strip()).replace('"$CROSSPLANE"', "crossplane")
                if command:
                    commands.append(command)
    return commands


def test_the_release_builds_each_package_as_the_readme_does():
    commands = workflow_commands(REPO / ".github" / "workflows" / "release.yml")
    builds = [c for c in commands if c.startswith("crossplane xpkg build")]
    assert len(builds) == 3, builds
    assert [b for b in builds if b not in readme_commands()] == []
    assert "package/image.sh runtime.tar" in commands


def ignore_lists(text: str) -> set:
    """The `--ignore` value of every package build in `text` that packs the repository root."""
    joined = text.replace("\\\n", " ")
    return {
        m.group(1)
        for line in joined.splitlines()
        if "xpkg build" in line and "--package-root=." in line
        for m in [re.search(r"--ignore='([^']*)'", line)]
        if m
    }


def test_the_live_suite_packs_the_claim_configuration_as_the_readme_does():
    # The live suite installs what it builds: a file the README's build leaves out, such as a
    # benchmark's Input, would otherwise reach the package manager only there.
    readme = ignore_lists((REPO / "README.md").read_text())
    assert len(readme) == 1, readme
    assert ignore_lists((REPO / "tests" / "e2e" / "packages.sh").read_text()) == readme
