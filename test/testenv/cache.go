package testenv

import (
	"context"
	"testing"

	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/cache"
)

// StartedCache starts an informer cache of the control plane at cfg for the test (scheme nil:
// client-go's), with setup (indexes, say; nil: none) applied before it starts, and returns it
// once it has synced. It stops when the test ends.
func StartedCache(t testing.TB, cfg *rest.Config, scheme *k8sruntime.Scheme, setup func(context.Context, cache.Cache) error) cache.Cache {
	t.Helper()
	c, err := cache.New(cfg, cache.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if setup != nil {
		if err := setup(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	go func() { _ = c.Start(ctx) }()
	if !c.WaitForCacheSync(ctx) {
		t.Fatal("cache did not sync")
	}
	return c
}
