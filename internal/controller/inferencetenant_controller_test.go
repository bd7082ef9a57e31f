package controller

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	exposurev1alpha1 "github.com/inference-exposure/inference-exposure-operator/api/v1alpha1"
	"github.com/inference-exposure/inference-exposure-operator/internal/allocator"
	"github.com/inference-exposure/inference-exposure-operator/internal/controller/exposure"
	"github.com/inference-exposure/inference-exposure-operator/internal/kubecache"
	"github.com/inference-exposure/inference-exposure-operator/internal/metrics"
)

func foreignNodePortService(ns, name string, ports ...int32) *corev1.Service {
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec:       corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort, Selector: map[string]string{"app": name}},
	}
	for i, p := range ports {
		svc.Spec.Ports = append(svc.Spec.Ports, corev1.ServicePort{Name: fmt.Sprintf("p%d", i), Port: int32(80 + i), NodePort: p})
	}
	return svc
}

// TestForeignPortsAreSkipped: node ports held by Services the operator does not manage stay
// theirs; the tenant reports them.
func TestForeignPortsAreSkipped(t *testing.T) {
	ns := newNamespace(t, "foreign")
	other := newNamespace(t, "legacy")
	cleanupServices(t, ns, other)
	cleanupTenants(t, "foreign-test")
	create(t, foreignNodePortService(other, "legacy", 31000, 31002))
	startManager(t, Options{Pool: mustPool(t, 30000, 32767), DefaultBlockSize: 100, MaxConcurrent: 2})
	create(t, newTenant("foreign-test", ptr.To[int32](31000), ptr.To[int32](10), ns),
		newExposure(ns, "triton", ptr.To[int32](8000), ptr.To[int32](8001), ptr.To[int32](8002)))
	e := waitExposureCondition(t, ns, "triton", "Ready", "True")
	if *e.Status.NodePorts != (exposurev1alpha1.NodePorts{HTTP: 31001, GRPC: 31003, Metrics: 31004}) {
		t.Fatalf("node ports = %+v", e.Status.NodePorts)
	}
	eventually(t, "foreign ports reported", func() (bool, string) {
		tn := getTenant(t, "foreign-test")
		return slices.Equal(tn.Status.ForeignPorts, []int32{31000, 31002}) && tn.Status.PortsUsed == 3 && tn.Status.PortsFree == 5,
			fmt.Sprintf("%+v", tn.Status)
	})
	if got := testutil.ToFloat64(metrics.BlockPorts.WithLabelValues("foreign-test", "foreign")); got != 2 {
		t.Fatalf("foreign ports metric = %v", got)
	}
}

// laggingClient is the real API server seen through a stale cache: lag takes out of every list
// what an informer that has not caught up would not show yet.
type laggingClient struct {
	client.Client
	lag func(client.ObjectList)
}

func (l laggingClient) List(ctx context.Context, list client.ObjectList, opts ...client.ListOption) error {
	if err := l.Client.List(ctx, list, opts...); err != nil {
		return err
	}
	l.lag(list)
	return nil
}

// hiding leaves one Service out of Service lists.
func hiding(c client.Client, hide client.ObjectKey) laggingClient {
	return laggingClient{Client: c, lag: func(list client.ObjectList) {
		if sl, ok := list.(*corev1.ServiceList); ok {
			sl.Items = slices.DeleteFunc(sl.Items, func(s corev1.Service) bool { return client.ObjectKeyFromObject(&s) == hide })
		}
	}}
}

// tenantWithBlock creates a tenant owning ns with the 10-port block at start, given by hand (no
// manager runs in the tests that use it), as the tenant controller would.
func tenantWithBlock(t *testing.T, name, ns string, start int32) *exposurev1alpha1.InferenceTenant {
	t.Helper()
	tn := newTenant(name, ptr.To(start), ptr.To[int32](10), ns)
	create(t, tn)
	create(t, &exposurev1alpha1.PortClaim{
		ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("ports-%d-%d", start, start+9), Labels: map[string]string{exposurev1alpha1.LabelTenant: tn.Name}},
		Spec:       exposurev1alpha1.PortClaimSpec{Tenant: tn.Name, TenantUID: string(tn.UID), Start: start, End: start + 9},
	})
	tn.Status.PortBlock = &exposurev1alpha1.PortBlockStatus{Start: start, End: start + 9, Size: 10}
	if err := k8s.Status().Update(context.Background(), tn); err != nil {
		t.Fatal(err)
	}
	return tn
}

// TestPortAlreadyAllocated: when the API server answers "provided port is already allocated"
// (a Service the cache has not shown yet), the reconciler picks another port.
func TestPortAlreadyAllocated(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t, "stale")
	cleanupServices(t, ns)
	cleanupTenants(t, "stale-test")
	tn := tenantWithBlock(t, "stale-test", ns, 31100)
	hidden := foreignNodePortService(ns, "sneaky", 31100, 31101)
	create(t, hidden)
	exp := newExposure(ns, "triton", ptr.To[int32](8000), ptr.To[int32](8001), nil)
	create(t, exp)

	cached, informers := cachedClientWith(t)
	eventually(t, "the cache to show the exposure, the block and the hidden Service", func() (bool, string) {
		var e exposurev1alpha1.InferenceExposure
		var tc exposurev1alpha1.InferenceTenant
		var svc corev1.Service
		ok := cached.Get(ctx, client.ObjectKeyFromObject(exp), &e) == nil && cached.Get(ctx, client.ObjectKeyFromObject(tn), &tc) == nil &&
			tc.Status.PortBlock != nil && cached.Get(ctx, client.ObjectKeyFromObject(hidden), &svc) == nil &&
			cached.Get(ctx, client.ObjectKey{Name: "ports-31100-31109"}, &exposurev1alpha1.PortClaim{}) == nil
		return ok, "not yet"
	})
	stale := hiding(cached, client.ObjectKeyFromObject(hidden))
	var sl corev1.ServiceList
	if err := stale.List(ctx, &sl); err != nil {
		t.Fatal(err)
	}
	r := newExposureReconciler(t, stale, informers, kubecache.NodePortsFrom(sl.Items), nopRecorder{})
	if _, err := r.Reconcile(ctx, reqFor(exp)); err != nil {
		t.Fatal(err)
	}
	got := getService(t, ns, "triton")
	if np := nodePorts(got); np["http"] != 31102 || np["grpc"] != 31103 {
		t.Fatalf("node ports = %v, want 31102/31103", np)
	}
	e := getExposure(t, ns, "triton")
	if !strings.HasPrefix(condition(e.Status.Conditions, "Ready"), "True") {
		t.Fatalf("ready = %s", condition(e.Status.Conditions, "Ready"))
	}
}

// TestExhaustion: a full pool and a full block each say what to do, and nothing falls back.
func TestExhaustion(t *testing.T) {
	ns := newNamespace(t, "full")
	cleanupServices(t, ns)
	cleanupTenants(t, "ex-a", "ex-b", "ex-c", "ex-small")
	startManager(t, Options{Pool: mustPool(t, 32000, 32199), DefaultBlockSize: 100, MaxConcurrent: 2})
	create(t, newTenant("ex-a", nil, nil, "ex-a-ns"), newTenant("ex-b", nil, nil, "ex-b-ns"))
	waitTenantCondition(t, "ex-a", "BlockAllocated", "True")
	waitTenantCondition(t, "ex-b", "BlockAllocated", "True")
	create(t, newTenant("ex-c", nil, nil, "ex-c-ns"))
	tn := waitTenantCondition(t, "ex-c", "Ready", "False/PoolExhausted")
	if tn.Status.PortBlock != nil || !strings.Contains(condition(tn.Status.Conditions, "Ready"), "32000-32199") {
		t.Fatalf("status = %+v", tn.Status)
	}
	waitEvent(t, "default", "ex-c", "Warning PoolExhausted")

	// Releasing a tenant frees its block for the waiting one.
	if err := k8s.Delete(context.Background(), getTenant(t, "ex-a")); err != nil {
		t.Fatal(err)
	}
	waitTenantCondition(t, "ex-c", "Ready", "True")

	t.Run("block full", func(t *testing.T) {
		// The pool is full again; make room with ex-b's block.
		if err := k8s.Delete(context.Background(), getTenant(t, "ex-b")); err != nil {
			t.Fatal(err)
		}
		create(t, newTenant("ex-small", nil, ptr.To[int32](10), ns))
		waitTenantCondition(t, "ex-small", "BlockAllocated", "True")
		for i := range 3 {
			create(t, newExposure(ns, fmt.Sprintf("m%d", i), ptr.To[int32](8000), ptr.To[int32](8001), ptr.To[int32](8002)))
			waitExposureCondition(t, ns, fmt.Sprintf("m%d", i), "Ready", "True")
		}
		create(t, newExposure(ns, "m3", ptr.To[int32](8000), ptr.To[int32](8001), ptr.To[int32](8002)))
		e := waitExposureCondition(t, ns, "m3", "Ready", "False/BlockFull")
		if !strings.Contains(condition(e.Status.Conditions, "PortsAllocated"), "1 free") {
			t.Fatalf("message: %s", condition(e.Status.Conditions, "PortsAllocated"))
		}
		if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "m3"}, &corev1.Service{}); !apierrors.IsNotFound(err) {
			t.Fatalf("a Service was created without ports: %v", err)
		}
		eventually(t, "block full event", func() (bool, string) {
			ev := events(t, ns, "m3")
			return strings.Contains(ev, "Warning BlockFull"), ev
		})
		// Deleting an exposure frees its ports for the waiting one. The garbage collector
		// removes its Service through the owner reference; where the suite runs without
		// kube-controller-manager, the test does it by hand.
		if err := k8s.Delete(context.Background(), getExposure(t, ns, "m0")); err != nil {
			t.Fatal(err)
		}
		if err := k8s.Delete(context.Background(), &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "m0"}}); client.IgnoreNotFound(err) != nil {
			t.Fatal(err)
		}
		waitExposureCondition(t, ns, "m3", "Ready", "True")
	})
}

// TestPinnedBlockErrors: a pinned start that is misaligned, outside the pool or taken is
// reported, never replaced by another block.
func TestPinnedBlockErrors(t *testing.T) {
	cleanupTenants(t, "pin-owner", "pin-taken", "pin-misaligned", "pin-outside", "pin-huge")
	startManager(t, Options{Pool: mustPool(t, 30000, 32767), DefaultBlockSize: 100, MaxConcurrent: 2})
	create(t, newTenant("pin-owner", ptr.To[int32](31500), nil, "pin-owner-ns"))
	waitTenantCondition(t, "pin-owner", "Ready", "True")
	create(t,
		newTenant("pin-taken", ptr.To[int32](31500), ptr.To[int32](100), "pin-taken-ns"),
		newTenant("pin-misaligned", ptr.To[int32](31550), ptr.To[int32](100), "pin-mis-ns"),
		newTenant("pin-outside", ptr.To[int32](32700), ptr.To[int32](100), "pin-out-ns"),
		newTenant("pin-huge", nil, ptr.To[int32](5000), "pin-huge-ns"),
	)
	for name, want := range map[string]string{
		"pin-taken":      `False/PinnedBlockTaken: pinned block 31500-31599 is held in part by tenant "pin-owner"; portBlock cannot be changed: delete and recreate this tenant`,
		"pin-misaligned": "False/PinnedBlockMisaligned: pinned start 31550 is not aligned to the block size 100 from the pool start 30000: use 31500 or 31600",
		"pin-outside":    "False/PinnedBlockOutsidePool",
		"pin-huge":       "False/BlockLargerThanPool",
	} {
		tn := waitTenantCondition(t, name, "BlockAllocated", want)
		if tn.Status.PortBlock != nil {
			t.Errorf("%s got a block anyway: %+v", name, tn.Status.PortBlock)
		}
		eventually(t, name+" event", func() (bool, string) {
			ev := events(t, "default", name)
			return strings.Contains(ev, "Warning Pinned") || strings.Contains(ev, "Warning BlockLargerThanPool"), ev
		})
	}
	var claims exposurev1alpha1.PortClaimList
	if err := k8s.List(context.Background(), &claims, client.MatchingLabels{exposurev1alpha1.LabelTenant: "pin-taken"}); err != nil || len(claims.Items) != 0 {
		t.Fatalf("losing tenant holds claims: %v %v", claims.Items, err)
	}
}

// TestNamespaceClaimedTwice: the older tenant keeps the namespace, both report the conflict.
func TestNamespaceClaimedTwice(t *testing.T) {
	ns := newNamespace(t, "shared")
	cleanupServices(t, ns)
	cleanupTenants(t, "ns-first", "ns-second")
	startManager(t, Options{Pool: mustPool(t, 30000, 32767), DefaultBlockSize: 100, MaxConcurrent: 2})
	create(t, newTenant("ns-first", nil, ptr.To[int32](10), ns), newExposure(ns, "triton", nil, ptr.To[int32](8001), nil))
	waitExposureCondition(t, ns, "triton", "Ready", "True")
	create(t, newTenant("ns-second", nil, ptr.To[int32](10), ns, "ns-second-own"))
	first := waitTenantCondition(t, "ns-first", "NamespacesExclusive", "False/NamespaceConflict")
	second := waitTenantCondition(t, "ns-second", "NamespacesExclusive", "False/NamespaceConflict")
	if !strings.Contains(condition(first.Status.Conditions, "NamespacesExclusive"), "ns-second") ||
		!strings.Contains(condition(second.Status.Conditions, "NamespacesExclusive"), `older tenant "ns-first"`) {
		t.Fatalf("messages:\n%s\n%s", condition(first.Status.Conditions, "NamespacesExclusive"), condition(second.Status.Conditions, "NamespacesExclusive"))
	}
	if !slices.Equal(second.Status.Namespaces, []string{"ns-second-own"}) {
		t.Fatalf("second owns %v", second.Status.Namespaces)
	}
	e := waitExposureCondition(t, ns, "triton", "TenantResolved", "True")
	if e.Status.Tenant != "ns-first" || !strings.Contains(condition(e.Status.Conditions, "TenantResolved"), "ns-second") {
		t.Fatalf("exposure moved or conflict not reported: %s %s", e.Status.Tenant, condition(e.Status.Conditions, "TenantResolved"))
	}
	// Fixing the second tenant clears the conflict on both.
	updateTenant(t, "ns-second", func(s *exposurev1alpha1.InferenceTenant) { s.Spec.Namespaces = []string{"ns-second-own"} })
	waitTenantCondition(t, "ns-first", "NamespacesExclusive", "True")
	waitTenantCondition(t, "ns-second", "NamespacesExclusive", "True")
}

// TestTenantDeletion: the block is released only after the tenant's Services gave back their
// ports.
func TestTenantDeletion(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t, "leaving")
	cleanupServices(t, ns)
	cleanupTenants(t, "leaving")
	_, rec := startRecordedManager(t, Options{Pool: mustPool(t, 30000, 32767), DefaultBlockSize: 100, MaxConcurrent: 2})
	create(t, newTenant("leaving", ptr.To[int32](31700), ptr.To[int32](20), ns), newExposure(ns, "triton", ptr.To[int32](8000), nil, nil))
	waitExposureCondition(t, ns, "triton", "Ready", "True")
	// A finalizer keeps the Service (and its node port) for a while: the tenant has to wait,
	// and says so.
	svcKey := client.ObjectKey{Namespace: ns, Name: "triton"}
	update(t, svcKey, &corev1.Service{}, func(svc *corev1.Service) { svc.Finalizers = append(svc.Finalizers, "example.com/hold") })
	if err := k8s.Delete(ctx, getTenant(t, "leaving")); err != nil {
		t.Fatal(err)
	}
	tn := waitTenantCondition(t, "leaving", "Ready", "False/Releasing: the tenant is being deleted: waiting for Services "+ns+"/triton")
	if c := condition(tn.Status.Conditions, "Reconciling"); !strings.HasPrefix(c, "True/Releasing") {
		t.Errorf("Reconciling = %s", c)
	}
	if c := condition(tn.Status.Conditions, "Stalled"); !strings.HasPrefix(c, "False") {
		t.Errorf("Stalled = %s", c)
	}
	if tn.Status.ObservedGeneration != tn.Generation {
		t.Errorf("observedGeneration %d, generation %d", tn.Status.ObservedGeneration, tn.Generation)
	}
	waitEvent(t, "default", "leaving", "Normal Releasing")
	update(t, svcKey, &corev1.Service{}, func(svc *corev1.Service) { svc.Finalizers = nil })
	eventually(t, "tenant gone", func() (bool, string) {
		err := k8s.Get(ctx, client.ObjectKey{Name: "leaving"}, &exposurev1alpha1.InferenceTenant{})
		return apierrors.IsNotFound(err), fmt.Sprint(err)
	})
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "triton"}, &corev1.Service{}); !apierrors.IsNotFound(err) {
		t.Fatalf("service still there after the block was released: %v", err)
	}
	var claims exposurev1alpha1.PortClaimList
	if err := k8s.List(ctx, &claims, client.MatchingLabels{exposurev1alpha1.LabelTenant: "leaving"}); err != nil || len(claims.Items) != 0 {
		t.Fatalf("claims left: %v %v", claims.Items, err)
	}
	waitExposureCondition(t, ns, "triton", "Ready", "False/NoTenant")
	// Every delete names the UID it means: a stale cache never deletes what someone else just made.
	deletes := 0
	for _, w := range rec.writeList() {
		if strings.HasPrefix(w, "delete without") {
			t.Errorf("%s", w)
		}
		if strings.HasPrefix(w, "delete *v1alpha1.PortClaim") {
			deletes++
		}
	}
	if deletes == 0 {
		t.Error("no claim deletes recorded")
	}
}

// TestLabelsAreNotIdentity: a Service in another tenant's namespace that carries the victim's
// tenant label and an exposure as controller is foreign to the victim: it is not counted as the
// victim's, and it does not hold up the victim's deletion.
func TestLabelsAreNotIdentity(t *testing.T) {
	ctx := context.Background()
	victimNS, otherNS := newNamespace(t, "lbl-victim"), newNamespace(t, "lbl-other")
	cleanupServices(t, victimNS)
	cleanupServices(t, otherNS)
	cleanupTenants(t, "lbl-victim", "lbl-other")
	startManager(t, Options{Pool: mustPool(t, 30000, 32767), DefaultBlockSize: 10, MaxConcurrent: 2})
	create(t, newTenant("lbl-victim", ptr.To[int32](31500), ptr.To[int32](10), victimNS), newTenant("lbl-other", nil, ptr.To[int32](10), otherNS))
	waitTenantCondition(t, "lbl-victim", "Ready", "True")
	create(t, newExposure(victimNS, "triton", ptr.To[int32](8000), nil, nil))
	waitExposureCondition(t, victimNS, "triton", "Ready", "True")

	// The decoy's controller is a real exposure of the other namespace (a garbage collector
	// would remove a Service whose owner does not exist).
	owner := newExposure(otherNS, "owner", ptr.To[int32](8000), nil, nil)
	owner.Spec.NodePort.Enabled = ptr.To(false)
	create(t, owner)
	decoy := foreignNodePortService(otherNS, "decoy", 31505)
	decoy.Labels = map[string]string{exposurev1alpha1.LabelManagedBy: exposurev1alpha1.ManagedByValue, exposurev1alpha1.LabelTenant: "lbl-victim"}
	decoy.OwnerReferences = []metav1.OwnerReference{{APIVersion: exposurev1alpha1.GroupVersion.String(), Kind: "InferenceExposure", Name: owner.Name, UID: owner.UID, Controller: ptr.To(true)}}
	create(t, decoy)
	eventually(t, "the decoy counted as foreign", func() (bool, string) {
		tn := getTenant(t, "lbl-victim")
		return tn.Status.PortsUsed == 1 && slices.Equal(tn.Status.ForeignPorts, []int32{31505}), fmt.Sprintf("used %d foreign %v", tn.Status.PortsUsed, tn.Status.ForeignPorts)
	})

	// Deleting the victim: its own Service goes, the decoy does not hold it up.
	if err := k8s.Delete(ctx, getTenant(t, "lbl-victim")); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the victim's deletion to finish", func() (bool, string) {
		err := k8s.Get(ctx, client.ObjectKey{Name: "lbl-victim"}, &exposurev1alpha1.InferenceTenant{})
		return apierrors.IsNotFound(err), fmt.Sprint(err)
	})
	if _, found := get(t, otherNS, "decoy", &corev1.Service{}); !found {
		t.Fatal("the decoy Service was removed")
	}
}

// TestPortRaceIsNoWarning: when every port the stale cache offers turns out taken, the
// reconciler retries on its own; it is a race to log, not a Warning that the API server
// "refused the Service".
func TestPortRaceIsNoWarning(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t, "race")
	cleanupServices(t, ns)
	cleanupTenants(t, "race-test")
	tn := tenantWithBlock(t, "race-test", ns, 31120)
	// More racing Services than the reconciler retries, none of them in its view.
	for i := range int32(exposure.MaxPortRetries + 1) {
		create(t, foreignNodePortService(ns, fmt.Sprintf("racer-%d", i), 31120+i))
	}
	exp := newExposure(ns, "triton", ptr.To[int32](8000), nil, nil)
	create(t, exp)
	cached, informers := cachedClientWith(t)
	eventually(t, "the cache to show the exposure and the block", func() (bool, string) {
		var tc exposurev1alpha1.InferenceTenant
		return cached.Get(ctx, client.ObjectKeyFromObject(exp), &exposurev1alpha1.InferenceExposure{}) == nil &&
			cached.Get(ctx, client.ObjectKeyFromObject(tn), &tc) == nil && tc.Status.PortBlock != nil &&
			cached.Get(ctx, client.ObjectKey{Name: "ports-31120-31129"}, &exposurev1alpha1.PortClaim{}) == nil, "not yet"
	})
	events := record.NewFakeRecorder(100)
	r := newExposureReconciler(t, cached, informers, kubecache.NodePortsFrom(nil), events)
	res, err := r.Reconcile(ctx, reqFor(exp))
	if err != nil || res.RequeueAfter == 0 {
		t.Fatalf("result %+v, err %v: want a quiet retry", res, err)
	}
	for len(events.Events) > 0 {
		if e := <-events.Events; strings.HasPrefix(e, corev1.EventTypeWarning) {
			t.Errorf("Warning for a race the operator resolves itself: %s", e)
		}
	}
	if c := condition(getExposure(t, ns, "triton").Status.Conditions, "ServiceReady"); strings.HasPrefix(c, "False") {
		t.Errorf("ServiceReady = %s", c)
	}
	// Once the view shows the racers, the next reconcile finds the free port.
	var sl corev1.ServiceList
	if err := cached.List(ctx, &sl, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	r.Ports = kubecache.NodePortsFrom(sl.Items)
	if _, err := r.Reconcile(ctx, reqFor(exp)); err != nil {
		t.Fatal(err)
	}
	if np := nodePorts(getService(t, ns, "triton")); np["http"] != 31120+exposure.MaxPortRetries+1 {
		t.Fatalf("node ports = %v", np)
	}
}

// TestClaimLagRequeues: an exposure woken by its tenant's recorded block before the claims
// reach the cache waits (BlockPending) and looks again by itself: no claim event would wake it.
func TestClaimLagRequeues(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t, "lag")
	cleanupServices(t, ns)
	cleanupTenants(t, "lag-test")
	tn := tenantWithBlock(t, "lag-test", ns, 31200)
	exp := newExposure(ns, "triton", ptr.To[int32](8000), ptr.To[int32](8001), nil)
	create(t, exp)
	cached, informers := cachedClientWith(t)
	eventually(t, "the cache to show the exposure and the block", func() (bool, string) {
		var e exposurev1alpha1.InferenceExposure
		var tc exposurev1alpha1.InferenceTenant
		return cached.Get(ctx, client.ObjectKeyFromObject(exp), &e) == nil && cached.Get(ctx, client.ObjectKeyFromObject(tn), &tc) == nil &&
			tc.Status.PortBlock != nil && cached.Get(ctx, client.ObjectKey{Name: "ports-31200-31209"}, &exposurev1alpha1.PortClaim{}) == nil, "not yet"
	})
	// A claim informer that lags: PortClaim lists are empty.
	noClaims := laggingClient{Client: cached, lag: func(list client.ObjectList) {
		if cl, ok := list.(*exposurev1alpha1.PortClaimList); ok {
			cl.Items = nil
		}
	}}
	lagging := newExposureReconciler(t, noClaims, informers, kubecache.NodePortsFrom(nil), nopRecorder{})
	res, err := lagging.Reconcile(ctx, reqFor(exp))
	if err != nil {
		t.Fatal(err)
	}
	if got := condition(getExposure(t, ns, "triton").Status.Conditions, "PortsAllocated"); !strings.Contains(got, "BlockPending") || res.RequeueAfter <= 0 {
		t.Fatalf("PortsAllocated %s, result %+v: want BlockPending and a requeue", got, res)
	}
	// Once the claims are in the cache, the next look allocates. Until the cache shows the
	// status the lagging look wrote, a status write is refused (Conflict) and the reconcile
	// asks to look again shortly: it is looked again here, as the work queue would.
	caught := newExposureReconciler(t, cached, informers, kubecache.NodePortsFrom(nil), nopRecorder{})
	eventually(t, "PortsAllocated True after the claims arrived", func() (bool, string) {
		if _, err := caught.Reconcile(ctx, reqFor(exp)); err != nil {
			t.Fatal(err)
		}
		got := condition(getExposure(t, ns, "triton").Status.Conditions, "PortsAllocated")
		return strings.HasPrefix(got, "True"), got
	})
}

// reconcileClaimsLagging runs one reconcile of tn whose cache shows none of the port claims,
// as right after they were made, once the cache shows the tenant (with its recorded block
// when it has one). It returns the Events the reconcile sent.
func reconcileClaimsLagging(t *testing.T, tn *exposurev1alpha1.InferenceTenant, pool allocator.Pool) []string {
	t.Helper()
	ctx := context.Background()
	cached, informers := cachedClientWith(t)
	eventually(t, "the cache to show the tenant", func() (bool, string) {
		var tc exposurev1alpha1.InferenceTenant
		return cached.Get(ctx, client.ObjectKeyFromObject(tn), &tc) == nil && (tn.Status.PortBlock == nil || tc.Status.PortBlock != nil), "not yet"
	})
	noClaims := laggingClient{Client: cached, lag: func(list client.ObjectList) {
		if cl, ok := list.(*exposurev1alpha1.PortClaimList); ok {
			cl.Items = nil
		}
	}}
	events := record.NewFakeRecorder(100)
	r := newTenantReconciler(noClaims, informers, kubecache.NodePortsFrom(nil), events, pool)
	if _, err := r.Reconcile(ctx, reqFor(tn)); err != nil {
		t.Fatal(err)
	}
	var out []string
	for len(events.Events) > 0 {
		out = append(out, <-events.Events)
	}
	return out
}

// claimKept fails the test when the tenant's claim of the 10-port block at start was replaced
// (before is the claim as it was) or the tenant records another block.
func claimKept(t *testing.T, tenant string, start int32, before *exposurev1alpha1.PortClaim) {
	t.Helper()
	if after, ok := getClaim(t, fmt.Sprintf("ports-%d-%d", start, start+9)); !ok || after.UID != before.UID {
		t.Fatalf("the claim was replaced: %v -> %v", before.UID, after.UID)
	}
	if got := getTenant(t, tenant).Status.PortBlock; got == nil || got.Start != start {
		t.Fatalf("block %+v", got)
	}
}

// TestClaimLagIsNoSecondAllocation: a tenant woken again before its new block's claims and
// status reach the cache takes the same block again (its own claims, AlreadyExists) and says
// nothing: the reconcile that claimed the block sent the one BlockAllocated Event.
func TestClaimLagIsNoSecondAllocation(t *testing.T) {
	ns := newNamespace(t, "alloc-lag")
	cleanupTenants(t, "alloc-lag")
	// What the first reconcile left: the claims, and a status the cache does not show yet.
	tn := newTenant("alloc-lag", nil, ptr.To[int32](10), ns)
	create(t, tn)
	create(t, &exposurev1alpha1.PortClaim{
		ObjectMeta: metav1.ObjectMeta{Name: "ports-31240-31249", Labels: map[string]string{exposurev1alpha1.LabelTenant: tn.Name}},
		Spec:       exposurev1alpha1.PortClaimSpec{Tenant: tn.Name, TenantUID: string(tn.UID), Start: 31240, End: 31249},
	})
	before, _ := getClaim(t, "ports-31240-31249")
	// The pool is the one block, so that the look for a new block finds this one.
	for _, e := range reconcileClaimsLagging(t, tn, mustPool(t, 31240, 31249)) {
		if strings.Contains(e, "BlockAllocated") {
			t.Errorf("a second Event for the block: %s", e)
		}
	}
	claimKept(t, "alloc-lag", 31240, before)
}

// TestClaimLagIsNoReclaim: a tenant woken before its claims reach the cache finds them its own
// (AlreadyExists, read from the API server) and says nothing: no BlockReclaimed Event, which
// would tell the platform team a PortClaim had been deleted, and no claim replaced.
func TestClaimLagIsNoReclaim(t *testing.T) {
	ns := newNamespace(t, "reclaim-lag")
	cleanupTenants(t, "reclaim-lag")
	tn := tenantWithBlock(t, "reclaim-lag", ns, 31220)
	before, _ := getClaim(t, "ports-31220-31229")
	for _, e := range reconcileClaimsLagging(t, tn, mustPool(t, 30000, 32767)) {
		if strings.Contains(e, "BlockReclaimed") {
			t.Errorf("Event for claims the cache did not show yet: %s", e)
		}
	}
	claimKept(t, "reclaim-lag", 31220, before)
}

// TestHostDomainShared: two tenants with the same hostDomain are both told, Ready turns False
// on both, and both recover when one of them takes a domain of its own (nested is fine).
func TestHostDomainShared(t *testing.T) {
	startManager(t, Options{Pool: mustPool(t, 30000, 32767), DefaultBlockSize: 10, MaxConcurrent: 2})
	nsA, nsB := newNamespace(t, "dom-a"), newNamespace(t, "dom-b")
	cleanupTenants(t, "dom-a", "dom-b")
	a, b := newTenant("dom-a", nil, nil, nsA), newTenant("dom-b", nil, nil, nsB)
	a.Spec.HostDomain, b.Spec.HostDomain = "shared.example.com", "other.example.com"
	create(t, a, b)
	waitTenantCondition(t, "dom-a", "HostDomainExclusive", "True")
	waitTenantCondition(t, "dom-b", "HostDomainExclusive", "True")

	updateTenant(t, "dom-b", func(tn *exposurev1alpha1.InferenceTenant) { tn.Spec.HostDomain = "shared.example.com" })
	for name, other := range map[string]string{"dom-a": "dom-b", "dom-b": "dom-a"} {
		tn := waitTenantCondition(t, name, "HostDomainExclusive", "False/HostDomainShared")
		if msg := condition(tn.Status.Conditions, "HostDomainExclusive"); !strings.Contains(msg, other) {
			t.Fatalf("%s is not told which tenant shares its domain: %s", name, msg)
		}
		waitTenantCondition(t, name, "Ready", "False")
	}
	updateTenant(t, "dom-b", func(tn *exposurev1alpha1.InferenceTenant) { tn.Spec.HostDomain = "b.shared.example.com" })
	waitTenantCondition(t, "dom-a", "HostDomainExclusive", "True")
	waitTenantCondition(t, "dom-b", "HostDomainExclusive", "True")
}
