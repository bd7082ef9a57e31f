package kubecache

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"
	"unsafe"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	exposurev1alpha1 "github.com/inference-exposure/inference-exposure-operator/api/v1alpha1"
)

// decode gives every object its own copies of its strings, as the informers' decoders do.
func decode[T any](t *testing.T, v T) T {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out T
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func same(a, b string) bool { return unsafe.StringData(a) == unsafe.StringData(b) }

// TestTransformsKeepContentAndShareStrings: the cache transforms change no value the
// operator reads (only managedFields, last-applied copies and foreign Services' annotations
// go), and share the strings objects repeat.
func TestTransformsKeepContentAndShareStrings(t *testing.T) {
	owner := metav1.OwnerReference{APIVersion: exposurev1alpha1.GroupVersion.String(), Kind: "InferenceExposure", Name: "m1", UID: "u1"}
	labels := func(name string) map[string]string {
		return map[string]string{exposurev1alpha1.LabelManagedBy: exposurev1alpha1.ManagedByValue, exposurev1alpha1.LabelTenant: "alpha", exposurev1alpha1.LabelExposure: name}
	}
	svc := func(name string) *corev1.Service {
		return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "team-a", Labels: labels(name),
			Annotations:     map[string]string{"exposure.inference.dev/applied": "abc" + name},
			OwnerReferences: []metav1.OwnerReference{owner},
			ManagedFields:   []metav1.ManagedFieldsEntry{{Manager: "x"}}},
			Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort, Ports: []corev1.ServicePort{{Name: "http", Port: 8000, NodePort: 30800}}}}
	}
	a, b := decode(t, svc("m1")), decode(t, svc("m2"))
	for _, s := range []*corev1.Service{a, b} {
		if _, err := stripForeignService(s); err != nil {
			t.Fatal(err)
		}
	}
	want := svc("m1")
	want.ManagedFields = nil
	if !equality.Semantic.DeepEqual(a, want) {
		t.Fatalf("operator's Service changed by the transform:\n%+v\nwant\n%+v", a, want)
	}
	if !same(a.Namespace, b.Namespace) || !same(a.Labels[exposurev1alpha1.LabelTenant], b.Labels[exposurev1alpha1.LabelTenant]) ||
		!same(a.OwnerReferences[0].APIVersion, b.OwnerReferences[0].APIVersion) || !same(a.OwnerReferences[0].Kind, b.OwnerReferences[0].Kind) {
		t.Error("namespace, label value or owner group/kind not shared between two Services")
	}
	for k := range a.Annotations {
		for k2 := range b.Annotations {
			if !same(k, k2) {
				t.Error("annotation key not shared")
			}
		}
	}

	foreign := decode(t, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "team-a", UID: "s1", ResourceVersion: "7",
		Labels: map[string]string{"app": "db"}, OwnerReferences: []metav1.OwnerReference{owner},
		Annotations: map[string]string{corev1.LastAppliedConfigAnnotation: "{...}"}},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, Selector: map[string]string{"app": "db"}, ClusterIP: "10.96.0.9", ClusterIPs: []string{"10.96.0.9"},
			HealthCheckNodePort: 30099, Ports: []corev1.ServicePort{{Name: "sql", Protocol: corev1.ProtocolTCP, Port: 5432, NodePort: 30001}, {Name: "internal", Port: 9000}}},
		Status: corev1.ServiceStatus{LoadBalancer: corev1.LoadBalancerStatus{Ingress: []corev1.LoadBalancerIngress{{IP: "1.2.3.4"}}}}})
	got, err := stripForeignService(foreign)
	if err != nil {
		t.Fatal(err)
	}
	wantForeign := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "team-a", UID: "s1", ResourceVersion: "7",
		Labels: map[string]string{"app": "db"}, OwnerReferences: []metav1.OwnerReference{owner}},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, HealthCheckNodePort: 30099, Ports: []corev1.ServicePort{{Name: "sql", Protocol: corev1.ProtocolTCP, Port: 5432, NodePort: 30001}}}}
	if !equality.Semantic.DeepEqual(got, wantForeign) {
		t.Errorf("foreign Service cached as\n%+v\nwant\n%+v", got, wantForeign)
	}
	if fmt.Sprint(ServiceNodePorts(got.(*corev1.Service))) != fmt.Sprint(ServiceNodePorts(foreign)) {
		t.Errorf("node ports %v, want %v", ServiceNodePorts(got.(*corev1.Service)), ServiceNodePorts(foreign))
	}

	exp := func(name string) *exposurev1alpha1.InferenceExposure {
		e := &exposurev1alpha1.InferenceExposure{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "team-a",
			Annotations: map[string]string{corev1.LastAppliedConfigAnnotation: "{...}", "note": "keep"}}}
		e.Status.Tenant = "alpha"
		for i, ty := range []string{exposurev1alpha1.ConditionTenantResolved, exposurev1alpha1.ConditionPortsAllocated, "Ready"} {
			msg := "node ports for " + name
			switch i {
			case 0:
				msg = `namespace "team-a" belongs to tenant "alpha"`
			case 2:
				msg = exposurev1alpha1.MessageReady
			}
			e.Status.Conditions = append(e.Status.Conditions, metav1.Condition{Type: ty, Status: metav1.ConditionTrue, Reason: "R" + ty, Message: msg})
		}
		return e
	}
	e1, e2 := decode(t, exp("m1")), decode(t, exp("m2"))
	for _, e := range []*exposurev1alpha1.InferenceExposure{e1, e2} {
		if _, err := stripExposure(e); err != nil {
			t.Fatal(err)
		}
	}
	wantE := exp("m1")
	delete(wantE.Annotations, corev1.LastAppliedConfigAnnotation)
	if !equality.Semantic.DeepEqual(e1, wantE) {
		t.Fatalf("exposure changed by the transform:\n%+v\nwant\n%+v", e1, wantE)
	}
	// Applied with kubectl and nothing else: no annotation map is kept at all.
	applied := decode(t, &exposurev1alpha1.InferenceExposure{ObjectMeta: metav1.ObjectMeta{Name: "m3", Namespace: "team-a",
		Annotations: map[string]string{corev1.LastAppliedConfigAnnotation: "{...}"}}})
	if _, err := stripExposure(applied); err != nil {
		t.Fatal(err)
	}
	if applied.Annotations != nil {
		t.Errorf("annotations %#v, want none", applied.Annotations)
	}
	c1, c2 := e1.Status.Conditions, e2.Status.Conditions
	if !same(c1[0].Message, c2[0].Message) || !same(c1[2].Message, c2[2].Message) || !same(c1[1].Reason, c2[1].Reason) || !same(e1.Status.Tenant, e2.Status.Tenant) {
		t.Error("repeated condition strings not shared")
	}
}

// TestForeignRoutingShell: a routing object without the operator's label is cached as its
// identity, labels, owners and the hosts it serves only; the operator's own keep everything but
// managedFields.
func TestForeignRoutingShell(t *testing.T) {
	now := metav1.NewTime(time.Now().Truncate(time.Second)) // as it comes back from JSON
	owner := metav1.OwnerReference{APIVersion: exposurev1alpha1.GroupVersion.String(), Kind: "InferenceExposure", Name: "m1", UID: "u1", Controller: ptrTrue()}
	ing := func(labels map[string]string) *networkingv1.Ingress {
		return &networkingv1.Ingress{
			ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "team-a", UID: "i1", ResourceVersion: "42", Generation: 3, CreationTimestamp: now,
				Labels: labels, OwnerReferences: []metav1.OwnerReference{owner},
				Annotations:   map[string]string{corev1.LastAppliedConfigAnnotation: "{... a large copy ...}"},
				ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubectl"}}},
			Spec: networkingv1.IngressSpec{IngressClassName: ptrTo("nginx"), Rules: []networkingv1.IngressRule{{Host: "web.example.com"}}},
		}
	}
	got, err := stripAndIntern(decode(t, ing(map[string]string{exposurev1alpha1.LabelExposure: "m1"})))
	if err != nil {
		t.Fatal(err)
	}
	shell := got.(*networkingv1.Ingress)
	want := &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "team-a", UID: "i1", ResourceVersion: "42", Generation: 3,
		CreationTimestamp: now, Labels: map[string]string{exposurev1alpha1.LabelExposure: "m1"}, OwnerReferences: []metav1.OwnerReference{owner},
		Annotations: map[string]string{AnnotationServedHosts: "web.example.com"}}}
	if !equality.Semantic.DeepEqual(shell, want) {
		t.Fatalf("foreign Ingress cached as\n%+v\nwant\n%+v", shell, want)
	}

	ours := ing(map[string]string{exposurev1alpha1.LabelManagedBy: exposurev1alpha1.ManagedByValue})
	got, err = stripAndIntern(decode(t, ours))
	if err != nil {
		t.Fatal(err)
	}
	ours.ManagedFields = nil
	if !equality.Semantic.DeepEqual(got, ours) {
		t.Fatalf("the operator's Ingress cached as\n%+v\nwant\n%+v", got, ours)
	}
}

func ptrTrue() *bool         { b := true; return &b }
func ptrTo(s string) *string { return &s }
