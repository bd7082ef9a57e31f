package controller

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zapcore"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	exposurev1alpha1 "github.com/inference-exposure/inference-exposure-operator/api/v1alpha1"
	"github.com/inference-exposure/inference-exposure-operator/internal/allocator"
	"github.com/inference-exposure/inference-exposure-operator/internal/controller/exposure"
	"github.com/inference-exposure/inference-exposure-operator/internal/controller/tenant"
	"github.com/inference-exposure/inference-exposure-operator/internal/kubecache"
	"github.com/inference-exposure/inference-exposure-operator/internal/servedapis"
	"github.com/inference-exposure/inference-exposure-operator/test/testenv"
)

var (
	kcm    *testenv.ControllerManager
	kcmErr error
	cfg    *rest.Config
	k8s    client.Client
	scheme = runtime.NewScheme()
)

func TestMain(m *testing.M) {
	utilruntime.Must(AddToScheme(scheme))
	ctrl.SetLogger(zap.New(zap.UseDevMode(true), zap.Level(zapLevel()), zap.StacktraceLevel(zapcore.PanicLevel)))

	env, err := testenv.Start(true)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	cfg = env.Config
	k8s, err = env.Client(scheme)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	// kube-controller-manager, as in a cluster: owner references cascade, namespaces go.
	// Where it is not available (setup-envtest ships none), the tests that need it skip.
	var kcmLog io.Writer = io.Discard
	if os.Getenv("TEST_VERBOSE_LOGS") != "" {
		kcmLog = os.Stderr
	}
	dir, _ := os.MkdirTemp("", "kcm-")
	kcm, kcmErr = env.StartControllerManager(dir, testenv.CascadeControllers, kcmLog)
	if err := createDataPlane(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	kcm.Stop()
	_ = os.RemoveAll(dir)
	_ = env.Stop()
	os.Exit(code)
}

// createDataPlane makes what the routing tests route to, as a platform would have it: the
// IngressClasses nginx (the default) and traefik, whose controllers do not run here and which
// the platform marks as writing no status, so that their exposures are Ready with
// NotConfirmed; and the Gateway gateway-system/ai-gateway, whose controller does not run
// either: tests write its verdicts on routes themselves (acceptRoute).
func createDataPlane(ctx context.Context) error {
	silent := map[string]string{exposurev1alpha1.AnnotationReportsStatus: "false"}
	objs := []client.Object{
		&networkingv1.IngressClass{ObjectMeta: metav1.ObjectMeta{Name: "nginx", Annotations: map[string]string{
			exposurev1alpha1.AnnotationReportsStatus: "false", "ingressclass.kubernetes.io/is-default-class": "true"}},
			Spec: networkingv1.IngressClassSpec{Controller: "k8s.io/ingress-nginx"}},
		&networkingv1.IngressClass{ObjectMeta: metav1.ObjectMeta{Name: "traefik", Annotations: silent},
			Spec: networkingv1.IngressClassSpec{Controller: "traefik.io/ingress-controller"}},
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "gateway-system"}},
		&gatewayv1.Gateway{ObjectMeta: metav1.ObjectMeta{Namespace: "gateway-system", Name: "ai-gateway"}, Spec: gatewayv1.GatewaySpec{
			GatewayClassName: "example", Listeners: []gatewayv1.Listener{{Name: "https", Port: 443, Protocol: gatewayv1.HTTPSProtocolType}}}},
	}
	for _, o := range objs {
		if err := k8s.Create(ctx, o); err != nil {
			return fmt.Errorf("creating %T %s: %w", o, o.GetName(), err)
		}
	}
	return nil
}

// requireGarbageCollector skips a test that needs kube-controller-manager when there is none.
func requireGarbageCollector(t *testing.T) {
	t.Helper()
	if kcmErr != nil {
		t.Skipf("needs kube-controller-manager: %v", kcmErr)
	}
}

func zapLevel() zapcore.Level {
	if os.Getenv("TEST_VERBOSE_LOGS") != "" {
		return -1
	}
	return 2 // errors only: keep test output readable
}

// startManager runs the operator's controllers in a manager of its own, as a separate operator
// process would. The returned function stops it and waits until it has stopped.
func startManager(t *testing.T, opts Options) func() {
	t.Helper()
	return startManagerWith(t, opts, nil)
}

// intercepted makes manager clients whose requests go through funcs first: a test gives an
// answer the API server gives only by a race (a Conflict, a port taken meanwhile).
func intercepted(funcs interceptor.Funcs) client.NewClientFunc {
	return func(config *rest.Config, options client.Options) (client.Client, error) {
		c, err := client.NewWithWatch(config, options)
		if err != nil {
			return nil, err
		}
		return interceptor.NewClient(c, funcs), nil
	}
}

// startManagerWith is startManager with the manager's client made by newClient (nil: the default).
func startManagerWith(t *testing.T, opts Options, newClient client.NewClientFunc) func() {
	t.Helper()
	hpNamespace := ""
	if opts.HAProxy != nil {
		hpNamespace = opts.HAProxy.Namespace
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                 scheme,
		Cache:                  kubecache.CacheOptions(hpNamespace),
		MapperProvider:         kubecache.NewRESTMapper,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		// Several managers run in one test process, standing in for several operator processes.
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
		NewClient:  newClient,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := Setup(mgr, opts); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := mgr.Start(ctx); err != nil {
			t.Errorf("manager: %v", err)
		}
	}()
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			cancel()
			<-done
		}
	}
	t.Cleanup(stop)
	return stop
}

// cachedClient reads from an informer cache with the operator's indexes, as a manager's client
// does; writes go straight to the API server. For reconcilers driven by hand.
func cachedClient(t testing.TB) client.Client {
	t.Helper()
	cl, _ := cachedClientWith(t)
	return cl
}

// cachedClientWith is cachedClient with its cache.
func cachedClientWith(t testing.TB) (client.Client, cache.Cache) {
	t.Helper()
	c := startedCache(t, true)
	cl, err := client.New(cfg, client.Options{Scheme: scheme, Cache: &client.CacheOptions{Reader: c}})
	if err != nil {
		t.Fatal(err)
	}
	return cl, c
}

// newExposureReconciler makes the exposure reconciler with everything Setup gives it, for a
// test that drives it by hand: c is the client it reads and writes through (one that hides or
// delays what the cache shows, to stand in for a race), informers the cache behind c, ports the
// node-port view it sees.
func newExposureReconciler(t *testing.T, c client.Client, informers cache.Cache, ports *kubecache.NodePortView, rec record.EventRecorder) *exposure.Reconciler {
	t.Helper()
	held, err := kubecache.WatchClaims(context.Background(), informers)
	if err != nil {
		t.Fatal(err)
	}
	disc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	apis := &servedapis.APIs{Discovery: disc}
	apis.Refresh(context.Background())
	return &exposure.Reconciler{Client: c, APIReader: k8s, Recorder: rec, APIs: apis, Ports: ports, Held: held, Cache: informers, MaxConcurrent: 1}
}

// newTenantReconciler makes the tenant reconciler with everything Setup gives it, for a test
// that drives it by hand (see newExposureReconciler).
func newTenantReconciler(c client.Client, informers cache.Cache, ports *kubecache.NodePortView, rec record.EventRecorder, pool allocator.Pool) *tenant.Reconciler {
	return &tenant.Reconciler{Client: c, APIReader: k8s, Recorder: rec, Ports: ports, Cache: informers, Pool: pool, DefaultBlockSize: 10, MaxConcurrent: 1}
}

// startedCache is an informer cache, started and synced, with the operator's indexes when
// indexed.
func startedCache(t testing.TB, indexed bool) cache.Cache {
	t.Helper()
	if !indexed {
		return testenv.StartedCache(t, cfg, scheme, nil)
	}
	return testenv.StartedCache(t, cfg, scheme, func(ctx context.Context, c cache.Cache) error { return kubecache.SetupIndexes(ctx, c) })
}

func mustPool(t *testing.T, start, end int32) allocator.Pool {
	t.Helper()
	p, err := allocator.NewPool(start, end)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// newNamespace creates a namespace unique to the test.
func newNamespace(t testing.TB, prefix string) string {
	t.Helper()
	return testenv.NewNamespace(t, k8s, prefix)
}

// cleanupTenants removes tenants (finalizers included) and their claims after a test, so the
// next test's pool starts empty. Claims go by hand: the suite may run without a garbage collector.
func cleanupTenants(t *testing.T, names ...string) {
	t.Cleanup(func() {
		ctx := context.Background()
		for _, n := range names {
			// A running operator may write the tenant between the read and the update, so the
			// finalizer is taken off until the tenant is gone: a test run again (-count) creates
			// it anew and must not find it still terminating.
			eventually(t, "tenant "+n+" gone", func() (bool, string) {
				tn := &exposurev1alpha1.InferenceTenant{}
				err := k8s.Get(ctx, client.ObjectKey{Name: n}, tn)
				if apierrors.IsNotFound(err) {
					return true, ""
				}
				if err != nil {
					return false, err.Error()
				}
				if len(tn.Finalizers) > 0 {
					tn.Finalizers = nil
					if err := k8s.Update(ctx, tn); err != nil {
						return false, err.Error()
					}
				}
				if err := k8s.Delete(ctx, tn); err != nil && !apierrors.IsNotFound(err) {
					return false, err.Error()
				}
				return false, "deleted, not gone yet"
			})
			_ = k8s.DeleteAllOf(ctx, &exposurev1alpha1.PortClaim{}, client.MatchingLabels{exposurev1alpha1.LabelTenant: n})
		}
	})
}

// cleanupServices deletes the Services of namespaces, freeing their node ports.
func cleanupServices(t *testing.T, namespaces ...string) {
	t.Cleanup(func() {
		for _, ns := range namespaces {
			var sl corev1.ServiceList
			_ = k8s.List(context.Background(), &sl, client.InNamespace(ns))
			for i := range sl.Items {
				_ = k8s.Delete(context.Background(), &sl.Items[i])
			}
		}
	})
}

func eventually(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(45 * time.Second)
	last := ""
	for time.Now().Before(deadline) {
		ok, msg := cond()
		if ok {
			return
		}
		last = msg
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s: %s", what, last)
}

func newTenant(name string, start, size *int32, namespaces ...string) *exposurev1alpha1.InferenceTenant {
	t := &exposurev1alpha1.InferenceTenant{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: exposurev1alpha1.InferenceTenantSpec{Namespaces: namespaces}}
	if start != nil || size != nil {
		t.Spec.PortBlock = &exposurev1alpha1.PortBlockSpec{Start: start, Size: size}
	}
	return t
}

func newExposure(ns, name string, http, grpc, metrics *int32) *exposurev1alpha1.InferenceExposure {
	return &exposurev1alpha1.InferenceExposure{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: exposurev1alpha1.InferenceExposureSpec{
			Selector: map[string]exposurev1alpha1.LabelValue{"app": exposurev1alpha1.LabelValue(name)},
			Ports:    exposurev1alpha1.ExposurePorts{HTTP: http, GRPC: grpc, Metrics: metrics},
		},
	}
}

func create(t *testing.T, objs ...client.Object) {
	t.Helper()
	for _, o := range objs {
		if err := k8s.Create(context.Background(), o); err != nil {
			t.Fatalf("creating %T %s: %v", o, o.GetName(), err)
		}
	}
}

// update reads an object, changes it and writes it back, again after a conflict: a running
// operator may write the object (its status, say) between the read and the write.
func update[T client.Object](t *testing.T, key client.ObjectKey, obj T, mutate func(T)) {
	t.Helper()
	eventually(t, fmt.Sprintf("an update of %T %s", obj, key), func() (bool, string) {
		if err := k8s.Get(context.Background(), key, obj); err != nil {
			return false, err.Error()
		}
		mutate(obj)
		err := k8s.Update(context.Background(), obj)
		return err == nil, fmt.Sprint(err)
	})
}

func updateTenant(t *testing.T, name string, mutate func(*exposurev1alpha1.InferenceTenant)) {
	t.Helper()
	update(t, client.ObjectKey{Name: name}, &exposurev1alpha1.InferenceTenant{}, mutate)
}

func updateExposure(t *testing.T, ns, name string, mutate func(*exposurev1alpha1.InferenceExposure)) {
	t.Helper()
	update(t, client.ObjectKey{Namespace: ns, Name: name}, &exposurev1alpha1.InferenceExposure{}, mutate)
}

func getTenant(t *testing.T, name string) *exposurev1alpha1.InferenceTenant {
	t.Helper()
	tn := &exposurev1alpha1.InferenceTenant{}
	if err := k8s.Get(context.Background(), client.ObjectKey{Name: name}, tn); err != nil {
		t.Fatal(err)
	}
	return tn
}

func getExposure(t *testing.T, ns, name string) *exposurev1alpha1.InferenceExposure {
	t.Helper()
	e := &exposurev1alpha1.InferenceExposure{}
	if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, e); err != nil {
		t.Fatal(err)
	}
	return e
}

// condition returns "Status/Reason: message" of a condition, or "" when absent.
func condition(conds []metav1.Condition, typ string) string {
	c := meta.FindStatusCondition(conds, typ)
	if c == nil {
		return ""
	}
	return fmt.Sprintf("%s/%s: %s", c.Status, c.Reason, c.Message)
}

// waitExposureCondition waits until the condition starts with want ("True/Allocated" or
// "False") and the status is of the exposure's current generation.
func waitExposureCondition(t *testing.T, ns, name, typ, want string) *exposurev1alpha1.InferenceExposure {
	t.Helper()
	var e *exposurev1alpha1.InferenceExposure
	eventually(t, fmt.Sprintf("exposure %s/%s %s=%s", ns, name, typ, want), func() (bool, string) {
		e = getExposure(t, ns, name)
		c := condition(e.Status.Conditions, typ)
		return strings.HasPrefix(c, want) && e.Status.ObservedGeneration == e.Generation, c
	})
	return e
}

func waitTenantCondition(t *testing.T, name, typ, want string) *exposurev1alpha1.InferenceTenant {
	t.Helper()
	var tn *exposurev1alpha1.InferenceTenant
	eventually(t, fmt.Sprintf("tenant %s %s=%s", name, typ, want), func() (bool, string) {
		tn = getTenant(t, name)
		c := condition(tn.Status.Conditions, typ)
		return strings.HasPrefix(c, want), c
	})
	return tn
}

// events returns the reasons and messages of the Events about an object.
func events(t *testing.T, ns, name string) string {
	t.Helper()
	var el corev1.EventList
	if err := k8s.List(context.Background(), &el, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, e := range el.Items {
		if e.InvolvedObject.Name == name {
			fmt.Fprintf(&b, "%s %s: %s\n", e.Type, e.Reason, e.Message)
		}
	}
	return b.String()
}

// waitEvent waits for an Event about an object whose "type reason: message" line contains
// want. The recorder writes Events asynchronously, so one may lag behind the status it
// accompanies.
func waitEvent(t *testing.T, ns, name, want string) {
	t.Helper()
	eventually(t, fmt.Sprintf("an Event %q on %s/%s", want, ns, name), func() (bool, string) {
		ev := events(t, ns, name)
		return strings.Contains(ev, want), ev
	})
}

type nopRecorder struct{}

func (nopRecorder) Event(runtime.Object, string, string, string)                  {}
func (nopRecorder) Eventf(runtime.Object, string, string, string, ...interface{}) {}
func (nopRecorder) AnnotatedEventf(runtime.Object, map[string]string, string, string, string, ...interface{}) {
}

func reqFor(o client.Object) ctrl.Request {
	return ctrl.Request{NamespacedName: client.ObjectKeyFromObject(o)}
}

// denyingPolicy installs a ValidatingAdmissionPolicy that refuses creates and updates of
// resource (core group) in namespace ns unless expression holds, answering message with
// reason (empty: Invalid), and removes it when the test ends. It returns once the API server
// enforces it (probe, dry-run, is refused).
func denyingPolicy(t *testing.T, name, ns, resource, expression, message string, reason metav1.StatusReason, probe client.Object) {
	t.Helper()
	ctx := context.Background()
	v := admissionregistrationv1.Validation{Expression: expression, Message: message}
	if reason != "" {
		v.Reason = &reason
	}
	policy := &admissionregistrationv1.ValidatingAdmissionPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: admissionregistrationv1.ValidatingAdmissionPolicySpec{
			FailurePolicy: ptr.To(admissionregistrationv1.Fail),
			MatchConstraints: &admissionregistrationv1.MatchResources{ResourceRules: []admissionregistrationv1.NamedRuleWithOperations{{
				RuleWithOperations: admissionregistrationv1.RuleWithOperations{
					Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create, admissionregistrationv1.Update},
					Rule:       admissionregistrationv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{resource}},
				},
			}}},
			Validations: []admissionregistrationv1.Validation{v},
		},
	}
	binding := &admissionregistrationv1.ValidatingAdmissionPolicyBinding{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: admissionregistrationv1.ValidatingAdmissionPolicyBindingSpec{
			PolicyName:        name,
			ValidationActions: []admissionregistrationv1.ValidationAction{admissionregistrationv1.Deny},
			MatchResources: &admissionregistrationv1.MatchResources{NamespaceSelector: &metav1.LabelSelector{
				MatchLabels: map[string]string{"kubernetes.io/metadata.name": ns},
			}},
		},
	}
	create(t, policy, binding)
	t.Cleanup(func() { _ = k8s.Delete(ctx, binding); _ = k8s.Delete(ctx, policy) })
	// The API server loads policies asynchronously: wait until it refuses the probe.
	eventually(t, "the policy in force", func() (bool, string) {
		err := k8s.Create(ctx, probe.DeepCopyObject().(client.Object), client.DryRunAll)
		return err != nil, fmt.Sprint(err)
	})
}

// liftPolicy removes a policy installed by denyingPolicy and waits until probe passes.
func liftPolicy(t *testing.T, name string, probe client.Object) {
	t.Helper()
	ctx := context.Background()
	if err := k8s.Delete(ctx, &admissionregistrationv1.ValidatingAdmissionPolicyBinding{ObjectMeta: metav1.ObjectMeta{Name: name}}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the policy to be lifted", func() (bool, string) {
		err := k8s.Create(ctx, probe.DeepCopyObject().(client.Object), client.DryRunAll)
		return err == nil, fmt.Sprint(err)
	})
}
