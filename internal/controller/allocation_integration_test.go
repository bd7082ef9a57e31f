package controller

import (
	"context"
	"fmt"
	"sort"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	exposurev1alpha1 "github.com/inference-exposure/inference-exposure-operator/api/v1alpha1"
	"github.com/inference-exposure/inference-exposure-operator/internal/allocator"
)

// TestConcurrentTenantsTwoOperators creates many tenants and exposures at once while two
// operator processes (managers) with several workers each reconcile them, as happens when
// leader election is off by mistake. No two tenants may end up with overlapping blocks and every
// Service's ports must lie in its own tenant's block.
func TestConcurrentTenantsTwoOperators(t *testing.T) {
	const tenants, perTenant = 16, 2
	opts := Options{Pool: mustPool(t, 30000, 32767), DefaultBlockSize: 100, MaxConcurrent: 4}
	var names, namespaces []string
	for i := range tenants {
		names = append(names, fmt.Sprintf("race-%02d", i))
	}
	cleanupTenants(t, names...)
	for i := range tenants {
		namespaces = append(namespaces, newNamespace(t, "race"))
		_ = i
	}
	cleanupServices(t, namespaces...)

	startManager(t, opts)
	startManager(t, opts)

	// Everything at once, from several goroutines.
	errs := make(chan error, tenants)
	for i := range tenants {
		go func() {
			ctx := context.Background()
			var err error
			size := ptr.To[int32](100)
			if i%4 == 0 {
				size = ptr.To[int32](50) // mixed sizes: overlapping candidates of different shape
			}
			if e := k8s.Create(ctx, newTenant(names[i], nil, size, namespaces[i])); e != nil {
				err = e
			}
			for j := range perTenant {
				if e := k8s.Create(ctx, newExposure(namespaces[i], fmt.Sprintf("model-%d", j), ptr.To[int32](8000), ptr.To[int32](8001), ptr.To[int32](8002))); e != nil {
					err = e
				}
			}
			errs <- err
		}()
	}
	for range tenants {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	for i := range tenants {
		for j := range perTenant {
			waitExposureCondition(t, namespaces[i], fmt.Sprintf("model-%d", j), "Ready", "True")
		}
	}

	blocks := map[string]allocator.Range{}
	for _, n := range names {
		tn := getTenant(t, n)
		if tn.Status.PortBlock == nil {
			t.Fatalf("%s has no block", n)
		}
		blocks[n] = allocator.Range{Start: tn.Status.PortBlock.Start, End: tn.Status.PortBlock.End}
	}
	for a, ra := range blocks {
		for b, rb := range blocks {
			if a < b && ra.Overlaps(rb) {
				t.Errorf("blocks overlap: %s %v and %s %v", a, ra, b, rb)
			}
		}
	}
	// Claims: exactly the granules of each block, nothing stray.
	var claims exposurev1alpha1.PortClaimList
	if err := k8s.List(context.Background(), &claims); err != nil {
		t.Fatal(err)
	}
	perOwner := map[string]int{}
	for _, c := range claims.Items {
		b, ok := blocks[c.Spec.Tenant]
		if !ok {
			continue
		}
		perOwner[c.Spec.Tenant]++
		if !b.Contains(c.Spec.Start) || !b.Contains(c.Spec.End) {
			t.Errorf("claim %s of %s lies outside its block %v", c.Name, c.Spec.Tenant, b)
		}
	}
	for n, b := range blocks {
		if perOwner[n] != int(b.Size()/allocator.Granule) {
			t.Errorf("%s holds %d claims for block %v", n, perOwner[n], b)
		}
	}
	seen := map[int32]string{}
	for i, ns := range namespaces {
		var sl corev1.ServiceList
		if err := k8s.List(context.Background(), &sl, client.InNamespace(ns)); err != nil {
			t.Fatal(err)
		}
		for _, svc := range sl.Items {
			for _, p := range svc.Spec.Ports {
				if !blocks[names[i]].Contains(p.NodePort) {
					t.Errorf("%s/%s port %d outside block %v", ns, svc.Name, p.NodePort, blocks[names[i]])
				}
				if other, dup := seen[p.NodePort]; dup {
					t.Errorf("port %d used twice: %s and %s", p.NodePort, other, svc.Name)
				}
				seen[p.NodePort] = ns + "/" + svc.Name
			}
		}
	}
}

// snapshot records the resourceVersion of every object the operator writes.
func snapshot(t *testing.T, namespaces ...string) map[string]string {
	t.Helper()
	ctx := context.Background()
	out := map[string]string{}
	var tl exposurev1alpha1.InferenceTenantList
	var cl exposurev1alpha1.PortClaimList
	if err := k8s.List(ctx, &tl); err != nil {
		t.Fatal(err)
	}
	if err := k8s.List(ctx, &cl); err != nil {
		t.Fatal(err)
	}
	for _, o := range tl.Items {
		out["tenant/"+o.Name] = o.ResourceVersion
	}
	for _, o := range cl.Items {
		out["claim/"+o.Name] = o.ResourceVersion
	}
	for _, ns := range namespaces {
		var el exposurev1alpha1.InferenceExposureList
		var sl corev1.ServiceList
		if err := k8s.List(ctx, &el, client.InNamespace(ns)); err != nil {
			t.Fatal(err)
		}
		if err := k8s.List(ctx, &sl, client.InNamespace(ns)); err != nil {
			t.Fatal(err)
		}
		for _, o := range el.Items {
			out["exposure/"+ns+"/"+o.Name] = o.ResourceVersion
		}
		for _, o := range sl.Items {
			out["service/"+ns+"/"+o.Name] = o.ResourceVersion
		}
	}
	return out
}

// TestRestartWritesNothing: a new operator process (a restart, an upgrade, a leader failover)
// keeps every block and port and writes nothing when nothing changed. The new process's client
// records what it does: once a reconcile of every object ran, the process is stopped (which
// waits for running reconciles) and must not have sent a single write.
func TestRestartWritesNothing(t *testing.T) {
	ns1, ns2 := newNamespace(t, "restart"), newNamespace(t, "restart")
	cleanupServices(t, ns1, ns2)
	cleanupTenants(t, "restart-a", "restart-b")
	opts := Options{Pool: mustPool(t, 30000, 32767), DefaultBlockSize: 100, MaxConcurrent: 2}
	stop := startManager(t, opts)
	objs := []client.Object{
		newTenant("restart-a", nil, nil, ns1), newTenant("restart-b", nil, ptr.To[int32](20), ns2),
		newExposure(ns1, "triton", ptr.To[int32](8000), ptr.To[int32](8001), ptr.To[int32](8002)),
		newExposure(ns2, "vllm", ptr.To[int32](8000), nil, nil),
	}
	create(t, objs...)
	waitExposureCondition(t, ns1, "triton", "Ready", "True")
	waitExposureCondition(t, ns2, "vllm", "Ready", "True")
	waitTenantCondition(t, "restart-a", "Ready", "True")
	eventually(t, "usage settled", func() (bool, string) {
		return getTenant(t, "restart-a").Status.PortsUsed == 3 && getTenant(t, "restart-b").Status.PortsUsed == 1, "not yet"
	})
	stop()

	before := snapshot(t, ns1, ns2)
	stop, rec := startRecordedManager(t, opts)
	waitReconciled(t, rec, objs...)
	stop()
	if w := rec.writeList(); len(w) > 0 {
		t.Errorf("the restarted operator wrote: %v", w)
	}
	after := snapshot(t, ns1, ns2)
	keys := make([]string, 0, len(before))
	for k := range before {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if before[k] != after[k] {
			t.Errorf("%s was written after the restart (resourceVersion %s -> %s)", k, before[k], after[k])
		}
	}
}
