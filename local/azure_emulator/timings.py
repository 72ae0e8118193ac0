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
    # Microsoft.KubernetesConfiguration: installing / removing a cluster extension ("This may take a few
    # minutes", az k8s-configuration flux create in the GitOps tutorial), writing a fluxConfiguration.
    extension_create: float = 120
    extension_delete: float = 60
    flux_write: float = 30
    # From a fluxConfiguration's write (or the cluster starting) to Flux's reconciliation of it: the source
    # fetched and the kustomizations applied ("After a minute you can query the configuration again and see the
    # final compliance state", DOCS azure-arc/kubernetes/tutorial-use-gitops-flux2.md).
    flux_reconcile: float = 60
    # From a workload applied (kubectl apply, Flux) to its pods available.
    rollout: float = 45
    retry_after_kc: int = 10
    # A managed cluster's tags replaced (ManagedClusters_UpdateTags): long-running like AKS's other writes, but it
    # changes no node or control-plane state, so it takes seconds, not minutes.
    tags_update: float = 5
    # A Microsoft.Network write (VNet, subnet, public IP) and an Event Grid write (system topic, subscription).
    network_write: float = 10
    eventgrid_write: float = 15
    # From a role assignment written to it taking effect ("can take up to about 30 minutes ... because of ARM
    # caching", reference/azure-more.md (d)), and from a federated credential written to Entra honouring it ("a few
    # seconds" to minutes, (e)). 0: at once, for tests; a rehearsal may set realistic delays.
    rbac_propagation: float = 0
    federation_propagation: float = 0
    # Wall-clock seconds a federated credential write takes: a second write under the same identity while one is
    # in flight is refused with 409 Conflict (managed_identity). 0: requests never overlap in practice.
    fic_write_latency: float = 0

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
            extension_create=120,
            extension_delete=60,
            flux_write=30,
            flux_reconcile=60,
            rollout=45,
            retry_after_kc=10,
            tags_update=5,
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
            extension_create=1,
            extension_delete=1,
            flux_write=1,
            flux_reconcile=1,
            rollout=1,
            retry_after_kc=1,
            network_write=1,
            eventgrid_write=1,
            tags_update=1,
        )
