package controller

import (
	"context"
	"fmt"
	"maps"
	"strings"
	"sync/atomic"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	exposurev1alpha1 "github.com/inference-exposure/inference-exposure-operator/api/v1alpha1"
)

func getClaim(t *testing.T, name string) (*exposurev1alpha1.PortClaim, bool) {
	t.Helper()
	pc := &exposurev1alpha1.PortClaim{}
	if err := k8s.Get(context.Background(), client.ObjectKey{Name: name}, pc); apierrors.IsNotFound(err) {
		return nil, false
	} else if err != nil {
		t.Fatal(err)
	}
	return pc, true
}

func waitClaimGone(t *testing.T, name string) {
	t.Helper()
	eventually(t, "claim "+name+" gone", func() (bool, string) {
		_, ok := getClaim(t, name)
		return !ok, "still there"
	})
}

func deleteTenant(t *testing.T, name string) {
	t.Helper()
	if err := k8s.Delete(context.Background(), getTenant(t, name)); err != nil {
		t.Fatal(err)
	}
	eventually(t, "tenant "+name+" gone", func() (bool, string) {
		err := k8s.Get(context.Background(), client.ObjectKey{Name: name}, &exposurev1alpha1.InferenceTenant{})
		return apierrors.IsNotFound(err), fmt.Sprint(err)
	})
}

// TestLostClaimDoesNotMoveTenant: with a lower block free, deleting a PortClaim of a tenant
// makes it claim exactly its recorded block back; no port of its exposures moves.
func TestLostClaimDoesNotMoveTenant(t *testing.T) {
	nsLow, nsHigh := newNamespace(t, "lost-low"), newNamespace(t, "lost-high")
	cleanupServices(t, nsLow, nsHigh)
	cleanupTenants(t, "lost-low", "lost-high")
	startManager(t, Options{Pool: mustPool(t, 32200, 32299), DefaultBlockSize: 10, MaxConcurrent: 2})
	create(t, newTenant("lost-low", nil, nil, nsLow))
	waitTenantCondition(t, "lost-low", "BlockAllocated", "True/Allocated: tenant holds node ports 32200-32209")
	create(t, newTenant("lost-high", nil, nil, nsHigh), newExposure(nsHigh, "triton", ptr.To[int32](8000), ptr.To[int32](8001), ptr.To[int32](8002)))
	waitTenantCondition(t, "lost-high", "BlockAllocated", "True/Allocated: tenant holds node ports 32210-32219")
	e := waitExposureCondition(t, nsHigh, "triton", "Ready", "True")
	ports := nodePorts(getService(t, nsHigh, "triton"))

	deleteTenant(t, "lost-low")
	waitClaimGone(t, "ports-32200-32209")

	lost, _ := getClaim(t, "ports-32210-32219")
	if err := k8s.Delete(context.Background(), lost); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the claim taken back", func() (bool, string) {
		pc, ok := getClaim(t, "ports-32210-32219")
		return ok && pc.UID != lost.UID && pc.Spec.Tenant == "lost-high", fmt.Sprint(pc)
	})
	waitEvent(t, "default", "lost-high", "Normal BlockReclaimed: claimed node ports 32210-32219 back")
	tn := waitTenantCondition(t, "lost-high", "BlockAllocated", "True/Allocated: tenant holds node ports 32210-32219")
	if tn.Status.PortBlock.Start != 32210 {
		t.Fatalf("tenant moved: %+v", tn.Status.PortBlock)
	}
	if _, ok := getClaim(t, "ports-32200-32209"); ok {
		t.Fatal("the tenant claimed the lower block")
	}
	if got := nodePorts(getService(t, nsHigh, "triton")); !maps.Equal(got, ports) {
		t.Fatalf("ports moved: %v -> %v", ports, got)
	}
	if got := getExposure(t, nsHigh, "triton").Status.NodePorts; *got != *e.Status.NodePorts {
		t.Fatalf("recorded ports moved: %+v -> %+v", e.Status.NodePorts, got)
	}
}

// TestBlockReallyTakenMovesButKeepsPorts: when another tenant holds part of the recorded
// block, the tenant moves and says who holds it; its exposures keep the ports they hold.
func TestBlockReallyTakenMovesButKeepsPorts(t *testing.T) {
	ctx := context.Background()
	nsA, nsThief := newNamespace(t, "moved"), newNamespace(t, "thief")
	cleanupServices(t, nsA, nsThief)
	cleanupTenants(t, "moved", "thief")
	opts := Options{Pool: mustPool(t, 32300, 32399), DefaultBlockSize: 10, MaxConcurrent: 2}
	stop := startManager(t, opts)
	create(t, newTenant("moved", nil, nil, nsA), newExposure(nsA, "triton", ptr.To[int32](8000), ptr.To[int32](8001), nil))
	waitTenantCondition(t, "moved", "BlockAllocated", "True/Allocated: tenant holds node ports 32300-32309")
	waitExposureCondition(t, nsA, "triton", "Ready", "True")
	ports := nodePorts(getService(t, nsA, "triton"))
	stop()

	// While no operator runs, the claim is lost and another tenant's claim takes its place.
	thief := newTenant("thief", nil, nil, nsThief)
	create(t, thief)
	lost, _ := getClaim(t, "ports-32300-32309")
	if err := k8s.Delete(ctx, lost); err != nil {
		t.Fatal(err)
	}
	waitClaimGone(t, lost.Name)
	create(t, &exposurev1alpha1.PortClaim{
		// The tenant label lets cleanupTenants remove it: a run again (-count) must find the block free.
		ObjectMeta: metav1.ObjectMeta{Name: lost.Name, Labels: map[string]string{exposurev1alpha1.LabelTenant: "thief"}},
		Spec:       exposurev1alpha1.PortClaimSpec{Tenant: "thief", TenantUID: string(thief.UID), Start: 32300, End: 32309},
	})

	startManager(t, opts)
	tn := waitTenantCondition(t, "moved", "BlockAllocated", `True/BlockMoved: tenant holds node ports 32310-32319; it moved there because tenant "thief" holds part of its earlier block`)
	if tn.Status.PortBlock.Start != 32310 {
		t.Fatalf("block = %+v", tn.Status.PortBlock)
	}
	eventually(t, "BlockMoved warning", func() (bool, string) {
		ev := events(t, "default", "moved")
		return strings.Contains(ev, `Warning BlockMoved`) && strings.Contains(ev, `"thief"`), ev
	})
	waitExposureCondition(t, nsA, "triton", "Ready", "True")
	if got := nodePorts(getService(t, nsA, "triton")); !maps.Equal(got, ports) {
		t.Fatalf("live ports moved with the block: %v -> %v", ports, got)
	}
	// The thief sees the moved tenant's ports in its block as foreign, and never hands them out.
	eventually(t, "foreign ports reported", func() (bool, string) {
		st := getTenant(t, "thief").Status
		return len(st.ForeignPorts) == 2, fmt.Sprint(st.ForeignPorts)
	})
}

// TestFlagsDoNotResizeTenants: a restart with another --block-size and a narrower
// --node-port-range keeps every recorded block, its claims and its exposures' ports.
func TestFlagsDoNotResizeTenants(t *testing.T) {
	ns := newNamespace(t, "flags")
	nsNew := newNamespace(t, "flags-new")
	cleanupServices(t, ns, nsNew)
	cleanupTenants(t, "flags", "flags-new")
	stop := startManager(t, Options{Pool: mustPool(t, 32400, 32599), DefaultBlockSize: 20, MaxConcurrent: 2})
	create(t, newTenant("flags", nil, nil, ns), newExposure(ns, "triton", ptr.To[int32](8000), ptr.To[int32](8001), ptr.To[int32](8002)))
	waitTenantCondition(t, "flags", "BlockAllocated", "True/Allocated: tenant holds node ports 32400-32419")
	e := waitExposureCondition(t, ns, "triton", "Ready", "True")
	ports := nodePorts(getService(t, ns, "triton"))
	stop()

	stop, rec := startRecordedManager(t, Options{Pool: mustPool(t, 32500, 32599), DefaultBlockSize: 10, MaxConcurrent: 2})
	tn := waitTenantCondition(t, "flags", "BlockAllocated", "True/BlockOutsidePool: tenant holds node ports 32400-32419, outside the operator's node port range 32500-32599")
	if pb := tn.Status.PortBlock; pb.Start != 32400 || pb.Size != 20 {
		t.Fatalf("block resized or moved: %+v", pb)
	}
	waitEvent(t, "default", "flags", "Warning BlockOutsidePool")
	for _, g := range []string{"ports-32400-32409", "ports-32410-32419"} {
		if _, ok := getClaim(t, g); !ok {
			t.Errorf("claim %s released", g)
		}
	}
	// A tenant allocated after the change gets the new size from the new range.
	create(t, newTenant("flags-new", nil, nil, nsNew))
	waitTenantCondition(t, "flags-new", "BlockAllocated", "True/Allocated: tenant holds node ports 32500-32509")

	waitReconciled(t, rec, e)
	stop()
	for _, w := range rec.writeList() {
		if strings.Contains(w, "/"+ns+"/") {
			t.Errorf("the exposure's objects were written after the restart: %s", w)
		}
	}
	if got := nodePorts(getService(t, ns, "triton")); !maps.Equal(got, ports) {
		t.Fatalf("ports moved: %v -> %v", ports, got)
	}
	if c := condition(getExposure(t, ns, "triton").Status.Conditions, "Ready"); !strings.HasPrefix(c, "True") {
		t.Fatalf("exposure Ready = %s", c)
	}
}

// TestServiceErrorsReachTheCondition: a Service write refused for another reason than an
// invalid spec (here an admission policy answering Forbidden) is reported in ServiceReady,
// not only in the log.
func TestServiceErrorsReachTheCondition(t *testing.T) {
	ns := newNamespace(t, "refused")
	cleanupServices(t, ns)
	cleanupTenants(t, "refused")
	denyingPolicy(t, "test-no-services-"+ns, ns, "services", "false", "no Services in this namespace", metav1.StatusReasonForbidden,
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "probe"}, Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 80}}}})

	startManager(t, Options{Pool: mustPool(t, 32600, 32699), DefaultBlockSize: 10, MaxConcurrent: 2})
	create(t, newTenant("refused", nil, nil, ns), newExposure(ns, "triton", ptr.To[int32](8000), nil, nil))
	// The reconcile failed, so observedGeneration stays behind: wait on the condition alone.
	eventually(t, "ServiceReady False", func() (bool, string) {
		c := condition(getExposure(t, ns, "triton").Status.Conditions, "ServiceReady")
		return strings.HasPrefix(c, "False/ServiceApplyFailed: writing the Service failed, retrying: ") && strings.Contains(c, "no Services in this namespace"), c
	})
	waitEvent(t, ns, "triton", "Warning ServiceApplyFailed")
	// The Service is refused before the tenant holds a block too (its interim Service), so
	// Ready may still say BlockPending: wait until the block is there and the refusal leads.
	eventually(t, "Ready False for the refused Service", func() (bool, string) {
		c := condition(getExposure(t, ns, "triton").Status.Conditions, "Ready")
		return strings.HasPrefix(c, "False/ServiceApplyFailed"), c
	})
}

// TestRecordedPortsPending: while the API server refuses a port of the exposure's record that
// no Service holds (a deleted Service's, freed a moment after the delete, or one it lost in a
// race of concurrent writes), the exposure says it waits instead of staying Ready. Meanwhile an
// edited Service gets the rest back (its selector: traffic flows) with the port it holds in
// place of the refused one, and the recorded port once the API server gives it. The API
// server's refusal comes only by a race, so the manager's client gives it here, word for word,
// for any apply that asks for the port while refuse is set.
func TestRecordedPortsPending(t *testing.T) {
	ns := newNamespace(t, "pending")
	var refuse atomic.Bool
	refusing := intercepted(interceptor.Funcs{
		Patch: func(ctx context.Context, c client.WithWatch, obj client.Object, p client.Patch, opts ...client.PatchOption) error {
			if _, ok := obj.(*corev1.Service); ok && p.Type() == types.ApplyPatchType && refuse.Load() {
				if body, err := p.Data(obj); err == nil && strings.Contains(string(body), `"nodePort":31301`) {
					return apierrors.NewInvalid(schema.GroupKind{Kind: "Service"}, obj.GetName(), field.ErrorList{
						field.Invalid(field.NewPath("spec", "ports").Index(1).Child("nodePort"), 31301, "provided port is already allocated")})
				}
			}
			return c.Patch(ctx, obj, p, opts...)
		},
	})
	startManagerWith(t, Options{Pool: mustPool(t, 30000, 32767), DefaultBlockSize: 100, MaxConcurrent: 1}, refusing)
	cleanupTenants(t, "pending")
	cleanupServices(t, ns)
	create(t, newTenant("pending", ptr.To[int32](31300), ptr.To[int32](100), ns), newExposure(ns, "triton", ptr.To[int32](8000), ptr.To[int32](8001), nil))
	waitExposureCondition(t, ns, "triton", "Ready", "True")

	refuse.Store(true)
	svcKey := client.ObjectKey{Namespace: ns, Name: "triton"}
	update(t, svcKey, &corev1.Service{}, func(s *corev1.Service) {
		s.Spec.Selector = map[string]string{"app": "someone-else"}
		s.Spec.Ports[1].NodePort = 31350
	})
	e := waitExposureCondition(t, ns, "triton", "ServiceReady",
		"False/RecordedPortsPending: the API server refuses node ports 31301 of status.nodePorts")
	if c := condition(e.Status.Conditions, "ServiceReady"); !strings.HasSuffix(c, "; until then the Service keeps node ports http=31300 grpc=31350") {
		t.Errorf("ServiceReady = %s", c)
	}
	if c := condition(e.Status.Conditions, "Ready"); !strings.HasPrefix(c, "False") {
		t.Errorf("Ready = %s", c)
	}
	if np := e.Status.NodePorts; np == nil || np.HTTP != 31300 || np.GRPC != 31301 {
		t.Errorf("the record changed: %+v", np)
	}
	eventually(t, "the selector back while the port waits", func() (bool, string) {
		s := getService(t, ns, "triton")
		return s.Spec.Selector["app"] == "triton" && nodePorts(s)["grpc"] == 31350, fmt.Sprintf("%v %v", s.Spec.Selector, nodePorts(s))
	})

	refuse.Store(false)
	waitExposureCondition(t, ns, "triton", "Ready", "True")
	if s := getService(t, ns, "triton"); s.Spec.Selector["app"] != "triton" || nodePorts(s)["grpc"] != 31301 {
		t.Fatalf("selector %v, node ports %v", s.Spec.Selector, nodePorts(s))
	}
}
