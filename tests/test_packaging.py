"""What a user installs: the wheel's metadata and files, the license, CITATION.cff and CHANGELOG.md.

The wheel and the sdist are built in-process with hatchling (the build backend, in the dev extra), the way
``pip wheel`` or ``python -m build`` would build them, and read back as archives.
"""

from __future__ import annotations

import email
import re
import tarfile
import tomllib
import zipfile
from pathlib import Path

import pytest

import scalelaw

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
PROJECT = PYPROJECT["project"]
PACKAGE = ROOT / "src" / "scalelaw"
DATASETS = sorted(p for p in (PACKAGE / "data" / "datasets" / "data").iterdir() if p.is_dir())


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Path, Path]:
    pytest.importorskip("hatchling", reason="the build backend (dev extra) builds the wheel")
    from hatchling.builders.sdist import SdistBuilder
    from hatchling.builders.wheel import WheelBuilder

    out = tmp_path_factory.mktemp("dist")
    (wheel,) = WheelBuilder(str(ROOT)).build(directory=str(out), versions=["standard"])
    (sdist,) = SdistBuilder(str(ROOT)).build(directory=str(out), versions=["standard"])
    return Path(wheel), Path(sdist)


@pytest.fixture(scope="module")
def wheel_files(built) -> dict[str, bytes]:
    with zipfile.ZipFile(built[0]) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


@pytest.fixture(scope="module")
def metadata(wheel_files) -> email.message.Message:
    (name,) = [n for n in wheel_files if n.endswith(".dist-info/METADATA")]
    return email.message_from_bytes(wheel_files[name])


def test_the_package_is_typed():
    assert (PACKAGE / "py.typed").is_file()
    assert "Typing :: Typed" in PROJECT["classifiers"]


def test_license_is_apache_with_the_full_text():
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert "Apache License" in text and "Version 2.0, January 2004" in text
    assert "TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION" in text
    assert "END OF TERMS AND CONDITIONS" in text
    # PEP 639: an SPDX expression (not the legacy table) covering the code and the bundled data's licenses.
    assert isinstance(PROJECT["license"], str)
    assert set(re.split(r"\s+AND\s+", PROJECT["license"])) == {"Apache-2.0", "MIT"}
    found = {"Apache-2.0"}
    for folder in DATASETS:
        data = (folder / "LICENSE").read_text(encoding="utf-8")
        found.add(
            "MIT" if "Permission is hereby granted" in data else "Apache-2.0" if "Apache License" in data else data
        )
    assert found == {"Apache-2.0", "MIT"}, "a bundled dataset's license is missing from project.license"


def test_classifiers_match_the_supported_pythons():
    floor = re.fullmatch(r">=3\.(\d+)", PROJECT["requires-python"])
    assert floor, PROJECT["requires-python"]
    minors = sorted(
        int(m) for c in PROJECT["classifiers"] for m in re.findall(r"^Programming Language :: Python :: 3\.(\d+)$", c)
    )
    assert minors == [11, 12, 13]
    assert minors[0] == int(floor.group(1))


def test_project_urls_and_build_backend():
    assert set(PROJECT["urls"]) >= {"Homepage", "Documentation", "Source", "Changelog"}
    assert all(url.startswith("https://") for url in PROJECT["urls"].values())
    # license-files and SPDX license expressions need hatchling 1.27 (PEP 639).
    (backend,) = PYPROJECT["build-system"]["requires"]
    floor = re.fullmatch(r"hatchling>=(\d+)\.(\d+)", backend)
    assert floor and (int(floor.group(1)), int(floor.group(2))) >= (1, 27)


def test_optional_dependencies_are_floors_not_pins():
    extras = PROJECT["optional-dependencies"]
    (torch,) = [r for r in extras["sweep"] if r.startswith("torch")]
    assert re.fullmatch(r"torch>=[\d.]+", torch), torch  # a user's CUDA build satisfies it
    assert not any("==" in r for rs in extras.values() for r in rs)
    assert not any(r.startswith("pyarrow") for r in PROJECT["dependencies"])
    assert extras["parquet"] == ["pyarrow>=14"] and "pyarrow>=14" in extras["dev"]


def test_readme_test_command_installs_the_cpu_torch():
    """With no torch installed, `torch>=` alone would resolve to a multi-GB CUDA build: the command names one."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    second = re.findall(r"^```bash\n(.*?)^```", readme, flags=re.S | re.M)[1]
    assert '-e ".[dev,sweep]" "torch==2.13.0"' in second


def test_wheel_metadata(metadata):
    assert metadata["Name"] == "scalelaw" and metadata["Version"] == scalelaw.__version__
    assert metadata["License-Expression"] == PROJECT["license"]
    assert metadata["Metadata-Version"] >= "2.4"  # the first version with License-Expression
    assert set(metadata.get_all("Classifier")) == set(PROJECT["classifiers"])
    urls = dict(u.split(", ", 1) for u in metadata.get_all("Project-URL"))
    assert urls == PROJECT["urls"]
    assert "pyarrow>=14; extra == 'parquet'" in metadata.get_all("Requires-Dist")


def test_wheel_ships_license_types_and_datasets(wheel_files, metadata):
    names = set(wheel_files)
    assert "scalelaw/py.typed" in names
    (info,) = {n.split("/")[0] for n in names if n.endswith(".dist-info/METADATA")}
    assert f"{info}/licenses/LICENSE" in names
    assert wheel_files[f"{info}/licenses/LICENSE"] == (ROOT / "LICENSE").read_bytes()
    for folder in DATASETS:
        inside = f"scalelaw/data/datasets/data/{folder.name}"
        assert {f"{inside}/SOURCE.md", f"{inside}/LICENSE"} <= names, folder.name
        assert any(n.startswith(f"{inside}/") and n.endswith((".csv", ".parquet", ".jsonl")) for n in names)
        assert f"{info}/licenses/src/{inside}/LICENSE" in names
    assert len(metadata.get_all("License-File")) == 1 + len(DATASETS)
    assert not any(n.startswith(("tests/", "docs/", "benchmarks/")) for n in names)


def test_sdist_holds_what_its_tests_read(built):
    with tarfile.open(built[1]) as archive:
        names = {n.split("/", 1)[1] for n in archive.getnames() if "/" in n}
    for path in ("LICENSE", "CHANGELOG.md", "CITATION.cff", "README.md", "mkdocs.yml", "src/scalelaw/py.typed"):
        assert path in names, path
    assert any(n.startswith("docs/api/") for n in names) and any(n.startswith("tests/") for n in names)
    assert not any(n.startswith("benchmarks/") and n != "benchmarks/README.md" for n in names)


def test_citation_file_is_valid_cff():
    """CFF 1.2.0's required keys and types, as its schema states them; values agree with pyproject."""
    yaml = pytest.importorskip("yaml")
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text(encoding="utf-8"))
    assert cff["cff-version"] == "1.2.0"
    for key in ("message", "title"):
        assert isinstance(cff[key], str) and cff[key].strip()
    assert isinstance(cff["authors"], list) and cff["authors"]
    for author in cff["authors"]:
        assert isinstance(author, dict)
        assert author.get("name") or author.get("family-names"), author  # an entity or a person
    assert cff.get("type", "software") in ("software", "dataset")
    assert cff["version"] == scalelaw.__version__
    assert cff["license"] in PROJECT["license"].split(" AND ")
    assert cff["repository-code"] == PROJECT["urls"]["Source"]
    assert all(isinstance(k, str) for k in cff["keywords"])


def test_changelog_follows_keep_a_changelog():
    text = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    versions = re.findall(r"^## \[([^\]]+)\](?: - (\S+))?$", text, flags=re.M)
    assert versions[0][0] == "Unreleased"
    assert scalelaw.__version__ in [v for v, _ in versions]
    kinds = set(re.findall(r"^### (.+)$", text, flags=re.M))
    assert kinds <= {"Added", "Changed", "Deprecated", "Removed", "Fixed", "Security"}, kinds
    for version, date in versions[1:]:
        assert re.fullmatch(r"\d+\.\d+\.\d+", version)
        assert date == "Unreleased" or re.fullmatch(r"\d{4}-\d{2}-\d{2}", date), date
