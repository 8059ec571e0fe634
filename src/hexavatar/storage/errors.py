"""Errors of the storage layer (database and object stores)."""

from __future__ import annotations

__all__ = ["ObjectNotFound", "ObjectStoreError", "StorageError"]


class StorageError(Exception):
    """Base class of every storage error."""

    code = "storage_error"


class ObjectStoreError(StorageError, OSError):
    """The object store failed or is misconfigured."""

    code = "object_store_error"


class ObjectNotFound(ObjectStoreError, KeyError):
    """No object is stored under that key."""

    code = "object_not_found"

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "object not found"
