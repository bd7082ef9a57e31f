package controller

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
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
		if got, err = cachedObjects[*corev1.ConfigMap](ctx, c, nil, nil); err != nil {
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
		t.Errorf("cachedObjects = %v, a list through the cache = %v", names, want)
	}
	again, err := cachedObjects[*corev1.ConfigMap](ctx, c, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range again {
		if a.Namespace == ns && !slices.Contains(got, a) {
			t.Errorf("%s: not the cache's own object (a copy each time)", a.Name)
		}
	}
	viaClient, err := cachedObjects[*corev1.ConfigMap](ctx, nil, c, &corev1.ConfigMapList{})
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
		got, err := cachedObjects[*corev1.ConfigMap](ctx, c, nil, nil)
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
	b.Run("cachedObjects", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := cachedObjects[*corev1.ConfigMap](ctx, c, nil, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
}
