package kubecache

import (
	"context"
	"slices"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	exposurev1alpha1 "github.com/inference-exposure/inference-exposure-operator/api/v1alpha1"
)

// TenantsOfService adds to names the tenants a Service concerns: those listing its namespace
// (its labels prove nothing) and those whose blocks hold one of its node ports.
func TenantsOfService(ctx context.Context, informers cache.Informers, c client.Reader, svc *corev1.Service, names map[string]bool) {
	lookup := func(field, value string) {
		tenants, err := IndexedKeys[*exposurev1alpha1.InferenceTenant](ctx, informers, c, &exposurev1alpha1.InferenceTenantList{}, field, value)
		if err != nil {
			return
		}
		for _, t := range tenants {
			names[t.Name] = true
		}
	}
	lookup(IndexTenantNamespace, svc.Namespace)
	var done []string // a Service's ports mostly share a granule: each is looked up once
	for _, p := range ServiceNodePorts(svc) {
		if k := GranuleKey(p); !slices.Contains(done, k) {
			done = append(done, k)
			lookup(IndexTenantGranule, k)
		}
	}
}
