package kubereport

import (
	"context"
	"strings"
	"testing"

	"github.com/go-logr/logr/testr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	exposurev1alpha1 "github.com/inference-exposure/inference-exposure-operator/api/v1alpha1"
	"github.com/inference-exposure/inference-exposure-operator/internal/haproxyagent"
	"github.com/inference-exposure/inference-exposure-operator/test/testenv"
)

// TestEventsOnExposureAndTenant: a bind the agent had to leave out becomes a Warning Event on
// the exposure its line names and on the tenant, found the way kubectl describe finds them
// (by the object's UID); a bind that names no object that exists is only logged.
func TestEventsOnExposureAndTenant(t *testing.T) {
	if _, err := testenv.AssetsDir(); err != nil {
		t.Skip(err.Error())
	}
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, exposurev1alpha1.AddToScheme} {
		if err := add(scheme); err != nil {
			t.Fatal(err)
		}
	}
	_, c := testenv.StartForTest(t, true, scheme)
	ctx := context.Background()
	tenant := &exposurev1alpha1.InferenceTenant{ObjectMeta: metav1.ObjectMeta{Name: "beta"}, Spec: exposurev1alpha1.InferenceTenantSpec{Namespaces: []string{"tenant-beta"}}}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "tenant-beta"}}
	exp := &exposurev1alpha1.InferenceExposure{
		ObjectMeta: metav1.ObjectMeta{Namespace: "tenant-beta", Name: "evict"},
		Spec: exposurev1alpha1.InferenceExposureSpec{
			Selector: map[string]exposurev1alpha1.LabelValue{"app": "evict"},
			Ports:    exposurev1alpha1.ExposurePorts{GRPC: ptr.To[int32](8001)},
		},
	}
	for _, o := range []client.Object{tenant, ns, exp} {
		if err := c.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	r := &Events{Client: c, Node: "edge-1", Log: testr.New(t)}
	r.Report(ctx, haproxyagent.Problem{
		Reason:  haproxyagent.ProblemBindRefused,
		Message: "HAProxy cannot bind 10.0.0.1:10250: address already in use",
		Binds: []haproxyagent.Bind{
			{Frontend: "ft_beta_grpc", File: "shard-03.cfg", Line: 14, Owner: "tenant-beta/evict", Tenant: "beta"},
			{Frontend: "ft_beta_grpc", File: "shard-03.cfg", Line: 15, Owner: "tenant-beta/gone", Tenant: "beta"},
		},
	})

	for _, want := range []struct {
		ns   string
		obj  client.Object
		kind string
	}{{"tenant-beta", exp, "InferenceExposure"}, {metav1.NamespaceDefault, tenant, "InferenceTenant"}} {
		var events corev1.EventList
		if err := c.List(ctx, &events, client.InNamespace(want.ns)); err != nil {
			t.Fatal(err)
		}
		var found []corev1.Event
		for _, e := range events.Items {
			if e.InvolvedObject.UID == want.obj.GetUID() && e.InvolvedObject.Kind == want.kind {
				found = append(found, e)
			}
		}
		if len(found) != 1 {
			t.Fatalf("%d Events on %s %s, want 1: %+v", len(found), want.kind, want.obj.GetName(), events.Items)
		}
		e := found[0]
		if e.Type != corev1.EventTypeWarning || e.Reason != haproxyagent.ProblemBindRefused ||
			!strings.Contains(e.Message, "edge-1") || !strings.Contains(e.Message, "10250") || !strings.Contains(e.Message, "shard-03.cfg:14") {
			t.Fatalf("Event on %s: %s %s %q", want.kind, e.Type, e.Reason, e.Message)
		}
	}
}
