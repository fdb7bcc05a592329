"""Build step for the one native part: govbus/_sha256_batch.c (batch SHA-256 via OpenSSL).

Everything else is in setup.cfg. The extension is optional: without a C compiler or
OpenSSL's headers the install still succeeds and audit.merkle hashes with hashlib
(same bytes, slower; `audit.NATIVE_HASHING` and docs/audit.md tell which).
"""

from __future__ import annotations

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "govbus._sha256_batch",
            sources=["govbus/_sha256_batch.c"],
            libraries=["crypto"],
            optional=True,
        )
    ]
)
