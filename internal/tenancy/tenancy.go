// Package tenancy decides which tenant owns which namespace. Pure Go, no client calls.
package tenancy

import (
	"sort"

	exposurev1alpha1 "github.com/inference-exposure/inference-exposure-operator/api/v1alpha1"
)

// Claim says who owns a namespace and who else asked for it.
type Claim struct {
	// Owner is the tenant that keeps the namespace: the oldest tenant listing it.
	Owner *exposurev1alpha1.InferenceTenant
	// Others are the younger tenants that also list it; they get nothing in it.
	Others []string
}

// Owners maps every namespace listed by a tenant to its claim. When two tenants list the same
// namespace the older one (creation time, then name) keeps it, so a tenant created by mistake
// never takes exposures away from the tenant that had them.
func Owners(tenants []exposurev1alpha1.InferenceTenant) map[string]*Claim {
	sorted := make([]*exposurev1alpha1.InferenceTenant, 0, len(tenants))
	for i := range tenants {
		sorted = append(sorted, &tenants[i])
	}
	sort.SliceStable(sorted, func(i, j int) bool {
		a, b := sorted[i], sorted[j]
		if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
			return a.CreationTimestamp.Before(&b.CreationTimestamp)
		}
		return a.Name < b.Name
	})
	out := map[string]*Claim{}
	for _, t := range sorted {
		for _, ns := range t.Spec.Namespaces {
			c, ok := out[ns]
			if !ok {
				out[ns] = &Claim{Owner: t}
				continue
			}
			if c.Owner.Name != t.Name {
				c.Others = append(c.Others, t.Name)
			}
		}
	}
	return out
}
