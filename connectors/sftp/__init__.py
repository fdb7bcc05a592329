"""SFTP: sessions (host keys pinned, logins from the environment), remote drop folders
of any file format, and the SFTP sink.
"""

from __future__ import annotations

__all__: list[str] = []
