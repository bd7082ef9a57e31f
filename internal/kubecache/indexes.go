package kubecache

import (
	"context"
	"fmt"
	"strconv"

	"k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"

	exposurev1alpha1 "github.com/inference-exposure/inference-exposure-operator/api/v1alpha1"
	"github.com/inference-exposure/inference-exposure-operator/internal/allocator"
	"github.com/inference-exposure/inference-exposure-operator/internal/render/router"
)

// Field indexes on the cache: the reconcilers and map functions look objects up by them
// instead of listing (and deep-copying) everything, so that a reconcile costs the same in a
// cluster of 100 exposures and of 10,000, and the initial sync stays linear.
const (
	// IndexTenantNamespace: tenants by every namespace in spec.namespaces.
	IndexTenantNamespace = "tenant.namespace"
	// IndexTenantHostDomain: tenants by spec.hostDomain.
	IndexTenantHostDomain = "tenant.hostDomain"
	// IndexTenantGranule: tenants by every claim granule of status.portBlock.
	IndexTenantGranule = "tenant.granule"
	// IndexTenantPending: "true" for live tenants without a block; they wait for a release.
	IndexTenantPending = "tenant.pending"
	// IndexClaimTenantUID: claims by spec.tenantUID.
	IndexClaimTenantUID = "claim.tenantUID"
	// IndexExposureHostKey: routed exposures by the host keys of the hosts they set themselves
	// (default hosts are found by name: router.DefaultHostOwners).
	IndexExposureHostKey = "exposure.hostKey"
	// IndexExposureHostLoser: exposures that lost a host conflict, by their host keys.
	IndexExposureHostLoser = "exposure.hostLoser"
	// IndexExposureFrontendSkipped: "true" for exposures told their HAProxy frontend was left out.
	IndexExposureFrontendSkipped = "exposure.frontendSkipped"
	// IndexExposureBlockFull: exposures waiting for ports in a full block, by tenant.
	IndexExposureBlockFull = "exposure.blockFull"
)

// GranuleKey is the index key of the claim granule holding port p.
func GranuleKey(p int32) string { return strconv.Itoa(int(p - p%allocator.Granule)) }

// SetupIndexes registers the field indexes once per manager.
func SetupIndexes(ctx context.Context, idx client.FieldIndexer) error {
	for _, i := range []struct {
		obj   client.Object
		field string
		fn    client.IndexerFunc
	}{
		{&exposurev1alpha1.InferenceTenant{}, IndexTenantNamespace, func(o client.Object) []string {
			return o.(*exposurev1alpha1.InferenceTenant).Spec.Namespaces
		}},
		{&exposurev1alpha1.InferenceTenant{}, IndexTenantHostDomain, func(o client.Object) []string {
			if d := o.(*exposurev1alpha1.InferenceTenant).Spec.HostDomain; d != "" {
				return []string{d}
			}
			return nil
		}},
		{&exposurev1alpha1.InferenceTenant{}, IndexTenantGranule, func(o client.Object) []string {
			pb := o.(*exposurev1alpha1.InferenceTenant).Status.PortBlock
			if pb == nil {
				return nil
			}
			var out []string
			for _, g := range allocator.Granules(allocator.Range{Start: pb.Start, End: pb.End}) {
				out = append(out, GranuleKey(g.Start))
			}
			return out
		}},
		{&exposurev1alpha1.InferenceTenant{}, IndexTenantPending, func(o client.Object) []string {
			t := o.(*exposurev1alpha1.InferenceTenant)
			if t.Status.PortBlock == nil && t.DeletionTimestamp.IsZero() {
				return []string{"true"}
			}
			return nil
		}},
		{&exposurev1alpha1.PortClaim{}, IndexClaimTenantUID, func(o client.Object) []string {
			return []string{o.(*exposurev1alpha1.PortClaim).Spec.TenantUID}
		}},
		{&exposurev1alpha1.InferenceExposure{}, IndexExposureHostKey, func(o client.Object) []string {
			return router.ExplicitHostKeys(o.(*exposurev1alpha1.InferenceExposure))
		}},
		{&exposurev1alpha1.InferenceExposure{}, IndexExposureHostLoser, func(o client.Object) []string {
			e := o.(*exposurev1alpha1.InferenceExposure)
			if c := meta.FindStatusCondition(e.Status.Conditions, exposurev1alpha1.ConditionRouted); c == nil || c.Reason != exposurev1alpha1.ReasonHostConflict {
				return nil
			}
			return router.HostKeys(e)
		}},
		{&exposurev1alpha1.InferenceExposure{}, IndexExposureFrontendSkipped, func(o client.Object) []string {
			if meta.FindStatusCondition(o.(*exposurev1alpha1.InferenceExposure).Status.Conditions, exposurev1alpha1.ConditionHAProxyFrontend) == nil {
				return nil
			}
			return []string{"true"}
		}},
		{&exposurev1alpha1.InferenceExposure{}, IndexExposureBlockFull, func(o client.Object) []string {
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
