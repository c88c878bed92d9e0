"""Structure-aware fuzzing: mutated APKs end in facts or a failure, never an exception.

Three valid APKs built in code (apkmutate.bases: v1/v2/v3 signatures, two DEX files,
UTF-8 and UTF-16 manifests, three resource-table layouts) are mutated where their
structure lives: sizes, counts, offsets and header fields of the zip records, the
manifest's chunks, string pools and attributes, the resource table's chunks and entries,
the DEX header, id tables and map, the signature block files and the APK Signing Block's
length prefixes, plus cuts, insertions and repeats at those places. Each case is analysed
(analyse_apk) and identified (identify_apk, as a folder index does), with the memory it
took traced.

The cases are the same on every run (derandomised, 3,000 of them), so CI is reproducible; set
APPAUDIT_FUZZ_EXAMPLES to run more, and APPAUDIT_FUZZ_RANDOM=1 to explore new ones.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import apkmutate
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scanner.apk import ApkFacts, ApkIdentity, analyse_apk, identify_apk
from scanner.apk.ziparchive import Failure, MiB

EXAMPLES = int(os.environ.get("APPAUDIT_FUZZ_EXAMPLES", "3000"))
MEMORY_BOUND = 64 * MiB
"""Far below the worker's budget: the inputs are a few KB, whatever they claim."""

BASES = apkmutate.bases()


@st.composite
def cases(draw: st.DrawFn) -> tuple[int, tuple[apkmutate.Mutation, ...]]:
    base = draw(st.integers(0, len(BASES) - 1))
    targets = BASES[base].targets()
    mutations = draw(
        st.lists(
            st.builds(
                apkmutate.Mutation,
                target=st.sampled_from(targets),
                field=st.integers(0, 1 << 16),
                op=st.sampled_from(apkmutate.OPS),
                operand=st.integers(0, (1 << 32) - 1),
            ),
            min_size=1,
            max_size=3,
        )
    )
    return base, tuple(mutations)


@pytest.fixture(scope="module")
def apk_file() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="appaudit-fuzz-") as folder:
        yield Path(folder) / "case.apk"


def recipe(base: int, mutations: tuple[apkmutate.Mutation, ...]) -> str:
    steps = "; ".join(m.describe(BASES[base]) for m in mutations)
    return f"base {BASES[base].name!r}: {steps}"


# cryptography warns when it falls back to BER for a mutated PKCS#7 block; expected here.
@pytest.mark.filterwarnings("ignore:PKCS#7 certificates could not be parsed as DER")
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=not os.environ.get("APPAUDIT_FUZZ_RANDOM"),
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(case=cases())
def test_mutated_apks_end_in_facts_or_a_failure(
    apk_file: Path, case: tuple[int, tuple[apkmutate.Mutation, ...]]
) -> None:
    base, mutations = case
    apk_file.write_bytes(apkmutate.build(BASES[base], mutations))
    tracemalloc.start()
    try:
        facts = analyse_apk(apk_file)
        identity = identify_apk(apk_file)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert isinstance(facts, ApkFacts), recipe(base, mutations)
    assert facts.readable == bool(facts.package), recipe(base, mutations)
    assert facts.readable or facts.problems, recipe(base, mutations)
    assert isinstance(identity, ApkIdentity | Failure), recipe(base, mutations)
    assert peak < MEMORY_BOUND, f"{peak} bytes: {recipe(base, mutations)}"


@pytest.mark.parametrize("index", range(len(BASES)))
def test_unmutated_bases_are_read_whole(apk_file: Path, index: int) -> None:
    # Otherwise the mutations would start from something the readers already reject.
    apk_file.write_bytes(apkmutate.build(BASES[index], ()))
    facts = analyse_apk(apk_file)
    assert facts.readable and facts.package == apkmutate.PACKAGE
    assert facts.label == "模糊" and not facts.problems
    assert facts.signers and facts.sdks


@pytest.mark.skipif(shutil.which("apksigner") is None, reason="apksigner is not installed")
@pytest.mark.parametrize("index", range(len(BASES)))
def test_apksigner_verifies_the_bases(apk_file: Path, index: int) -> None:
    # The signing block is real (digests and signatures right), so mutations of it start
    # from what Android accepts.
    apk_file.write_bytes(apkmutate.build(BASES[index], ()))
    result = subprocess.run(
        ["apksigner", "verify", str(apk_file)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
