package childapply

import (
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	exposurev1alpha1 "github.com/inference-exposure/inference-exposure-operator/api/v1alpha1"
	"github.com/inference-exposure/inference-exposure-operator/internal/applycheck"
)

func desiredIngress() *networkingv1.Ingress {
	ing := &networkingv1.Ingress{}
	ing.Namespace, ing.Name = "ns", "triton"
	ing.Labels = map[string]string{"app": "triton"}
	ing.Annotations = map[string]string{"team": "a"}
	ing.Spec.IngressClassName = ptr.To("nginx")
	ing.Spec.Rules = []networkingv1.IngressRule{{Host: "triton.example.com", IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{
		Paths: []networkingv1.HTTPIngressPath{{Path: "/", PathType: ptr.To(networkingv1.PathTypePrefix), Backend: networkingv1.IngressBackend{
			Service: &networkingv1.IngressServiceBackend{Name: "triton", Port: networkingv1.ServiceBackendPort{Number: 8000}}}}},
	}}}}
	return ing
}

// liveOf is what the API server returns after desired was written with its hash.
func liveOf(t testing.TB, desired *networkingv1.Ingress) *networkingv1.Ingress {
	t.Helper()
	hash, err := applycheck.Hash(desired, "Ingress")
	if err != nil {
		t.Fatal(err)
	}
	live := desired.DeepCopy()
	live.ResourceVersion = "42"
	live.Annotations[exposurev1alpha1.AnnotationApplied] = hash
	live.Annotations["someone"] = "else"
	live.Labels["extra"] = "kept"
	live.Status.LoadBalancer.Ingress = []networkingv1.IngressLoadBalancerIngress{{IP: "10.0.0.1"}}
	return live
}

func TestUpToDate(t *testing.T) {
	for _, tc := range []struct {
		name   string
		live   func(*networkingv1.Ingress) // edits to the live object
		wanted func(*networkingv1.Ingress) // edits to what the spec asks for now
		ok     bool
	}{
		{name: "steady: others' fields and status do not count", ok: true},
		{name: "someone changed an owned field", live: func(i *networkingv1.Ingress) {
			i.Spec.Rules[0].HTTP.Paths[0].Backend.Service.Port.Number = 9999
		}},
		{name: "someone removed an owned annotation", live: func(i *networkingv1.Ingress) { delete(i.Annotations, "team") }},
		{name: "the spec dropped a field (the body's hash differs)", wanted: func(i *networkingv1.Ingress) { i.Spec.IngressClassName = nil }},
		{name: "the spec dropped an annotation", wanted: func(i *networkingv1.Ingress) { delete(i.Annotations, "team") }},
		{name: "the spec added a field", wanted: func(i *networkingv1.Ingress) { i.Spec.TLS = []networkingv1.IngressTLS{{SecretName: "s"}} }},
		{name: "an earlier version wrote it (no hash)", live: func(i *networkingv1.Ingress) {
			delete(i.Annotations, exposurev1alpha1.AnnotationApplied)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			live := liveOf(t, desiredIngress())
			if tc.live != nil {
				tc.live(live)
			}
			want := desiredIngress()
			if tc.wanted != nil {
				tc.wanted(want)
			}
			hash, err := applycheck.Hash(want, "Ingress")
			if err != nil {
				t.Fatal(err)
			}
			if got := upToDate(live, want, hash); got != tc.ok {
				t.Fatalf("upToDate = %v, want %v", got, tc.ok)
			}
		})
	}
}

// TestApplyBody: the body sent is the object without status and server-filled metadata, with
// the kind and the hash of exactly that body.
func TestApplyBody(t *testing.T) {
	desired := desiredIngress()
	desired.CreationTimestamp = metav1.Now()
	desired.Status.LoadBalancer.Ingress = []networkingv1.IngressLoadBalancerIngress{{IP: "10.0.0.1"}}
	gvk := networkingv1.SchemeGroupVersion.WithKind("Ingress")
	hash, err := applycheck.Hash(desired, gvk.String())
	if err != nil {
		t.Fatal(err)
	}
	body, err := applyBody(desired, gvk, hash)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := body.Object["status"]; ok {
		t.Error("the apply body carries status")
	}
	if _, ok := body.Object["metadata"].(map[string]any)["creationTimestamp"]; ok {
		t.Error("the apply body carries creationTimestamp")
	}
	if body.GroupVersionKind() != gvk {
		t.Errorf("the apply body is a %v", body.GroupVersionKind())
	}
	ann := body.GetAnnotations()
	if ann[exposurev1alpha1.AnnotationApplied] != hash || ann["team"] != "a" {
		t.Errorf("the apply body's annotations are %v, want the hash %s and team=a", ann, hash)
	}
	// The hash is that of the body as sent, less the hash itself and the kind.
	delete(ann, exposurev1alpha1.AnnotationApplied)
	body.SetAnnotations(ann)
	delete(body.Object, "apiVersion")
	delete(body.Object, "kind")
	if again, err := applycheck.Hash(body.Object, gvk.String()); err != nil || again != hash {
		t.Errorf("the body sent hashes to %s (%v), its annotation says %s", again, err, hash)
	}
}

// TestHashKept: the Ingress of these tests carries this hash since the operator's first apply
// bodies. A different one would make every child in a cluster be applied again after an upgrade.
func TestHashKept(t *testing.T) {
	if hash, err := applycheck.Hash(desiredIngress(), "Ingress"); err != nil || hash != "9126b1adb5875034dd82bd24" {
		t.Errorf("hash = %s (%v), earlier versions wrote 9126b1adb5875034dd82bd24", hash, err)
	}
}

// BenchmarkUpToDate is the steady-state check every reconcile makes per child object.
func BenchmarkUpToDate(b *testing.B) {
	live := liveOf(b, desiredIngress())
	b.ReportAllocs()
	for b.Loop() {
		desired := desiredIngress()
		hash, err := applycheck.Hash(desired, "Ingress")
		if err != nil {
			b.Fatal(err)
		}
		if !upToDate(live, desired, hash) {
			b.Fatal("not up to date")
		}
	}
}
