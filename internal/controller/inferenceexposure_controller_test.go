package controller

import (
	"context"
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	exposurev1alpha1 "github.com/inference-exposure/inference-exposure-operator/api/v1alpha1"
)

func getService(t *testing.T, ns, name string) *corev1.Service {
	t.Helper()
	svc := &corev1.Service{}
	if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, svc); err != nil {
		t.Fatal(err)
	}
	return svc
}

func nodePorts(svc *corev1.Service) map[string]int32 {
	out := map[string]int32{}
	for _, p := range svc.Spec.Ports {
		out[p.Name] = p.NodePort
	}
	return out
}

// TestExposureLifecycle walks the example: tenant alpha pinned at 30800, Triton with
// http/grpc/metrics, then drift, Service loss, HTTPS-only and externalTrafficPolicy Local.
func TestExposureLifecycle(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t, "tenant-alpha")
	startManager(t, Options{Pool: mustPool(t, 30000, 32767), DefaultBlockSize: 100, MaxConcurrent: 2})
	cleanupTenants(t, "alpha")
	cleanupServices(t, ns)

	create(t, newTenant("alpha", ptr.To[int32](30800), ptr.To[int32](100), ns),
		newExposure(ns, "triton", ptr.To[int32](8000), ptr.To[int32](8001), ptr.To[int32](8002)))

	e := waitExposureCondition(t, ns, "triton", "Ready", "True")
	if e.Status.Tenant != "alpha" || e.Status.NodePorts == nil || *e.Status.NodePorts != (exposurev1alpha1.NodePorts{HTTP: 30800, GRPC: 30801, Metrics: 30802}) {
		t.Fatalf("status = %+v", e.Status)
	}
	svc := getService(t, ns, "triton")
	if svc.Spec.Type != corev1.ServiceTypeNodePort || svc.Spec.ExternalTrafficPolicy != corev1.ServiceExternalTrafficPolicyCluster {
		t.Fatalf("service spec = %+v", svc.Spec)
	}
	if got := nodePorts(svc); got["http"] != 30800 || got["grpc"] != 30801 || got["metrics"] != 30802 {
		t.Fatalf("node ports = %v", got)
	}
	for _, p := range svc.Spec.Ports {
		wantApp := ""
		if p.Name == "grpc" {
			wantApp = "kubernetes.io/h2c"
		}
		if ptr.Deref(p.AppProtocol, "") != wantApp || p.TargetPort.IntVal != p.Port {
			t.Fatalf("port %+v", p)
		}
	}
	if svc.Labels[exposurev1alpha1.LabelTenant] != "alpha" || svc.Labels[exposurev1alpha1.LabelExposure] != "triton" || !metav1.IsControlledBy(svc, e) {
		t.Fatalf("labels/owner = %v %v", svc.Labels, svc.OwnerReferences)
	}
	if svc.Spec.Selector["app"] != "triton" {
		t.Fatalf("selector = %v", svc.Spec.Selector)
	}
	tn := waitTenantCondition(t, "alpha", "Ready", "True")
	eventually(t, "tenant usage", func() (bool, string) {
		tn = getTenant(t, "alpha")
		return tn.Status.PortsUsed == 3 && tn.Status.PortsFree == 97, condition(tn.Status.Conditions, "Ready")
	})
	if *tn.Status.PortBlock != (exposurev1alpha1.PortBlockStatus{Start: 30800, End: 30899, Size: 100}) {
		t.Fatalf("tenant block = %+v", tn.Status.PortBlock)
	}
	waitEvent(t, ns, "triton", "PortsAllocated")

	t.Run("drift is repaired, foreign edits kept", func(t *testing.T) {
		eventually(t, "someone else's edit", func() (bool, string) {
			svc := getService(t, ns, "triton")
			svc.Spec.Selector = map[string]string{"app": "someone-else"}
			svc.Spec.Ports[1].NodePort = 30850
			svc.Annotations = map[string]string{"team": "keep-me"}
			err := k8s.Update(ctx, svc)
			return err == nil, fmt.Sprint(err)
		})
		eventually(t, "repair", func() (bool, string) {
			s := getService(t, ns, "triton")
			return s.Spec.Selector["app"] == "triton" && nodePorts(s)["grpc"] == 30801, s.Spec.Selector["app"]
		})
		if getService(t, ns, "triton").Annotations["team"] != "keep-me" {
			t.Fatal("annotation set by someone else was dropped")
		}
	})

	t.Run("a deleted Service comes back with the same ports", func(t *testing.T) {
		svc := getService(t, ns, "triton")
		if err := k8s.Delete(ctx, svc); err != nil {
			t.Fatal(err)
		}
		eventually(t, "recreation", func() (bool, string) {
			s := &corev1.Service{}
			if err := k8s.Get(ctx, client.ObjectKeyFromObject(svc), s); err != nil || s.UID == svc.UID {
				return false, "not recreated yet"
			}
			np := nodePorts(s)
			return np["http"] == 30800 && np["grpc"] == 30801 && np["metrics"] == 30802, fmt.Sprintf("ports differ: %v", np)
		})
	})

	t.Run("externalTrafficPolicy Local", func(t *testing.T) {
		updateExposure(t, ns, "triton", func(e *exposurev1alpha1.InferenceExposure) {
			e.Spec.NodePort.ExternalTrafficPolicy = exposurev1alpha1.ExternalTrafficPolicyLocal
		})
		waitExposureCondition(t, ns, "triton", "Ready", "True")
		s := getService(t, ns, "triton")
		if s.Spec.ExternalTrafficPolicy != corev1.ServiceExternalTrafficPolicyLocal || nodePorts(s)["grpc"] != 30801 {
			t.Fatalf("etp=%s ports=%v", s.Spec.ExternalTrafficPolicy, nodePorts(s))
		}
	})

	t.Run("nodePort disabled gives a ClusterIP Service", func(t *testing.T) {
		updateExposure(t, ns, "triton", func(e *exposurev1alpha1.InferenceExposure) {
			e.Spec.NodePort = exposurev1alpha1.NodePortSpec{Enabled: ptr.To(false), ExternalTrafficPolicy: exposurev1alpha1.ExternalTrafficPolicyCluster}
		})
		e := waitExposureCondition(t, ns, "triton", "PortsAllocated", "True/NodePortDisabled")
		s := getService(t, ns, "triton")
		if s.Spec.Type != corev1.ServiceTypeClusterIP || len(nodePorts(s)) != 3 || nodePorts(s)["grpc"] != 0 || e.Status.NodePorts != nil {
			t.Fatalf("type=%s ports=%v status=%+v", s.Spec.Type, nodePorts(s), e.Status.NodePorts)
		}
		eventually(t, "usage drops", func() (bool, string) {
			tn := getTenant(t, "alpha")
			return tn.Status.PortsUsed == 0, "still used"
		})
	})
}

// TestExposureWithoutTenant: nothing is exposed until a tenant lists the namespace.
func TestExposureWithoutTenant(t *testing.T) {
	ns := newNamespace(t, "orphan")
	startManager(t, Options{Pool: mustPool(t, 30000, 32767), DefaultBlockSize: 100, MaxConcurrent: 1})
	cleanupTenants(t, "late")
	cleanupServices(t, ns)
	create(t, newExposure(ns, "vllm", ptr.To[int32](8000), nil, nil))
	e := waitExposureCondition(t, ns, "vllm", "Ready", "False/NoTenant")
	if !strings.Contains(condition(e.Status.Conditions, "Ready"), ns) {
		t.Fatalf("message does not name the namespace: %s", condition(e.Status.Conditions, "Ready"))
	}
	if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "vllm"}, &corev1.Service{}); !apierrors.IsNotFound(err) {
		t.Fatalf("service exists without a tenant: %v", err)
	}
	create(t, newTenant("late", nil, ptr.To[int32](10), ns))
	e = waitExposureCondition(t, ns, "vllm", "Ready", "True")
	tn := getTenant(t, "late")
	if e.Status.NodePorts.HTTP != tn.Status.PortBlock.Start {
		t.Fatalf("port %d not the first of block %+v", e.Status.NodePorts.HTTP, tn.Status.PortBlock)
	}
}

// TestServiceNotOwned: a Service of the same name that the operator does not own is left alone.
func TestServiceNotOwned(t *testing.T) {
	ns := newNamespace(t, "taken")
	startManager(t, Options{Pool: mustPool(t, 30000, 32767), DefaultBlockSize: 100, MaxConcurrent: 1})
	cleanupTenants(t, "owner-test")
	cleanupServices(t, ns)
	theirs := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "triton", Labels: map[string]string{"mine": "yes"}},
		Spec:       corev1.ServiceSpec{Selector: map[string]string{"app": "other"}, Ports: []corev1.ServicePort{{Name: "web", Port: 80}}},
	}
	create(t, theirs)
	create(t, newTenant("owner-test", nil, ptr.To[int32](10), ns), newExposure(ns, "triton", nil, ptr.To[int32](8001), nil))
	waitExposureCondition(t, ns, "triton", "ServiceReady", "False/ServiceConflict")
	waitExposureCondition(t, ns, "triton", "Ready", "False/ServiceConflict")
	got := getService(t, ns, "triton")
	if got.ResourceVersion != theirs.ResourceVersion || got.Spec.Selector["app"] != "other" {
		t.Fatalf("foreign service was modified: %+v", got)
	}
	waitEvent(t, ns, "triton", "Warning ServiceConflict")
}

// TestDeletingAnExposureCascades: with a garbage collector running (kube-controller-manager, as
// in a cluster), deleting an exposure takes its Service and routing objects with it, through
// the owner references the operator sets; deleting its namespace finishes.
func TestDeletingAnExposureCascades(t *testing.T) {
	requireGarbageCollector(t)
	ctx := context.Background()
	ns := routingSetup(t, "cascade")
	create(t, routedExposure(ns, "triton", exposurev1alpha1.RouterSpec{Type: exposurev1alpha1.RouterIngress, GRPC: ptr.To(true)}))
	waitExposureCondition(t, ns, "triton", "Ready", "True")
	getService(t, ns, "triton")
	if _, ok := get(t, ns, "triton-grpc", &networkingv1.Ingress{}); !ok {
		t.Fatal("no gRPC Ingress")
	}
	if err := k8s.Delete(ctx, getExposure(t, ns, "triton")); err != nil {
		t.Fatal(err)
	}
	waitGone(t, ns, "triton", &corev1.Service{})
	waitGone(t, ns, "triton", &networkingv1.Ingress{})
	waitGone(t, ns, "triton-grpc", &networkingv1.Ingress{})

	if err := k8s.Delete(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the namespace gone", func() (bool, string) {
		err := k8s.Get(ctx, client.ObjectKey{Name: ns}, &corev1.Namespace{})
		return apierrors.IsNotFound(err), fmt.Sprint(err)
	})
}
