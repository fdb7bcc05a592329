"""Protection of what leaves the bus: the keystore (master key, derived keys, signing
keys), keyed pseudonyms, AES-SIV reversible fields, envelope sealing and signed delivery
manifests. The bottom room of consent/.
"""

from __future__ import annotations

__all__: list[str] = []
