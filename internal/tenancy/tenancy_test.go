package tenancy

import (
	"reflect"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	exposurev1alpha1 "github.com/inference-exposure/inference-exposure-operator/api/v1alpha1"
)

func tenant(name string, age time.Duration, ns ...string) exposurev1alpha1.InferenceTenant {
	return exposurev1alpha1.InferenceTenant{
		ObjectMeta: metav1.ObjectMeta{Name: name, CreationTimestamp: metav1.NewTime(time.Unix(1e9, 0).Add(-age))},
		Spec:       exposurev1alpha1.InferenceTenantSpec{Namespaces: ns},
	}
}

func TestOwners(t *testing.T) {
	for _, tc := range []struct {
		name    string
		tenants []exposurev1alpha1.InferenceTenant
		owner   map[string]string
		others  map[string][]string
	}{
		{name: "disjoint", tenants: []exposurev1alpha1.InferenceTenant{tenant("alpha", time.Hour, "a"), tenant("beta", time.Hour, "b")},
			owner: map[string]string{"a": "alpha", "b": "beta"}},
		{name: "older keeps a shared namespace", tenants: []exposurev1alpha1.InferenceTenant{tenant("zeta", 0, "shared"), tenant("beta", time.Hour, "shared", "b")},
			owner: map[string]string{"shared": "beta", "b": "beta"}, others: map[string][]string{"shared": {"zeta"}}},
		{name: "same age: name decides", tenants: []exposurev1alpha1.InferenceTenant{tenant("b", 0, "x"), tenant("a", 0, "x")},
			owner: map[string]string{"x": "a"}, others: map[string][]string{"x": {"b"}}},
		{name: "none", owner: map[string]string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Owners(tc.tenants)
			owner := map[string]string{}
			others := map[string][]string{}
			for ns, c := range got {
				owner[ns] = c.Owner.Name
				if len(c.Others) > 0 {
					others[ns] = c.Others
				}
			}
			if !reflect.DeepEqual(owner, tc.owner) {
				t.Errorf("owners = %v, want %v", owner, tc.owner)
			}
			if tc.others == nil {
				tc.others = map[string][]string{}
			}
			if !reflect.DeepEqual(others, tc.others) {
				t.Errorf("others = %v, want %v", others, tc.others)
			}
		})
	}
}
