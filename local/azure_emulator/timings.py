"""How long the emulated Azure takes for each kind of operation (seconds of the shared clock)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Timings:
    create: float
    upgrade: float
    pool_upgrade: float
    update: float
    delete: float
    stop: float
    start: float
    run_command: float
    afd_provisioning: float
    classic_put: float
    propagation: float
    retry_after_aks: int
    retry_after_afd: int

    @classmethod
    def realistic(cls) -> Timings:
        # Typical figures seen on AKS and Front Door; propagation is the low end of the documented range.
        return cls(
            create=360,
            upgrade=480,
            pool_upgrade=600,
            update=60,
            delete=300,
            stop=180,
            start=240,
            run_command=20,
            afd_provisioning=5,
            classic_put=60,
            propagation=180,
            retry_after_aks=15,
            retry_after_afd=5,
        )

    @classmethod
    def fast(cls) -> Timings:
        # For a real clock in tests and demos: everything settles within a couple of seconds.
        return cls(
            create=2,
            upgrade=2,
            pool_upgrade=2,
            update=1,
            delete=1,
            stop=1,
            start=1,
            run_command=1,
            afd_provisioning=1,
            classic_put=1,
            propagation=2,
            retry_after_aks=1,
            retry_after_afd=1,
        )
