package kubecache

import (
	"context"
	"fmt"
	"os"
	"testing"

	routev1 "github.com/openshift/api/route/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	exposurev1alpha1 "github.com/inference-exposure/inference-exposure-operator/api/v1alpha1"
	"github.com/inference-exposure/inference-exposure-operator/test/testenv"
)

// The package's tests share one control plane (kube-apiserver and etcd with the CRDs).
var (
	cfg    *rest.Config
	k8s    client.Client
	scheme = runtime.NewScheme()
)

func TestMain(m *testing.M) {
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, exposurev1alpha1.AddToScheme, routev1.Install, gatewayv1.Install} {
		utilruntime.Must(add(scheme))
	}
	if _, err := testenv.AssetsDir(); err != nil {
		fmt.Fprintln(os.Stderr, "skipping the kubecache tests:", err)
		os.Exit(0)
	}
	env, err := testenv.Start(true)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	cfg = env.Config
	if k8s, err = env.Client(scheme); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	_ = env.Stop()
	os.Exit(code)
}

// newNamespace creates a namespace of its own for a test.
func newNamespace(t testing.TB, prefix string) string {
	t.Helper()
	return testenv.NewNamespace(t, k8s, prefix)
}

func create(t *testing.T, objs ...client.Object) {
	t.Helper()
	for _, o := range objs {
		if err := k8s.Create(context.Background(), o); err != nil {
			t.Fatalf("creating %T %s: %v", o, o.GetName(), err)
		}
	}
}

func newTenant(name string, namespaces ...string) *exposurev1alpha1.InferenceTenant {
	return &exposurev1alpha1.InferenceTenant{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: exposurev1alpha1.InferenceTenantSpec{Namespaces: namespaces}}
}

// startedCache is a synced cache of the control plane, with the operator's indexes when indexed.
func startedCache(t testing.TB, indexed bool) cache.Cache {
	t.Helper()
	if !indexed {
		return testenv.StartedCache(t, cfg, scheme, nil)
	}
	return testenv.StartedCache(t, cfg, scheme, func(ctx context.Context, c cache.Cache) error { return SetupIndexes(ctx, c) })
}

// routedExposure is an HTTPS-only exposure with a router.
func routedExposure(ns, name string, r exposurev1alpha1.RouterSpec) *exposurev1alpha1.InferenceExposure {
	return &exposurev1alpha1.InferenceExposure{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: exposurev1alpha1.InferenceExposureSpec{
			Selector: map[string]exposurev1alpha1.LabelValue{"app": exposurev1alpha1.LabelValue(name)},
			Ports:    exposurev1alpha1.ExposurePorts{HTTP: ptr.To[int32](8000)},
			NodePort: exposurev1alpha1.NodePortSpec{Enabled: ptr.To(false)},
			Router:   &r,
		},
	}
}

// cleanupTenants deletes the tenants after the test (they hold no finalizer here: no operator runs).
func cleanupTenants(t *testing.T, names ...string) {
	t.Cleanup(func() {
		for _, n := range names {
			_ = k8s.Delete(context.Background(), &exposurev1alpha1.InferenceTenant{ObjectMeta: metav1.ObjectMeta{Name: n}})
		}
	})
}
