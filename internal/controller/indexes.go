package controller

import (
	"context"
	"fmt"
	"slices"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	exposurev1alpha1 "github.com/inference-exposure/inference-exposure-operator/api/v1alpha1"
	"github.com/inference-exposure/inference-exposure-operator/internal/allocator"
	"github.com/inference-exposure/inference-exposure-operator/internal/render/router"
)

// Field indexes on the cache: the reconcilers and map functions look objects up by them
// instead of listing (and deep-copying) everything, so that a reconcile costs the same in a
// cluster of 100 exposures and of 10,000, and the initial sync stays linear.
const (
	// indexTenantNamespace: tenants by every namespace in spec.namespaces.
	indexTenantNamespace = "tenant.namespace"
	// indexTenantGranule: tenants by every claim granule of status.portBlock.
	indexTenantGranule = "tenant.granule"
	// indexTenantPending: "true" for live tenants without a block; they wait for a release.
	indexTenantPending = "tenant.pending"
	// indexClaimTenantUID: claims by spec.tenantUID.
	indexClaimTenantUID = "claim.tenantUID"
	// indexExposureHostKey: routed exposures by the host keys of the hosts they set themselves
	// (default hosts are found by name: router.DefaultHostOwners).
	indexExposureHostKey = "exposure.hostKey"
	// indexExposureHostLoser: exposures that lost a host conflict, by their host keys.
	indexExposureHostLoser = "exposure.hostLoser"
	// indexExposureFrontendSkipped: "true" for exposures told their HAProxy frontend was left out.
	indexExposureFrontendSkipped = "exposure.frontendSkipped"
	// indexExposureBlockFull: exposures waiting for ports in a full block, by tenant.
	indexExposureBlockFull = "exposure.blockFull"
)

// granuleKey is the index key of the claim granule holding port p.
func granuleKey(p int32) string { return strconv.Itoa(int(p - p%allocator.Granule)) }

// setupIndexes registers the field indexes once per manager.
func setupIndexes(ctx context.Context, idx client.FieldIndexer) error {
	for _, i := range []struct {
		obj   client.Object
		field string
		fn    client.IndexerFunc
	}{
		{&exposurev1alpha1.InferenceTenant{}, indexTenantNamespace, func(o client.Object) []string {
			return o.(*exposurev1alpha1.InferenceTenant).Spec.Namespaces
		}},
		{&exposurev1alpha1.InferenceTenant{}, indexTenantGranule, func(o client.Object) []string {
			pb := o.(*exposurev1alpha1.InferenceTenant).Status.PortBlock
			if pb == nil {
				return nil
			}
			var out []string
			for _, g := range allocator.Granules(allocator.Range{Start: pb.Start, End: pb.End}) {
				out = append(out, granuleKey(g.Start))
			}
			return out
		}},
		{&exposurev1alpha1.InferenceTenant{}, indexTenantPending, func(o client.Object) []string {
			t := o.(*exposurev1alpha1.InferenceTenant)
			if t.Status.PortBlock == nil && t.DeletionTimestamp.IsZero() {
				return []string{"true"}
			}
			return nil
		}},
		{&exposurev1alpha1.PortClaim{}, indexClaimTenantUID, func(o client.Object) []string {
			return []string{o.(*exposurev1alpha1.PortClaim).Spec.TenantUID}
		}},
		{&exposurev1alpha1.InferenceExposure{}, indexExposureHostKey, func(o client.Object) []string {
			return router.ExplicitHostKeys(o.(*exposurev1alpha1.InferenceExposure))
		}},
		{&exposurev1alpha1.InferenceExposure{}, indexExposureHostLoser, func(o client.Object) []string {
			e := o.(*exposurev1alpha1.InferenceExposure)
			if c := meta.FindStatusCondition(e.Status.Conditions, exposurev1alpha1.ConditionRouted); c == nil || c.Reason != exposurev1alpha1.ReasonHostConflict {
				return nil
			}
			return router.HostKeys(e)
		}},
		{&exposurev1alpha1.InferenceExposure{}, indexExposureFrontendSkipped, func(o client.Object) []string {
			if meta.FindStatusCondition(o.(*exposurev1alpha1.InferenceExposure).Status.Conditions, exposurev1alpha1.ConditionHAProxyFrontend) == nil {
				return nil
			}
			return []string{"true"}
		}},
		{&exposurev1alpha1.InferenceExposure{}, indexExposureBlockFull, func(o client.Object) []string {
			e := o.(*exposurev1alpha1.InferenceExposure)
			if c := meta.FindStatusCondition(e.Status.Conditions, exposurev1alpha1.ConditionPortsAllocated); c == nil || c.Reason != string(allocator.ReasonBlockFull) || e.Status.Tenant == "" {
				return nil
			}
			return []string{e.Status.Tenant}
		}},
	} {
		if err := idx.IndexField(ctx, i.obj, i.field, i.fn); err != nil {
			return fmt.Errorf("indexing %T by %s: %w", i.obj, i.field, err)
		}
	}
	return nil
}

// tenantsOfService adds to names the tenants a Service concerns: those listing its namespace
// (its labels prove nothing) and those whose blocks hold one of its node ports.
func tenantsOfService(ctx context.Context, informers cache.Informers, c client.Reader, svc *corev1.Service, names map[string]bool) {
	lookup := func(field, value string) {
		tenants, err := indexedKeys[*exposurev1alpha1.InferenceTenant](ctx, informers, c, &exposurev1alpha1.InferenceTenantList{}, field, value)
		if err != nil {
			return
		}
		for _, t := range tenants {
			names[t.Name] = true
		}
	}
	lookup(indexTenantNamespace, svc.Namespace)
	var done []string // a Service's ports mostly share a granule: each is looked up once
	for _, p := range servicePorts(svc) {
		if k := granuleKey(p); !slices.Contains(done, k) {
			done = append(done, k)
			lookup(indexTenantGranule, k)
		}
	}
}
