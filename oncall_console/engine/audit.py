"""The audit trail of actions: moved to :mod:`oncall_console.store.audit` (the store
layer, below the engine and the incidents). Re-exported here for existing imports."""

from oncall_console.store.audit import (
    AuditEntry,
    AuditLog,
    MemoryAuditLog,
    StoreAuditLog,
    ssh_client,
)

__all__ = ["AuditEntry", "AuditLog", "MemoryAuditLog", "StoreAuditLog", "ssh_client"]
