package controller

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	exposurev1alpha1 "github.com/inference-exposure/inference-exposure-operator/api/v1alpha1"
	"github.com/inference-exposure/inference-exposure-operator/internal/conditions"
	"github.com/inference-exposure/inference-exposure-operator/internal/controller/haproxyconfig"
	"github.com/inference-exposure/inference-exposure-operator/internal/metrics"
	"github.com/inference-exposure/inference-exposure-operator/internal/render/haproxy"
)

func createNode(t *testing.T, name, ip string, ready bool, lbls map[string]string) {
	t.Helper()
	ctx := context.Background()
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: lbls}}
	create(t, n)
	t.Cleanup(func() { _ = k8s.Delete(context.Background(), n) })
	setNodeReady(t, name, ip, ready)
	_ = ctx
}

func setNodeReady(t *testing.T, name, ip string, ready bool) {
	t.Helper()
	n := &corev1.Node{}
	if err := k8s.Get(context.Background(), client.ObjectKey{Name: name}, n); err != nil {
		t.Fatal(err)
	}
	st := corev1.ConditionFalse
	if ready {
		st = corev1.ConditionTrue
	}
	n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: st, LastHeartbeatTime: metav1.Now(), LastTransitionTime: metav1.Now()}}
	n.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: ip}, {Type: corev1.NodeHostName, Address: name}}
	if err := k8s.Status().Update(context.Background(), n); err != nil {
		t.Fatal(err)
	}
}

func haproxySettings(ns string) *haproxyconfig.Settings {
	return &haproxyconfig.Settings{
		Namespace: ns, Name: "haproxy", BackendNodes: labels.SelectorFromSet(labels.Set{"nvidia.com/gpu.present": "true"}),
		IngressNodes: labels.SelectorFromSet(labels.Set{"node-role.kubernetes.io/ingress": ""}),
		Globals: haproxy.Globals{IngressPort: 443, HTTPSPort: 443, StatsBind: "127.0.0.1:8404", Timeout: 300 * time.Second, HardStopAfter: 30 * time.Minute,
			ReservedPorts: haproxy.DefaultReservedPorts},
		// Tests change exposures one after another and wait for each: render each within
		// a second, as outside a burst (TestRenderDelay covers the burst).
		BurstInterval: time.Second,
	}
}

func configMap(t *testing.T, ns string) *corev1.ConfigMap {
	t.Helper()
	cm := &corev1.ConfigMap{}
	if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "haproxy"}, cm); err != nil {
		return nil
	}
	return cm
}

// fullConfig is the whole configuration as HAProxy would load it from the mounted directory.
func fullConfig(t *testing.T, ns string) string {
	t.Helper()
	cfg, err := haproxyconfig.ReadConfig(context.Background(), k8s, *haproxySettings(ns))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// versions are the resourceVersions of the operator's HAProxy ConfigMaps.
func versions(t *testing.T, ns string) map[string]string {
	t.Helper()
	var cml corev1.ConfigMapList
	if err := k8s.List(context.Background(), &cml, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, cm := range cml.Items {
		out[cm.Name] = cm.ResourceVersion
	}
	return out
}

func waitConfig(t *testing.T, ns, what string, ok func(string) bool) string {
	t.Helper()
	var cfg string
	eventually(t, what, func() (bool, string) {
		cfg = fullConfig(t, ns)
		return ok(cfg), cfg
	})
	return cfg
}

// TestHAProxyConfigMap: the rendered configuration follows tenants, exposures and nodes, is
// written only when it changes, and a tenant that cannot be rendered is reported while the
// others are still served.
func TestHAProxyConfigMap(t *testing.T) {
	ctx := context.Background()
	opNS := newNamespace(t, "operator")
	ns := newNamespace(t, "hp-alpha")
	cleanupServices(t, ns)
	cleanupTenants(t, "hp-alpha", "hp-beta")
	gpu := map[string]string{"nvidia.com/gpu.present": "true"}
	ingress := map[string]string{"node-role.kubernetes.io/ingress": ""}
	createNode(t, "gpu-1", "10.0.1.101", true, gpu)
	createNode(t, "gpu-2", "10.0.1.102", true, gpu)
	createNode(t, "ingress-1", "10.0.1.201", true, ingress)
	createNode(t, "ingress-2", "10.0.1.202", true, ingress)
	createNode(t, "cpu-1", "10.0.1.50", true, nil)

	opts := Options{Pool: mustPool(t, 30000, 32767), DefaultBlockSize: 100, MaxConcurrent: 2, HAProxy: haproxySettings(opNS)}
	startManager(t, opts)

	tn := newTenant("hp-alpha", ptr.To[int32](30800), ptr.To[int32](100), ns)
	tn.Spec.HAProxy = &exposurev1alpha1.TenantHAProxySpec{VIP: "10.0.100.10", CertificatePath: "/etc/haproxy/certs/alpha.pem",
		GRPCFrontendPorts: &exposurev1alpha1.FrontendPortRange{Start: 8000, End: 8099}}
	exp := newExposure(ns, "triton", ptr.To[int32](8000), ptr.To[int32](8001), ptr.To[int32](8002))
	exp.Spec.HAProxy = &exposurev1alpha1.ExposureHAProxySpec{GRPCFrontendPort: ptr.To[int32](8001)}
	create(t, tn, exp)

	cfg := waitConfig(t, opNS, "tenant alpha rendered", func(cfg string) bool {
		return strings.Contains(cfg, "bind 10.0.100.10:8001  # "+ns+"/triton") && strings.Contains(cfg, "server s1 10.0.1.101:+22800 check port 30801  # gpu-1\n") &&
			strings.Contains(cfg, "server s2 10.0.1.102:+22800 check port 30801  # gpu-2\n") && strings.Contains(cfg, "server s2 10.0.1.202:443 ssl") &&
			strings.Contains(cfg, "bind 10.0.100.10:443 ssl crt /etc/haproxy/certs/alpha.pem")
	})
	if strings.Contains(cfg, "10.0.1.50") {
		t.Fatal("a node outside the selectors is in the configuration")
	}
	if !strings.HasPrefix(cfg, "# Generated by inference-exposure-operator") || !strings.Contains(cfg, "\nglobal\n") {
		t.Fatalf("the global part does not come first:\n%s", cfg)
	}
	// Every ConfigMap carries its checksum and label; the tenant's part is in its shard.
	shard := haproxyconfig.ShardName("haproxy", haproxyconfig.ShardOf("hp-alpha", haproxyconfig.DefaultShards))
	for _, name := range []string{"haproxy", shard} {
		cm := &corev1.ConfigMap{}
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: opNS, Name: name}, cm); err != nil {
			t.Fatal(err)
		}
		if len(cm.Data) != 1 {
			t.Fatalf("%s holds %d keys", name, len(cm.Data))
		}
		for _, v := range cm.Data {
			if cm.Annotations[exposurev1alpha1.AnnotationChecksum] != haproxy.Checksum(v) || cm.Labels[exposurev1alpha1.LabelManagedBy] != exposurev1alpha1.ManagedByValue {
				t.Fatalf("%s checksum/labels: %v %v", name, cm.Annotations, cm.Labels)
			}
			if name == shard && !strings.Contains(v, "# tenant hp-alpha") {
				t.Fatalf("tenant not in its shard %s:\n%s", name, v)
			}
		}
	}
	// The render writes its ConfigMaps one after another: the others may still be on their way.
	eventually(t, "the global ConfigMap and every shard", func() (bool, string) {
		n := len(versions(t, opNS))
		return n == haproxyconfig.DefaultShards+1, fmt.Sprintf("%d ConfigMaps, want the global one and %d shards", n, haproxyconfig.DefaultShards)
	})
	waitTenantCondition(t, "hp-alpha", "HAProxyConfigured", "True/Rendered")
	if testutil.ToFloat64(metrics.HAProxyRenders.WithLabelValues("written")) < 1 || testutil.ToFloat64(metrics.HAProxyConfigBytes) < 100 {
		t.Fatal("render metrics not recorded")
	}

	t.Run("quiet when nothing changed", func(t *testing.T) {
		rv := versions(t, opNS)
		updateTenant(t, "hp-alpha", func(tn *exposurev1alpha1.InferenceTenant) {
			tn.Annotations = map[string]string{"poke": "1"}
		})
		setNodeReady(t, "gpu-1", "10.0.1.101", true) // a heartbeat
		// Probes that do render, one on each informer the pokes went through: their renders
		// come after the pokes were seen, and must find nothing to write.
		renders := func() float64 { return testutil.ToFloat64(metrics.HAProxyRenders.WithLabelValues("unchanged")) }
		before := renders()
		cleanupTenants(t, "hp-quiet-probe")
		create(t, newTenant("hp-quiet-probe", nil, ptr.To[int32](10), newNamespace(t, "hp-probe")))
		eventually(t, "a render after the tenant poke", func() (bool, string) { return renders() > before, "no render yet" })
		before = renders()
		createNode(t, "cpu-probe", "10.0.1.250", true, nil)
		t.Cleanup(func() { _ = k8s.Delete(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "cpu-probe"}}) })
		eventually(t, "a render after the heartbeat", func() (bool, string) { return renders() > before, "no render yet" })
		if got := versions(t, opNS); !maps.Equal(got, rv) {
			t.Fatalf("ConfigMap rewritten without a change (%s -> %s)", rv, got)
		}
	})

	t.Run("nodes turning NotReady, joining and leaving", func(t *testing.T) {
		// A node that is not Ready keeps its slot, disabled; one that joins takes the lowest
		// free slot; one that leaves frees its slot; the others never move (the agent then
		// changes one server per backend at runtime, no reload).
		setNodeReady(t, "gpu-2", "10.0.1.102", false)
		waitConfig(t, opNS, "gpu-2 disabled", func(cfg string) bool {
			return strings.Contains(cfg, "server s2 10.0.1.102:+22800 disabled check port 30801  # gpu-2 (not ready)\n")
		})
		createNode(t, "gpu-3", "10.0.1.103", true, gpu)
		waitConfig(t, opNS, "gpu-3 added", func(cfg string) bool {
			return strings.Contains(cfg, "server s3 10.0.1.103:+22800 check port 30801  # gpu-3\n")
		})
		if err := k8s.Delete(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "gpu-1"}}); err != nil {
			t.Fatal(err)
		}
		cfg := waitConfig(t, opNS, "gpu-1 removed", func(cfg string) bool { return !strings.Contains(cfg, "gpu-1") })
		if !strings.Contains(cfg, "server s1 0.0.0.0:+22800 disabled check port 30801\n") || !strings.Contains(cfg, "server s3 10.0.1.103:+22800 check port 30801  # gpu-3\n") {
			t.Fatalf("slots moved:\n%s", cfg)
		}
		setNodeReady(t, "gpu-2", "10.0.1.102", true)
		createNode(t, "gpu-1", "10.0.1.101", true, gpu)
		waitConfig(t, opNS, "gpu-1 back in its free slot", func(cfg string) bool {
			return strings.Contains(cfg, "server s1 10.0.1.101:+22800 check port 30801  # gpu-1\n") && strings.Contains(cfg, "server s2 10.0.1.102:+22800 check port 30801  # gpu-2\n")
		})
	})

	t.Run("edits to the ConfigMap are repaired", func(t *testing.T) {
		cm := &corev1.ConfigMap{}
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: opNS, Name: haproxyconfig.ShardName("haproxy", haproxyconfig.ShardOf("hp-alpha", haproxyconfig.DefaultShards))}, cm); err != nil {
			t.Fatal(err)
		}
		cm.Data = map[string]string{"haproxy.cfg": "global\n    # hand edit\n"}
		if err := k8s.Update(ctx, cm); err != nil {
			t.Fatal(err)
		}
		waitConfig(t, opNS, "repaired", func(cfg string) bool { return strings.Contains(cfg, "bind 10.0.100.10:8001") })
		// HAProxy would load the stray key as a file of its configuration: it goes.
		eventually(t, "only the operator's key left", func() (bool, string) {
			if err := k8s.Get(ctx, client.ObjectKeyFromObject(cm), cm); err != nil {
				return false, err.Error()
			}
			_, stray := cm.Data["haproxy.cfg"]
			return !stray && len(cm.Data) == 1, fmt.Sprint(len(cm.Data), " keys")
		})
	})

	t.Run("a tenant binding the same VIP and port is rejected, the other kept", func(t *testing.T) {
		beta := newTenant("hp-beta", nil, ptr.To[int32](10), "hp-beta-ns")
		beta.Spec.HAProxy = &exposurev1alpha1.TenantHAProxySpec{VIP: "10.0.100.10", CertificatePath: "/etc/haproxy/certs/beta.pem"}
		create(t, beta)
		tb := waitTenantCondition(t, "hp-beta", "HAProxyConfigured", "False/BindConflict")
		if !strings.Contains(condition(tb.Status.Conditions, "HAProxyConfigured"), "10.0.100.10:443") {
			t.Fatalf("message: %s", condition(tb.Status.Conditions, "HAProxyConfigured"))
		}
		cfg := fullConfig(t, opNS)
		if strings.Contains(cfg, "beta.pem") || !strings.Contains(cfg, "alpha.pem") {
			t.Fatalf("wrong tenant dropped:\n%s", cfg)
		}
		waitTenantCondition(t, "hp-alpha", "HAProxyConfigured", "True")
	})

	t.Run("bad values are refused at admission", func(t *testing.T) {
		for vip, cert := range map[string]string{"not-an-ip": "", "0.0.0.0": "", "10.0.0.1": "/etc/certs/a b.pem", "10.0.0.2": "/etc/../x.pem", "10.0.0.3": "relative.pem",
			"224.0.0.1": "", "255.255.255.255": "", "ff02::1": "", "169.254.1.1": ""} {
			bad := newTenant(fmt.Sprintf("hp-bad-%d", len(vip)+len(cert)), nil, nil, "x")
			bad.Spec.HAProxy = &exposurev1alpha1.TenantHAProxySpec{VIP: vip, CertificatePath: cert}
			if err := k8s.Create(ctx, bad); err == nil {
				_ = k8s.Delete(ctx, bad)
				t.Errorf("vip %q cert %q accepted", vip, cert)
			} else if !strings.Contains(err.Error(), "haproxy") {
				t.Errorf("unclear message: %v", err)
			}
		}
	})
}

// TestHAProxyConfigMapNotOwned: a ConfigMap of that name that the operator does not manage is
// left alone and reported on the tenants.
func TestHAProxyConfigMapNotOwned(t *testing.T) {
	opNS := newNamespace(t, "operator")
	cleanupTenants(t, "hp-foreign")
	theirs := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: opNS, Name: "haproxy"}, Data: map[string]string{"haproxy.cfg": "theirs"}}
	create(t, theirs)
	startManager(t, Options{Pool: mustPool(t, 30000, 32767), DefaultBlockSize: 100, MaxConcurrent: 1, HAProxy: haproxySettings(opNS)})
	tn := newTenant("hp-foreign", nil, ptr.To[int32](10), "hp-foreign-ns")
	tn.Spec.HAProxy = &exposurev1alpha1.TenantHAProxySpec{VIP: "10.0.100.20"}
	create(t, tn)
	waitTenantCondition(t, "hp-foreign", "HAProxyConfigured", "False/ConfigMapNotManaged")
	if cm := configMap(t, opNS); cm.Data["haproxy.cfg"] != "theirs" || cm.ResourceVersion != theirs.ResourceVersion {
		t.Fatal("foreign ConfigMap modified")
	}
}

// TestHAProxyRefusedWrite: when the API server refuses a shard (here a ValidatingAdmissionPolicy
// stands in for any refusal: too large, a quota, a policy), the tenants in that shard report
// HAProxyConfigured False with the API server's reason and an Event, never True on stale
// content; tenants in other shards stay True. Once the write goes through, True again.
func TestHAProxyRefusedWrite(t *testing.T) {
	ctx := context.Background()
	opNS := newNamespace(t, "operator")
	settings := haproxySettings(opNS)
	settings.Shards = 2
	refused := "hp-refused"
	other := "hp-other-0"
	for i := 1; haproxyconfig.ShardOf(other, 2) == haproxyconfig.ShardOf(refused, 2); i++ {
		other = fmt.Sprintf("hp-other-%d", i)
	}
	cleanupTenants(t, refused, other)

	probe := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: opNS, GenerateName: "probe-"}, Data: map[string]string{"x": "# tenant " + refused}}
	denyingPolicy(t, "refuse-"+opNS, opNS, "configmaps",
		"!has(object.data) || object.data.all(k, !object.data[k].contains('# tenant "+refused+"'))", "refused by the test's policy", "", probe)

	startManager(t, Options{Pool: mustPool(t, 30000, 32767), DefaultBlockSize: 10, MaxConcurrent: 1, HAProxy: settings})
	for i, name := range []string{refused, other} {
		tn := newTenant(name, nil, ptr.To[int32](10), name+"-ns")
		tn.Spec.HAProxy = &exposurev1alpha1.TenantHAProxySpec{VIP: fmt.Sprintf("10.0.100.%d", 40+i)}
		create(t, tn)
	}
	bad := waitTenantCondition(t, refused, "HAProxyConfigured", "False/ConfigMapRefused")
	if msg := condition(bad.Status.Conditions, "HAProxyConfigured"); !strings.Contains(msg, "refused by the test's policy") || !strings.Contains(msg, haproxyconfig.ShardName("haproxy", haproxyconfig.ShardOf(refused, 2))) {
		t.Fatalf("message does not give the API server's reason and the ConfigMap: %s", msg)
	}
	// Ready summarises HAProxyConfigured for a tenant that asks for frontends.
	waitTenantCondition(t, refused, "Ready", "False/ConfigMapRefused")
	waitTenantCondition(t, other, "HAProxyConfigured", "True/Rendered")
	if strings.Contains(fullConfig(t, opNS), "# tenant "+refused) {
		t.Fatal("the refused tenant is in the configuration")
	}
	eventually(t, "a Warning Event on the refused tenant", func() (bool, string) {
		var el corev1.EventList
		if err := k8s.List(ctx, &el, client.InNamespace("default")); err != nil {
			return false, err.Error()
		}
		for _, e := range el.Items {
			if e.InvolvedObject.Name == refused && e.Type == corev1.EventTypeWarning && e.Reason == "ConfigMapRefused" {
				return true, ""
			}
		}
		return false, fmt.Sprintf("%d events", len(el.Items))
	})
	if testutil.ToFloat64(metrics.HAProxyRenders.WithLabelValues("refused")) < 1 {
		t.Fatal("refused writes are not counted")
	}

	// The cause goes away; the next render (here: a spec change) writes and reports True.
	liftPolicy(t, "refuse-"+opNS, probe)
	updateTenant(t, refused, func(tn *exposurev1alpha1.InferenceTenant) {
		tn.Spec.HAProxy.VIP = "10.0.100.50"
	})
	waitTenantCondition(t, refused, "HAProxyConfigured", "True/Rendered")
	waitTenantCondition(t, refused, "Ready", "True")
	waitConfig(t, opNS, "the tenant in the configuration", func(cfg string) bool { return strings.Contains(cfg, "# tenant "+refused) })
	checkStatusManagers(t, refused)
}

// TestHAProxyConflictIsNoRefusal: a ConfigMap write that loses a race (Conflict: someone wrote
// it between the operator's takeover of its fields and the apply) is tried again on a later
// render; it is no refusal: no ConfigMapRefused condition, Event or metric. The Conflict comes
// from the manager's client here, once, as the API server would answer it.
func TestHAProxyConflictIsNoRefusal(t *testing.T) {
	opNS := newNamespace(t, "operator")
	first, second := "hp-conflict-a", "hp-conflict-b"
	cleanupTenants(t, first, second)
	var conflicts atomic.Int32
	conflictOnce := intercepted(interceptor.Funcs{
		Patch: func(ctx context.Context, c client.WithWatch, obj client.Object, p client.Patch, opts ...client.PatchOption) error {
			if _, ok := obj.(*corev1.ConfigMap); ok && p.Type() == types.ApplyPatchType && conflicts.Add(-1) >= 0 {
				return apierrors.NewConflict(schema.GroupResource{Resource: "configmaps"}, obj.GetName(), errors.New("the object has been modified"))
			}
			return c.Patch(ctx, obj, p, opts...)
		},
	})
	settings := haproxySettings(opNS)
	settings.Shards = 1 // the second tenant changes the ConfigMap the first one's render created
	startManagerWith(t, Options{Pool: mustPool(t, 30000, 32767), DefaultBlockSize: 10, MaxConcurrent: 1, HAProxy: settings}, conflictOnce)
	addTenant := func(name, vip string) {
		tn := newTenant(name, nil, ptr.To[int32](10), name+"-ns")
		tn.Spec.HAProxy = &exposurev1alpha1.TenantHAProxySpec{VIP: vip}
		create(t, tn)
		waitConfig(t, opNS, "tenant "+name, func(cfg string) bool { return strings.Contains(cfg, "# tenant "+name+"\n") })
	}
	addTenant(first, "10.0.100.60")

	refusedBefore := testutil.ToFloat64(metrics.HAProxyRenders.WithLabelValues("refused"))
	conflicts.Store(1)
	addTenant(second, "10.0.100.61")
	if conflicts.Load() >= 0 {
		t.Fatal("no write met the Conflict")
	}
	if n := testutil.ToFloat64(metrics.HAProxyRenders.WithLabelValues("refused")) - refusedBefore; n != 0 {
		t.Fatalf("%v writes counted as refused", n)
	}
	for _, n := range []string{first, second} {
		if c := condition(getTenant(t, n).Status.Conditions, "HAProxyConfigured"); strings.Contains(c, "ConfigMapRefused") {
			t.Errorf("%s: %s", n, c)
		}
	}
}

// TestHAProxyBindConflictCostsTheOffender: an exposure that picks, as its grpcFrontendPort on a
// shared VIP, the port another tenant's exposure binds loses its own frontend and is told so
// (an Event, and its tenant's condition names it); the victim keeps its frontend and stays True.
func TestHAProxyBindConflictCostsTheOffender(t *testing.T) {
	opNS := newNamespace(t, "operator")
	victimNS, offenderNS := newNamespace(t, "hp-victim"), newNamespace(t, "hp-offender")
	cleanupServices(t, victimNS)
	cleanupServices(t, offenderNS)
	// The offender's name sorts first: the old rule (first tenant by name keeps the bind)
	// dropped the victim.
	cleanupTenants(t, "hp-aaa-offender", "hp-victim")
	createNode(t, "gpu-bind", "10.0.1.150", true, map[string]string{"nvidia.com/gpu.present": "true"})
	startManager(t, Options{Pool: mustPool(t, 30000, 32767), DefaultBlockSize: 10, MaxConcurrent: 2, HAProxy: haproxySettings(opNS)})

	victim := newTenant("hp-victim", ptr.To[int32](31700), ptr.To[int32](10), victimNS)
	victim.Spec.HAProxy = &exposurev1alpha1.TenantHAProxySpec{VIP: "10.0.100.60"}
	offender := newTenant("hp-aaa-offender", nil, ptr.To[int32](10), offenderNS)
	// The platform lets the offender choose any port that is not reserved: what it can still
	// take from another tenant is what this test is about.
	offender.Spec.HAProxy = &exposurev1alpha1.TenantHAProxySpec{VIP: "10.0.100.60", GRPCFrontendPorts: &exposurev1alpha1.FrontendPortRange{Start: 1, End: 65535}}
	create(t, victim, offender)
	create(t, newExposure(victimNS, "llm", nil, ptr.To[int32](8001), nil))
	waitExposureCondition(t, victimNS, "llm", "Ready", "True")
	port := getExposure(t, victimNS, "llm").Status.NodePorts.GRPC

	grab := newExposure(offenderNS, "grab", nil, ptr.To[int32](8001), nil)
	grab.Spec.HAProxy = &exposurev1alpha1.ExposureHAProxySpec{GRPCFrontendPort: ptr.To(port)}
	create(t, grab)
	tn := waitTenantCondition(t, "hp-aaa-offender", "HAProxyConfigured", "False/BindConflict")
	if msg := condition(tn.Status.Conditions, "HAProxyConfigured"); !strings.Contains(msg, offenderNS+"/grab") {
		t.Fatalf("the tenant's condition does not name the exposure: %s", msg)
	}
	waitTenantCondition(t, "hp-victim", "HAProxyConfigured", "True")
	cfg := waitConfig(t, opNS, "the victim's frontend kept", func(cfg string) bool {
		return strings.Contains(cfg, fmt.Sprintf("bind 10.0.100.60:%d  # %s/llm", port, victimNS))
	})
	if strings.Contains(cfg, offenderNS+"/grab\n") {
		t.Fatalf("the offender's frontend is in the configuration:\n%s", cfg)
	}
	e := waitExposureCondition(t, offenderNS, "grab", "HAProxyFrontend", "False/BindConflict")
	if msg := condition(e.Status.Conditions, "HAProxyFrontend"); !strings.Contains(msg, "another tenant's gRPC frontend") || strings.Contains(msg, victimNS) || strings.Contains(msg, "hp-victim") {
		t.Fatalf("the exposure must be told the port is another tenant's, without naming that tenant or its objects: %s", msg)
	}
	// Two writers of the exposure's status, each owning only its fields.
	f := statusManagersOf(e)
	if hp := f[conditions.HAProxyStatusManager+"/Apply"]; !strings.Contains(hp, "HAProxyFrontend") || strings.Contains(hp, `\"Ready\"`) {
		t.Errorf("HAProxy manager fields: %s", hp)
	}
	if own := f[conditions.StatusManager+"/Apply"]; strings.Contains(own, "HAProxyFrontend") || !strings.Contains(own, `\"Ready\"`) {
		t.Errorf("status manager fields: %s", own)
	}
	waitEvent(t, offenderNS, "grab", "Warning BindConflict")
	// The offender picks another port: its frontend is served and the condition goes.
	updateExposure(t, offenderNS, "grab", func(g *exposurev1alpha1.InferenceExposure) {
		g.Spec.HAProxy.GRPCFrontendPort = ptr.To[int32](9001)
	})
	eventually(t, "the condition removed", func() (bool, string) {
		g := getExposure(t, offenderNS, "grab")
		return condition(g.Status.Conditions, "HAProxyFrontend") == "", condition(g.Status.Conditions, "HAProxyFrontend")
	})
	waitConfig(t, opNS, "the offender's frontend on its new port", func(cfg string) bool {
		return strings.Contains(cfg, "bind 10.0.100.60:9001  # "+offenderNS+"/grab")
	})
	waitTenantCondition(t, "hp-aaa-offender", "HAProxyConfigured", "True")
}

// TestTwoOperatorsDoNotFight: two operators with different settings and no shared leader
// election point at the same HAProxy ConfigMaps. One holds the writer Lease and writes; the
// other writes nothing, says why on the ConfigMap, and takes over when the first stops.
func TestTwoOperatorsDoNotFight(t *testing.T) {
	ctx := context.Background()
	opNS := newNamespace(t, "operator")
	cleanupTenants(t, "hp-two")
	a, b := haproxySettings(opNS), haproxySettings(opNS)
	a.Globals.Timeout, b.Globals.Timeout = 300*time.Second, 301*time.Second
	stopA := startManager(t, Options{Pool: mustPool(t, 30000, 32767), DefaultBlockSize: 10, MaxConcurrent: 1, HAProxy: a})
	tn := newTenant("hp-two", nil, ptr.To[int32](10), "hp-two-ns")
	tn.Spec.HAProxy = &exposurev1alpha1.TenantHAProxySpec{VIP: "10.0.100.70"}
	create(t, tn)
	waitConfig(t, opNS, "operator A's configuration", func(cfg string) bool { return strings.Contains(cfg, "timeout client 5m") })

	stopB, rec := startRecordedManager(t, Options{Pool: mustPool(t, 30000, 32767), DefaultBlockSize: 10, MaxConcurrent: 1, HAProxy: b})
	waitEvent(t, opNS, "haproxy", "Warning WrittenByAnotherOperator")
	for _, w := range rec.writeList() {
		if strings.Contains(w, "ConfigMap") {
			t.Errorf("the standby operator wrote: %s", w)
		}
	}
	if cfg := fullConfig(t, opNS); !strings.Contains(cfg, "timeout client 5m") {
		t.Fatalf("operator A's configuration was overwritten:\n%s", cfg)
	}

	// A stops (and releases the Lease): B takes over and writes its own.
	stopA()
	waitConfig(t, opNS, "operator B's configuration", func(cfg string) bool { return strings.Contains(cfg, "timeout client 301s") })
	stopB()
	_ = ctx
}

// TestHAProxyFrontendPortPolicy: an exposure that asks for the kubelet's port, or for a port
// outside its tenant's range (by default the tenant's NodePort block), gets no frontend and is
// told why and what to choose; of two exposures of two tenants that choose the same port on a
// shared VIP, the one created first keeps it, although the other tenant's name sorts first.
func TestHAProxyFrontendPortPolicy(t *testing.T) {
	opNS := newNamespace(t, "operator")
	alphaNS, betaNS := newNamespace(t, "hp-port-alpha"), newNamespace(t, "hp-port-beta")
	cleanupServices(t, alphaNS)
	cleanupServices(t, betaNS)
	cleanupTenants(t, "hp-port-alpha", "hp-port-beta")
	createNode(t, "gpu-port", "10.0.1.151", true, map[string]string{"nvidia.com/gpu.present": "true"})
	startManager(t, Options{Pool: mustPool(t, 30000, 32767), DefaultBlockSize: 10, MaxConcurrent: 2, HAProxy: haproxySettings(opNS)})

	alpha := newTenant("hp-port-alpha", ptr.To[int32](31800), ptr.To[int32](10), alphaNS)
	alpha.Spec.HAProxy = &exposurev1alpha1.TenantHAProxySpec{VIP: "10.0.100.70"}
	beta := newTenant("hp-port-beta", ptr.To[int32](31810), ptr.To[int32](10), betaNS)
	beta.Spec.HAProxy = &exposurev1alpha1.TenantHAProxySpec{VIP: "10.0.100.70", GRPCFrontendPorts: &exposurev1alpha1.FrontendPortRange{Start: 9000, End: 10999}}
	create(t, alpha, beta)

	t.Run("a reserved port", func(t *testing.T) {
		kubelet := newExposure(betaNS, "kubelet", nil, ptr.To[int32](8001), nil)
		kubelet.Spec.HAProxy = &exposurev1alpha1.ExposureHAProxySpec{GRPCFrontendPort: ptr.To[int32](10250)}
		create(t, kubelet)
		e := waitExposureCondition(t, betaNS, "kubelet", "HAProxyFrontend", "False/FrontendPortNotAllowed")
		if msg := condition(e.Status.Conditions, "HAProxyFrontend"); !strings.Contains(msg, "port 10250") || !strings.Contains(msg, "reserve") || !strings.Contains(msg, "9000-10999") {
			t.Fatalf("the condition does not say why and what to choose: %s", msg)
		}
		waitEvent(t, betaNS, "kubelet", "Warning FrontendPortNotAllowed")
	})
	t.Run("outside the tenant's block", func(t *testing.T) {
		far := newExposure(alphaNS, "far", nil, ptr.To[int32](8001), nil)
		far.Spec.HAProxy = &exposurev1alpha1.ExposureHAProxySpec{GRPCFrontendPort: ptr.To[int32](8001)}
		create(t, far)
		e := waitExposureCondition(t, alphaNS, "far", "HAProxyFrontend", "False/FrontendPortNotAllowed")
		if msg := condition(e.Status.Conditions, "HAProxyFrontend"); !strings.Contains(msg, "choose a port in 31800-31809") {
			t.Fatalf("the condition does not name the tenant's block: %s", msg)
		}
		updateExposure(t, alphaNS, "far", func(g *exposurev1alpha1.InferenceExposure) {
			g.Spec.HAProxy.GRPCFrontendPort = ptr.To[int32](31805)
		})
		waitConfig(t, opNS, "the frontend on a port of the block", func(cfg string) bool {
			return strings.Contains(cfg, "bind 10.0.100.70:31805  # "+alphaNS+"/far")
		})
	})
	t.Run("first come, first served", func(t *testing.T) {
		updateTenant(t, "hp-port-alpha", func(tn *exposurev1alpha1.InferenceTenant) {
			tn.Spec.HAProxy.GRPCFrontendPorts = &exposurev1alpha1.FrontendPortRange{Start: 9000, End: 9999}
		})
		victim := newExposure(betaNS, "victim", nil, ptr.To[int32](8001), nil)
		victim.Spec.HAProxy = &exposurev1alpha1.ExposureHAProxySpec{GRPCFrontendPort: ptr.To[int32](9100)}
		create(t, victim)
		waitConfig(t, opNS, "the first exposure's frontend", func(cfg string) bool {
			return strings.Contains(cfg, "bind 10.0.100.70:9100  # "+betaNS+"/victim")
		})
		evict := newExposure(alphaNS, "evict", nil, ptr.To[int32](8001), nil)
		evict.Spec.HAProxy = &exposurev1alpha1.ExposureHAProxySpec{GRPCFrontendPort: ptr.To[int32](9100)}
		create(t, evict)
		waitExposureCondition(t, alphaNS, "evict", "HAProxyFrontend", "False/BindConflict")
		cfg := waitConfig(t, opNS, "the first exposure keeps its port", func(cfg string) bool {
			return strings.Contains(cfg, "bind 10.0.100.70:9100  # "+betaNS+"/victim")
		})
		if strings.Contains(cfg, alphaNS+"/evict\n") {
			t.Fatalf("the later exposure took the port:\n%s", cfg)
		}
	})
}
