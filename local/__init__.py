"""The offline stack (development, tests and rehearsal only; never deployed)."""
