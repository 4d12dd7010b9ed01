"""The version floors that pyproject.toml declares are the versions that the
floors step of .ci/run installs and tests: one list, checked here."""

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Declared floors that the floors step cannot install, with the reason.
NOT_RUN = {
    # Only the local CPU build of torch 2.13.0 can be installed here; the torch
    # floor is set from the torch APIs used (named in pyproject.toml).
    "torch",
}


# name[extras]>=version (or ==, <); the name as pip normalises it.
_REQUIREMENT = re.compile(r"^([A-Za-z0-9_.-]+)(\[[^\]]*\])?\s*(>=|==|<)\s*([0-9.]+)$")


def _parse(line):
    match = _REQUIREMENT.match(line.strip())
    assert match, f"cannot read the requirement {line!r}"
    name, _, operator, version = match.groups()
    release = [int(part) for part in version.split(".")]
    while len(release) > 1 and release[-1] == 0:  # 1.24 == 1.24.0
        release.pop()
    return re.sub(r"[-_.]+", "-", name).lower(), operator, tuple(release)


def _declared_floors():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"].values()
    floors = {}
    for line in [*project["dependencies"], *(r for extra in extras for r in extra)]:
        name, operator, version = _parse(line)
        assert operator == ">=", f"{line}: declare floors with >="
        floors.setdefault(name, set()).add(version)
    return floors


# The floors step pins the package and its test extra; the docs step pins the
# documentation tools (the docs extra's other names are pinned in the first).
_PIN_FILES = ("floors.txt", "docs-floors.txt")


def _pin_lines():
    for name in _PIN_FILES:
        yield from (ROOT / ".ci" / name).read_text().splitlines()


def _pinned():
    pins = {}
    for line in _pin_lines():
        line = line.split("#")[0].strip()
        if not line:
            continue
        name, operator, version = _parse(line)
        if operator == "==":
            pins[name] = version
    return pins


def test_every_declared_floor_is_pinned_for_the_floors_step():
    declared, pinned = _declared_floors(), _pinned()
    for name, versions in declared.items():
        assert len(versions) == 1, f"{name} has several floors: {sorted(versions)}"
        if name in NOT_RUN:
            continue
        assert pinned.get(name) == next(iter(versions)), (
            f"{name}: pyproject.toml declares >={next(iter(versions))}, "
            f".ci/{' and .ci/'.join(_PIN_FILES)} pin {pinned.get(name)}"
        )


def test_the_floors_step_pins_nothing_that_is_not_declared():
    declared = _declared_floors()
    extra = set(_pinned()) - set(declared) - NOT_RUN
    assert not extra, f".ci pins {extra} exactly, but no floor says so"
