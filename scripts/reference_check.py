# SPDX-License-Identifier: Apache-2.0
"""Checks the capture scripts (``scripts/capture_*_vectors.sh``) make before recording a vector.

Each capture runs its Python under the reference's interpreter (REF_PYTHON) from the repository root and
imports this module from ``scripts/``; a failed check exits with a message saying what is missing.
"""

import sys
from importlib.metadata import version

REFERENCE_VERSION = "0.10.4"


def require_otlp_proto() -> None:
    """Exits unless ``opentelemetry-proto`` and ``protobuf`` are importable (the OTLP receiver needs them)."""
    try:
        import google.protobuf  # noqa: F401
        import opentelemetry.proto  # noqa: F401
    except ImportError:
        sys.exit("the reference Python needs `pip install opentelemetry-proto protobuf` for the OTLP receiver")


def require_reference() -> str:
    """Exits unless the importable ``nemo_relay`` is the installed reference package at ``REFERENCE_VERSION``;
    returns its version."""
    import nemo_relay

    if "site-packages" not in nemo_relay.__file__:
        sys.exit(f"not the reference package: {nemo_relay.__file__}")
    ref = version("nemo-relay")
    if ref != REFERENCE_VERSION:
        sys.exit(f"expected nemo-relay {REFERENCE_VERSION}, found {ref}")
    return ref
