package applycheck

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	exposurev1alpha1 "github.com/inference-exposure/inference-exposure-operator/api/v1alpha1"
	"github.com/inference-exposure/inference-exposure-operator/internal/render/router"
	"github.com/inference-exposure/inference-exposure-operator/internal/render/service"
)

// referenceHash is the hash as the operator computed it before this package: the JSON decoded
// into maps and encoded again. Every child in a cluster carries a hash made this way.
func referenceHash(t testing.TB, obj any, gvk string) string {
	t.Helper()
	sum := sha256.Sum256(append([]byte(gvk+"\n"), referenceBody(t, obj)...))
	return hex.EncodeToString(sum[:12])
}

// referenceBody is the apply body's JSON, the long way.
func referenceBody(t testing.TB, obj any) []byte {
	t.Helper()
	raw, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	body, err := roundTrip(raw)
	if err != nil {
		t.Fatal(err)
	}
	return body
}

// referenceHolds is the check as the operator made it before this package: live converted to
// a map, the apply body decoded into one, and every value of the body looked up in live's.
func referenceHolds(t testing.TB, live, desired client.Object) bool {
	t.Helper()
	have, err := runtime.DefaultUnstructuredConverter.ToUnstructured(live)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{}
	if err := json.Unmarshal(referenceBody(t, desired), &want); err != nil {
		t.Fatal(err)
	}
	delete(want, "apiVersion")
	delete(want, "kind")
	return mapContains(have, want)
}

func mapContains(have, want any) bool {
	switch w := want.(type) {
	case map[string]any:
		h, ok := have.(map[string]any)
		if !ok {
			return len(w) == 0 && have == nil
		}
		for k, wv := range w {
			if !mapContains(h[k], wv) {
				return false
			}
		}
		return true
	case []any:
		h, ok := have.([]any)
		if !ok {
			return len(w) == 0 && have == nil
		}
		if len(h) != len(w) {
			return false
		}
		for i := range w {
			if !mapContains(h[i], w[i]) {
				return false
			}
		}
		return true
	default:
		return reflect.DeepEqual(number(have), number(want))
	}
}

func number(v any) any {
	switch n := v.(type) {
	case int:
		return int64(n)
	case int32:
		return int64(n)
	case float64:
		if n == float64(int64(n)) {
			return int64(n)
		}
	}
	return v
}

// children is what the builders make for a few exposures: a Service, Ingresses, Routes and
// Gateway API routes, with the values users write.
func children(t testing.TB) []client.Object {
	t.Helper()
	exp := &exposurev1alpha1.InferenceExposure{
		ObjectMeta: metav1.ObjectMeta{Name: "triton", Namespace: "team-a", UID: "0000-1111"},
		Spec: exposurev1alpha1.InferenceExposureSpec{
			Selector: map[string]exposurev1alpha1.LabelValue{"app": "triton", "app.kubernetes.io/part-of": "<llm & co>"},
			Ports:    exposurev1alpha1.ExposurePorts{HTTP: ptr.To[int32](8000), GRPC: ptr.To[int32](8001), Metrics: ptr.To[int32](8002)},
			Router: &exposurev1alpha1.RouterSpec{
				Paths:       []exposurev1alpha1.HTTPPath{"/v2", "/health"},
				Timeout:     "300s",
				TLS:         &exposurev1alpha1.RouterTLS{Termination: exposurev1alpha1.TLSEdge, SecretName: "alpha-tls-cert"},
				GRPC:        ptr.To(true),
				Annotations: map[string]string{"cert-manager.io/cluster-issuer": "letsencrypt", "note": "\u2028 \"quoted\" \\ é"},
			},
		},
	}
	objs := []client.Object{service.Build(exp, "alpha", map[string]int32{"http": 30801, "grpc": 30802})}
	for _, typ := range []exposurev1alpha1.RouterType{exposurev1alpha1.RouterIngress, exposurev1alpha1.RouterRoute, exposurev1alpha1.RouterGateway} {
		e := exp.DeepCopy()
		switch typ {
		case exposurev1alpha1.RouterIngress:
			e.Spec.Router.Ingress = &exposurev1alpha1.IngressSettings{ClassName: "nginx", BodySize: "1g"}
		case exposurev1alpha1.RouterGateway:
			e.Spec.Router.Gateway = &exposurev1alpha1.GatewaySettings{ParentRef: exposurev1alpha1.ParentReference{Namespace: "gateway-system", Name: "ai-gateway"}}
		}
		host, grpcHost, err := router.Hosts(e, router.HostPolicy{Domain: "alpha.apps.example.com"})
		if err != nil {
			t.Fatal(err)
		}
		built, err := router.Build(router.Input{Exposure: e, Tenant: "alpha", Type: typ, Host: host, GRPCHost: grpcHost})
		if err != nil {
			t.Fatal(err)
		}
		objs = append(objs, built...)
	}
	cm := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Namespace: "haproxy", Name: "haproxy-alpha", Labels: map[string]string{"app": "haproxy"}},
		Data:       map[string]string{"alpha.cfg": "frontend alpha\n  bind :443\n  use_backend b if { req.ssl_sni -i a.example.com }\n"},
		BinaryData: map[string][]byte{"blob": {0, 1, 2, 0xff}},
	}
	return append(objs, cm)
}

// asLive is desired as the API server returns it: with fields it defaulted, others' labels
// and annotations, status, and the hash.
func asLive(desired client.Object) client.Object {
	live := desired.DeepCopyObject().(client.Object)
	live.SetResourceVersion("42")
	live.SetCreationTimestamp(metav1.Now())
	live.SetLabels(with(live.GetLabels(), "someone", "else"))
	live.SetAnnotations(with(live.GetAnnotations(), exposurev1alpha1.AnnotationApplied, "0123456789abcdef01234567"))
	switch o := live.(type) {
	case *corev1.Service:
		o.Spec.ClusterIP = "10.96.0.10"
		o.Spec.SessionAffinity = corev1.ServiceAffinityNone
		for i := range o.Spec.Ports {
			o.Spec.Ports[i].Protocol = corev1.ProtocolTCP
		}
	case *networkingv1.Ingress:
		o.Status.LoadBalancer.Ingress = []networkingv1.IngressLoadBalancerIngress{{IP: "10.0.0.1"}}
	}
	return live
}

func with(m map[string]string, k, v string) map[string]string {
	if m == nil {
		m = map[string]string{}
	}
	m[k] = v
	return m
}

func gvkOf(o client.Object) string { return fmt.Sprintf("%T", o) }

func TestHashMatchesReference(t *testing.T) {
	for _, obj := range children(t) {
		got, err := Hash(obj, gvkOf(obj))
		if err != nil {
			t.Fatal(err)
		}
		if want := referenceHash(t, obj, gvkOf(obj)); got != want {
			t.Errorf("%T %s: Hash = %s, the round trip gives %s", obj, obj.GetName(), got, want)
		}
	}
}

// TestHashGolden pins the hash of one object: children in clusters carry hashes made this way,
// and a change would rewrite every one of them after an upgrade.
func TestHashGolden(t *testing.T) {
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "triton", Labels: map[string]string{"app": "triton"}},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort, Selector: map[string]string{"app": "triton"},
			Ports: []corev1.ServicePort{{Name: "grpc", Port: 8001, TargetPort: intstr.FromInt32(8001), NodePort: 30801}}},
	}
	got, err := Hash(svc, "/v1, Kind=Service")
	if err != nil {
		t.Fatal(err)
	}
	if want := "1768d2e30d0d33e5a377fff2"; got != want {
		t.Errorf("Hash = %s, want %s", got, want)
	}
}

// TestHashFallsBack covers what the rewrite leaves to the round trip: numbers that are not
// small integers and keys with escapes.
func TestHashFallsBack(t *testing.T) {
	for name, obj := range map[string]any{
		"float":       map[string]any{"metadata": map[string]any{}, "spec": map[string]any{"weight": 0.5}},
		"big integer": map[string]any{"metadata": map[string]any{}, "spec": map[string]any{"n": int64(1) << 60}},
		"escaped key": map[string]any{"metadata": map[string]any{"annotations": map[string]any{"a<b": "x", "a": "y", "a=": "z"}}},
		"exponent":    map[string]any{"metadata": map[string]any{}, "spec": map[string]any{"n": 1e30}},
		"quantity":    map[string]any{"metadata": map[string]any{}, "spec": resource.MustParse("1.5Gi")},
	} {
		got, err := Hash(obj, "x")
		if err != nil {
			t.Fatal(err)
		}
		if want := referenceHash(t, obj, "x"); got != want {
			t.Errorf("%s: Hash = %s, the round trip gives %s", name, got, want)
		}
	}
}

func FuzzHash(f *testing.F) {
	f.Add("app", "triton", "host.example.com", "frontend a\n", int32(8000), int64(3))
	f.Add("a<b", "&\u2028\u2029", "\xff\xfe", "\x00\x1f\"\\", int32(-1), int64(1)<<55)
	f.Add("", "", "", "", int32(0), int64(0))
	f.Fuzz(func(t *testing.T, key, value, host, data string, port int32, n int64) {
		ing := &networkingv1.Ingress{
			ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: value, Labels: map[string]string{key: value, "z": key},
				Annotations: map[string]string{value: key, "n": fmt.Sprint(n)}, Generation: n},
			Spec: networkingv1.IngressSpec{Rules: []networkingv1.IngressRule{{Host: host, IngressRuleValue: networkingv1.IngressRuleValue{
				HTTP: &networkingv1.HTTPIngressRuleValue{Paths: []networkingv1.HTTPIngressPath{{Path: data, Backend: networkingv1.IngressBackend{
					Service: &networkingv1.IngressServiceBackend{Name: key, Port: networkingv1.ServiceBackendPort{Number: port}}}}}}}}}},
		}
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: key}, Data: map[string]string{key: data, host: value}}
		for _, obj := range []any{ing, cm} {
			got, err := Hash(obj, key)
			if err != nil {
				t.Fatal(err)
			}
			if want := referenceHash(t, obj, key); got != want {
				t.Fatalf("Hash = %s, the round trip gives %s for %#v", got, want, obj)
			}
		}
	})
}

func TestHolds(t *testing.T) {
	desired := func() *networkingv1.Ingress {
		for _, o := range children(t) {
			if ing, ok := o.(*networkingv1.Ingress); ok {
				return ing
			}
		}
		t.Fatal("no Ingress built")
		return nil
	}
	for _, tc := range []struct {
		name   string
		live   func(*networkingv1.Ingress) // edits to the live object
		wanted func(*networkingv1.Ingress) // edits to what the spec asks for now
		ok     bool
	}{
		{name: "steady: others' fields, defaults and status do not count", ok: true},
		{name: "someone changed an owned field", live: func(i *networkingv1.Ingress) {
			i.Spec.Rules[0].HTTP.Paths[0].Backend.Service.Port.Number = 9999
		}},
		{name: "someone removed an owned annotation", live: func(i *networkingv1.Ingress) { delete(i.Annotations, "note") }},
		{name: "someone added a path", live: func(i *networkingv1.Ingress) {
			i.Spec.Rules[0].HTTP.Paths = append(i.Spec.Rules[0].HTTP.Paths, i.Spec.Rules[0].HTTP.Paths[0])
		}},
		{name: "someone dropped the rule value", live: func(i *networkingv1.Ingress) { i.Spec.Rules[0].HTTP = nil }},
		{name: "the spec dropped a field: holding more is fine", wanted: func(i *networkingv1.Ingress) { i.Spec.IngressClassName = nil }, ok: true},
		{name: "the spec added a field", wanted: func(i *networkingv1.Ingress) {
			i.Spec.TLS = append(i.Spec.TLS, networkingv1.IngressTLS{SecretName: "s"})
		}},
		{name: "the spec names another owner", wanted: func(i *networkingv1.Ingress) { i.OwnerReferences[0].UID = "other" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			live := asLive(desired()).(*networkingv1.Ingress)
			if tc.live != nil {
				tc.live(live)
			}
			want := desired()
			if tc.wanted != nil {
				tc.wanted(want)
			}
			if got := Holds(live, want); got != tc.ok {
				t.Errorf("Holds = %v, want %v", got, tc.ok)
			}
			if ref := referenceHolds(t, live, want); ref != tc.ok {
				t.Errorf("the reference says %v, want %v", ref, tc.ok)
			}
		})
	}
	if Holds(&corev1.Service{}, &corev1.ConfigMap{}) {
		t.Error("objects of different types hold each other")
	}
	if Holds(nil, &corev1.Service{}) {
		t.Error("nothing holds a Service")
	}
}

// TestHoldsMatchesReference changes every field of every built child, one at a time, on the
// live side and on the desired side, and asks both checks.
func TestHoldsMatchesReference(t *testing.T) {
	mismatches, cases := 0, 0
	for _, desired := range children(t) {
		live := asLive(desired)
		for side, base := range map[string]client.Object{"live": live, "desired": desired} {
			for k := 0; ; k++ {
				changed := base.DeepCopyObject().(client.Object)
				what, ok := mutate(reflect.ValueOf(changed).Elem(), k)
				if !ok {
					break
				}
				h, w := live, desired
				if side == "live" {
					h = changed
				} else {
					w = changed
				}
				cases++
				if got, ref := Holds(h, w), referenceHolds(t, h, w); got != ref {
					mismatches++
					t.Errorf("%T %s, %s side, %s: Holds = %v, the reference says %v", desired, desired.GetName(), side, what, got, ref)
				}
			}
		}
		if !Holds(live, desired) {
			t.Errorf("%T %s: the unchanged live object does not hold the desired one", desired, desired.GetName())
		}
	}
	if cases < 500 {
		t.Errorf("only %d cases: the walk misses fields", cases)
	}
	t.Logf("%d changed objects, %d mismatches", cases, mismatches)
}

// mutate makes the k-th change of a walk over v's settable values and describes it; ok is
// false when the walk has fewer than k+1 changes.
func mutate(v reflect.Value, k int) (string, bool) {
	n := 0
	var what string
	var walk func(v reflect.Value, path string) bool
	change := func(path, how string, do func()) bool {
		if n == k {
			do()
			what = path + ": " + how
			return true
		}
		n++
		return false
	}
	walk = func(v reflect.Value, path string) bool {
		switch v.Kind() {
		case reflect.Pointer:
			if v.IsNil() {
				return change(path, "set", func() { v.Set(reflect.New(v.Type().Elem())) })
			}
			if change(path, "nil", func() { v.SetZero() }) {
				return true
			}
			return walk(v.Elem(), path)
		case reflect.Struct:
			switch v.Type() {
			case reflect.TypeFor[metav1.Time]():
				return change(path, "zero", func() { v.SetZero() })
			case reflect.TypeFor[intstr.IntOrString]():
				old := v.Interface().(intstr.IntOrString)
				return change(path, "another number", func() { v.Set(reflect.ValueOf(intstr.FromInt32(old.IntVal + 1))) }) ||
					change(path, "a name", func() { v.Set(reflect.ValueOf(intstr.FromString(old.String()))) }) ||
					change(path, "zero", func() { v.SetZero() })
			}
			for i := range v.NumField() {
				if v.Type().Field(i).IsExported() && walk(v.Field(i), path+"."+v.Type().Field(i).Name) {
					return true
				}
			}
		case reflect.Slice:
			if v.Type().Elem().Kind() == reflect.Uint8 {
				return change(path, "bytes", func() { v.SetBytes(append([]byte{7}, v.Bytes()...)) }) ||
					change(path, "nil", func() { v.SetZero() })
			}
			if change(path, "nil", func() { v.SetZero() }) ||
				change(path, "empty", func() { v.Set(reflect.MakeSlice(v.Type(), 0, 0)) }) ||
				change(path, "append", func() { v.Set(reflect.Append(v, reflect.New(v.Type().Elem()).Elem())) }) ||
				v.Len() > 0 && change(path, "drop the first", func() { v.Set(v.Slice(1, v.Len())) }) {
				return true
			}
			for i := range v.Len() {
				if walk(v.Index(i), fmt.Sprintf("%s[%d]", path, i)) {
					return true
				}
			}
		case reflect.Map:
			if change(path, "nil", func() { v.SetZero() }) ||
				change(path, "add", func() {
					if v.IsNil() {
						v.Set(reflect.MakeMap(v.Type()))
					}
					v.SetMapIndex(reflect.ValueOf("zz").Convert(v.Type().Key()), reflect.New(v.Type().Elem()).Elem())
				}) {
				return true
			}
			keys := v.MapKeys()
			slices.SortFunc(keys, func(a, b reflect.Value) int { return strings.Compare(fmt.Sprint(a), fmt.Sprint(b)) })
			for _, key := range keys {
				if change(path, fmt.Sprintf("delete %v", key), func() { v.SetMapIndex(key, reflect.Value{}) }) {
					return true
				}
				val := v.MapIndex(key)
				if val.Kind() == reflect.String {
					if change(path, fmt.Sprintf("change %v", key), func() { v.SetMapIndex(key, reflect.ValueOf(val.String()+"x").Convert(val.Type())) }) ||
						change(path, fmt.Sprintf("empty %v", key), func() { v.SetMapIndex(key, reflect.Zero(val.Type())) }) {
						return true
					}
				}
			}
		case reflect.String:
			return change(path, "append", func() { v.SetString(v.String() + "x") }) ||
				change(path, "empty", func() { v.SetString("") })
		case reflect.Bool:
			return change(path, "flip", func() { v.SetBool(!v.Bool()) })
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			return change(path, "increment", func() { v.SetInt(v.Int() + 1) }) ||
				change(path, "zero", func() { v.SetInt(0) })
		}
		return false
	}
	walk(v, "")
	return what, what != ""
}

func BenchmarkHash(b *testing.B) {
	objs := children(b)
	b.ReportAllocs()
	for b.Loop() {
		for _, o := range objs[:2] { // a Service and an Ingress
			if _, err := Hash(o, "g"); err != nil {
				b.Fatal(err)
			}
		}
	}
}

func BenchmarkHolds(b *testing.B) {
	objs := children(b)[:2]
	lives := []client.Object{asLive(objs[0]), asLive(objs[1])}
	b.ReportAllocs()
	for b.Loop() {
		for i, o := range objs {
			if !Holds(lives[i], o) {
				b.Fatal("does not hold")
			}
		}
	}
}
