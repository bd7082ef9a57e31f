package kubecache

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	exposurev1alpha1 "github.com/inference-exposure/inference-exposure-operator/api/v1alpha1"
	"github.com/inference-exposure/inference-exposure-operator/internal/render/router"
)

func createConfigMaps(t testing.TB, ns string, n int) {
	t.Helper()
	for i := range n {
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: fmt.Sprintf("cm-%04d", i)}, Data: map[string]string{"k": "v"}}
		if err := k8s.Create(context.Background(), cm); err != nil {
			t.Fatal(err)
		}
	}
}

// inNamespace names the objects of ns, sorted.
func inNamespace[PT client.Object](objs []PT, ns string) []string {
	var out []string
	for _, o := range objs {
		if o.GetNamespace() == ns {
			out = append(out, o.GetName())
		}
	}
	slices.Sort(out)
	return out
}

// TestCachedObjects: the cache's own objects, the same as a list through the cache shows, and
// the same without informers (through the client).
func TestCachedObjects(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t, "cached-list")
	c := startedCache(t, false)
	createConfigMaps(t, ns, 5)
	var got []*corev1.ConfigMap
	for deadline := time.Now().Add(30 * time.Second); ; {
		var err error
		if got, err = Objects[*corev1.ConfigMap](ctx, c, nil, nil); err != nil {
			t.Fatal(err)
		}
		if len(inNamespace(got, ns)) == 5 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the cache shows %v in %s", inNamespace(got, ns), ns)
		}
		time.Sleep(20 * time.Millisecond) // polls the cache, which shows the creates within moments
	}
	var list corev1.ConfigMapList
	if err := c.List(ctx, &list, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	want := make([]string, 0, len(list.Items))
	for _, cm := range list.Items {
		want = append(want, cm.Name)
	}
	slices.Sort(want)
	if names := inNamespace(got, ns); !slices.Equal(names, want) {
		t.Errorf("Objects = %v, a list through the cache = %v", names, want)
	}
	again, err := Objects[*corev1.ConfigMap](ctx, c, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range again {
		if a.Namespace == ns && !slices.Contains(got, a) {
			t.Errorf("%s: not the cache's own object (a copy each time)", a.Name)
		}
	}
	viaClient, err := Objects[*corev1.ConfigMap](ctx, nil, c, &corev1.ConfigMapList{})
	if err != nil {
		t.Fatal(err)
	}
	if names := inNamespace(viaClient, ns); !slices.Equal(names, want) {
		t.Errorf("without informers: %v, want %v", names, want)
	}
}

// BenchmarkCachedObjects reads 1,000 cached ConfigMaps, as a render reads every exposure:
// through client.List without deep copies, and as the cache's own objects.
func BenchmarkCachedObjects(b *testing.B) {
	ctx := context.Background()
	ns := newNamespace(b, "cached-bench")
	c := startedCache(b, false)
	createConfigMaps(b, ns, 1000)
	for deadline := time.Now().Add(time.Minute); ; {
		got, err := Objects[*corev1.ConfigMap](ctx, c, nil, nil)
		if err != nil {
			b.Fatal(err)
		}
		if len(inNamespace(got, ns)) == 1000 {
			break
		}
		if time.Now().After(deadline) {
			b.Fatal("the cache never showed the ConfigMaps")
		}
		time.Sleep(20 * time.Millisecond)
	}
	b.Run("client.List", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var list corev1.ConfigMapList
			if err := c.List(ctx, &list, client.UnsafeDisableDeepCopy); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Objects", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := Objects[*corev1.ConfigMap](ctx, c, nil, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestIndexedKeys: the names an index lookup gives are those a list through the cache with the
// same field selector finds, for a namespaced kind (exposures by host key) and a cluster-scoped
// one (tenants by namespace), with and without informers.
func TestIndexedKeys(t *testing.T) {
	ctx := context.Background()
	c := startedCache(t, true)
	nsA, nsB := newNamespace(t, "idx-a"), newNamespace(t, "idx-b")
	host := exposurev1alpha1.Hostname(nsA + ".shared.example.com")
	for _, e := range []*exposurev1alpha1.InferenceExposure{
		routedExposure(nsA, "one", exposurev1alpha1.RouterSpec{Type: exposurev1alpha1.RouterIngress, Host: host}),
		routedExposure(nsB, "two", exposurev1alpha1.RouterSpec{Type: exposurev1alpha1.RouterIngress, Host: host}),
		routedExposure(nsB, "other", exposurev1alpha1.RouterSpec{Type: exposurev1alpha1.RouterIngress, Host: "other." + host}),
	} {
		create(t, e)
	}
	tenant := "idx-" + nsA
	cleanupTenants(t, tenant)
	create(t, newTenant(tenant, nsA, nsB))
	key := router.ExplicitHostKeys(routedExposure(nsA, "one", exposurev1alpha1.RouterSpec{Type: exposurev1alpha1.RouterIngress, Host: host}))[0]

	names := func(keys []types.NamespacedName) []string {
		out := make([]string, 0, len(keys))
		for _, k := range keys {
			out = append(out, k.String())
		}
		slices.Sort(out)
		return out
	}
	// listedNames lists through the cache by the index, as the code did before IndexedKeys.
	listedNames := func(l client.ObjectList, field, value string) ([]string, error) {
		if err := c.List(ctx, l, client.MatchingFields{field: value}); err != nil {
			return nil, err
		}
		var out []string
		err := meta.EachListItem(l, func(o runtime.Object) error {
			m := o.(client.Object)
			out = append(out, types.NamespacedName{Namespace: m.GetNamespace(), Name: m.GetName()}.String())
			return nil
		})
		slices.Sort(out)
		return out, err
	}
	cases := []struct {
		name string
		keys func(cache.Informers, client.Reader) ([]types.NamespacedName, error)
		list func() ([]string, error)
		want []string
	}{
		{"exposures by host key",
			func(i cache.Informers, r client.Reader) ([]types.NamespacedName, error) {
				return IndexedKeys[*exposurev1alpha1.InferenceExposure](ctx, i, r, &exposurev1alpha1.InferenceExposureList{}, IndexExposureHostKey, key)
			},
			func() ([]string, error) {
				return listedNames(&exposurev1alpha1.InferenceExposureList{}, IndexExposureHostKey, key)
			},
			[]string{nsA + "/one", nsB + "/two"}},
		{"tenants by namespace",
			func(i cache.Informers, r client.Reader) ([]types.NamespacedName, error) {
				return IndexedKeys[*exposurev1alpha1.InferenceTenant](ctx, i, r, &exposurev1alpha1.InferenceTenantList{}, IndexTenantNamespace, nsB)
			},
			func() ([]string, error) {
				return listedNames(&exposurev1alpha1.InferenceTenantList{}, IndexTenantNamespace, nsB)
			},
			[]string{"/" + tenant}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for deadline := time.Now().Add(30 * time.Second); ; {
				k, err := tc.keys(c, nil)
				if err != nil {
					t.Fatal(err)
				}
				if got = names(k); slices.Equal(got, tc.want) {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("IndexedKeys = %v, want %v", got, tc.want)
				}
				time.Sleep(20 * time.Millisecond) // polls the cache, which shows the creates within moments
			}
			if listed, err := tc.list(); err != nil || !slices.Equal(listed, got) {
				t.Errorf("a list through the cache finds %v (%v), IndexedKeys %v", listed, err, got)
			}
			viaClient, err := tc.keys(nil, c)
			if err != nil || !slices.Equal(names(viaClient), got) {
				t.Errorf("without informers: %v (%v), want %v", names(viaClient), err, got)
			}
		})
	}
}

// BenchmarkIndexedKeys: the names of 50 exposures found by one index value (the exposures of
// a tenant waiting in a full block, say), through client.List without deep copies and as the
// index's keys.
func BenchmarkIndexedKeys(b *testing.B) {
	ctx := context.Background()
	c := startedCache(b, true)
	ns := newNamespace(b, "idx-bench")
	host := exposurev1alpha1.Hostname(ns + ".bench.example.com")
	for i := range 50 {
		e := routedExposure(ns, fmt.Sprintf("m%02d", i), exposurev1alpha1.RouterSpec{Type: exposurev1alpha1.RouterIngress, Host: host})
		e.Status.Conditions = []metav1.Condition{{Type: exposurev1alpha1.ConditionReady, Status: metav1.ConditionTrue, Reason: "Ready", Message: "the Service and its routing are in place", LastTransitionTime: metav1.Now()}}
		if err := k8s.Create(ctx, e); err != nil {
			b.Fatal(err)
		}
	}
	key := router.ExplicitHostKeys(routedExposure(ns, "m00", exposurev1alpha1.RouterSpec{Type: exposurev1alpha1.RouterIngress, Host: host}))[0]
	for deadline := time.Now().Add(30 * time.Second); ; {
		if k, _ := IndexedKeys[*exposurev1alpha1.InferenceExposure](ctx, c, nil, nil, IndexExposureHostKey, key); len(k) == 50 {
			break
		}
		if time.Now().After(deadline) {
			b.Fatal("the cache never showed the 50 exposures")
		}
		time.Sleep(20 * time.Millisecond) // polls the cache, which shows the creates within moments
	}
	b.Run("list", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var l exposurev1alpha1.InferenceExposureList
			if err := c.List(ctx, &l, client.MatchingFields{IndexExposureHostKey: key}, client.UnsafeDisableDeepCopy); err != nil || len(l.Items) != 50 {
				b.Fatal(err, len(l.Items))
			}
		}
	})
	b.Run("keys", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if k, err := IndexedKeys[*exposurev1alpha1.InferenceExposure](ctx, c, nil, nil, IndexExposureHostKey, key); err != nil || len(k) != 50 {
				b.Fatal(err, len(k))
			}
		}
	})
}
