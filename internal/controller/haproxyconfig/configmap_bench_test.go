package haproxyconfig

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/inference-exposure/inference-exposure-operator/test/testenv"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// BenchmarkApplyConfigMapUnchanged: a shard ConfigMap of 60 KiB that already holds what was
// rendered, as every shard but one after a single exposure's change at 10,000 exposures.
func BenchmarkApplyConfigMapUnchanged(b *testing.B) {
	ctx := context.Background()
	k8s, cached := benchControlPlane(b)
	ns := "default"
	r := &Reconciler{Client: cached, APIReader: k8s, Settings: Settings{Namespace: ns, Name: "haproxy"}}
	f := configFile{name: "haproxy-07", key: "haproxy-07.cfg", data: strings.Repeat("    server s1 10.0.1.101:+22800 check port 30801  # gpu-1\n", 1100)}
	if fail, err := r.applyConfigMap(ctx, f); err != nil || fail != nil {
		b.Fatal(fail, err)
	}
	var cm corev1.ConfigMap
	for deadline := time.Now().Add(30 * time.Second); cached.Get(ctx, client.ObjectKey{Namespace: ns, Name: f.name}, &cm) != nil; {
		if time.Now().After(deadline) {
			b.Fatal("the cache never showed the ConfigMap")
		}
		time.Sleep(10 * time.Millisecond) // polls the cache, which shows the write within moments
	}
	r.wrote = false
	b.ReportAllocs()
	for b.Loop() {
		if fail, err := r.applyConfigMap(ctx, f); err != nil || fail != nil {
			b.Fatal(fail, err)
		}
	}
	if r.wrote {
		b.Fatal("the unchanged ConfigMap was written again")
	}
}

// BenchmarkApplyConfigMapChanged: a 60 KB shard whose content changed on every render, applied
// through the real API server (request, response and the up-to-date check).
func BenchmarkApplyConfigMapChanged(b *testing.B) {
	ctx := context.Background()
	k8s, _ := benchControlPlane(b)
	ns := "default"
	r := &Reconciler{Client: k8s, APIReader: k8s, Settings: Settings{Namespace: ns, Name: "haproxy"}}
	line := "    server s1 10.0.1.101:+22800 check port 30801  # gpu-1\n"
	f := configFile{name: "haproxy-07", key: "haproxy-07.cfg"}
	var live corev1.ConfigMap
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		f.data = strings.Repeat(line, 1100) + fmt.Sprintf("# render %d\n", i)
		if fail, err := r.applyConfigMap(ctx, f); err != nil || fail != nil {
			b.Fatal(fail, err)
		}
		i++
	}
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: f.name}, &live); err != nil || !strings.HasSuffix(live.Data[f.key], fmt.Sprintf("# render %d\n", i-1)) {
		b.Fatalf("the last render is not in the ConfigMap: %v", err)
	}
}

// benchControlPlane starts a control plane for one benchmark and returns a client of it and
// one that reads through a started informer cache, as a manager's does.
func benchControlPlane(b *testing.B) (direct, cached client.Client) {
	b.Helper()
	env, direct := testenv.StartForTest(b, false, nil)
	c := testenv.StartedCache(b, env.Config, nil, nil)
	cached, err := client.New(env.Config, client.Options{Cache: &client.CacheOptions{Reader: c}})
	if err != nil {
		b.Fatal(err)
	}
	return direct, cached
}
