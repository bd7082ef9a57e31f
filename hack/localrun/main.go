// Command localrun is `make run` without a cluster: it starts a local control plane (the same
// kube-apiserver and etcd the tests use), installs the CRDs, applies config/samples, runs the
// operator in-process and shows what it made. Ctrl-C stops everything.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	exposurev1alpha1 "github.com/inference-exposure/inference-exposure-operator/api/v1alpha1"
	"github.com/inference-exposure/inference-exposure-operator/internal/allocator"
	"github.com/inference-exposure/inference-exposure-operator/internal/controller"
	"github.com/inference-exposure/inference-exposure-operator/internal/controller/haproxyconfig"
	"github.com/inference-exposure/inference-exposure-operator/internal/kubecache"
	"github.com/inference-exposure/inference-exposure-operator/internal/render/haproxy"
	"github.com/inference-exposure/inference-exposure-operator/test/testenv"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "localrun:", err)
		os.Exit(1)
	}
}

func say(format string, args ...any) { fmt.Printf("==> "+format+"\n", args...) }

func run() error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctrl.SetLogger(zap.New(zap.UseDevMode(false), zap.WriteTo(logFile())))

	say("starting a local control plane (kube-apiserver + etcd)")
	env, err := testenv.Start(true)
	if err != nil {
		return err
	}
	defer func() {
		say("stopping the control plane")
		_ = env.Stop()
	}()

	kubeconfig := filepath.Join(testenv.RepoRoot(), "bin", "local", "kubeconfig")
	if err := env.WriteKubeconfig("local-admin", kubeconfig); err != nil {
		return err
	}
	// The control plane goes with this process: so does the kubeconfig that points at it.
	defer func() { _ = os.Remove(kubeconfig) }()
	say("kubeconfig written: export KUBECONFIG=%s", kubeconfig)

	// kube-controller-manager makes the local control plane behave like a cluster: deleting an
	// exposure takes its Service and routing objects with it (garbage collector), deleting a
	// namespace finishes (namespace controller).
	kcmLog, err := os.Create(filepath.Join(filepath.Dir(kubeconfig), "kube-controller-manager.log"))
	if err != nil {
		return err
	}
	defer kcmLog.Close()
	kcm, err := env.StartControllerManager(filepath.Dir(kubeconfig), testenv.LocalControllers, kcmLog)
	if err != nil {
		say("no garbage collector or namespace controller (%v): deleted exposures leave their Services behind here", err)
	} else {
		say("kube-controller-manager running (garbage collector, namespace controller; logs: %s)", kcmLog.Name())
		defer kcm.Stop()
	}

	scheme := runtime.NewScheme()
	utilruntime.Must(controller.AddToScheme(scheme))
	c, err := client.New(env.Config, client.Options{Scheme: scheme})
	if err != nil {
		return err
	}

	say("creating sample nodes: gpu-1, gpu-2 (GPU workers), ingress-1, ingress-2 (ingress controller)")
	if err := createNodes(ctx, c); err != nil {
		return err
	}

	// What serves the samples' routes, where this machine allows it (root, network namespaces,
	// Traefik built into bin/).
	traefikBin, noDataPlane := dataPlaneUnavailable()
	if noDataPlane == "" {
		say("no OpenShift router runs here: removing the Route API, so that the Triton sample's router type Auto picks its nginx Ingress")
		if err := dropRouteAPI(ctx, c); err != nil {
			return err
		}
	}

	pool, _ := allocator.NewPool(30000, 32767)
	// The cache and REST mapper the operator binary uses, so that this run exercises them.
	mgr, err := ctrl.NewManager(env.Config, ctrl.Options{Scheme: scheme, Metrics: metricsserver.Options{BindAddress: "0"}, HealthProbeBindAddress: "0",
		Cache: kubecache.CacheOptions("default"), MapperProvider: kubecache.NewRESTMapper})
	if err != nil {
		return err
	}
	hp := &haproxyconfig.Settings{
		Namespace: "default", Name: "inference-exposure-haproxy",
		BackendNodes: labels.SelectorFromSet(labels.Set{"nvidia.com/gpu.present": "true"}),
		IngressNodes: labels.SelectorFromSet(labels.Set{"node-role.kubernetes.io/ingress": ""}),
		Globals: haproxy.Globals{IngressPort: 443, HTTPSPort: 443, StatsBind: "127.0.0.1:8404", Timeout: 300 * time.Second, HardStopAfter: 30 * time.Minute,
			ReservedPorts: haproxy.DefaultReservedPorts},
	}
	if err := controller.Setup(mgr, controller.Options{Pool: pool, DefaultBlockSize: 100, MaxConcurrent: 2, HAProxy: hp}); err != nil {
		return err
	}
	mgrDone := make(chan error, 1)
	go func() { mgrDone <- mgr.Start(ctx) }()
	say("operator running (logs: %s)", logPath())

	samples := filepath.Join("config", "samples")
	say("applying %s", samples)
	if err := applyDir(ctx, c, samples); err != nil {
		return err
	}

	var plane *dataPlane
	if noDataPlane == "" {
		say("starting the data plane: Traefik (ingress-nginx and Gateway API providers) and the samples' model servers in a network namespace")
		if plane, err = startDataPlane(ctx, env, c, traefikBin, filepath.Dir(kubeconfig)); err != nil {
			say("no data plane: %v", err)
			noDataPlane = err.Error()
		} else {
			defer func() { say("stopping the data plane"); plane.Stop() }()
		}
	}

	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) && !allReady(ctx, c) {
		time.Sleep(300 * time.Millisecond)
	}
	show(ctx, c, os.Stdout)
	if cfg, err := haproxyconfig.ReadConfig(ctx, c, *hp); err == nil {
		say("rendered HAProxy configuration (ConfigMap %s/%s and its shards %s-NN, in file order):", hp.Namespace, hp.Name, hp.Name)
		fmt.Println(cfg)
	}
	if plane != nil {
		if err := plane.waitServing(ctx); err != nil {
			say("the data plane is not serving yet (%v); the lines below work once it does", err)
		}
		say("the samples answer through Traefik (every host resolves to 127.0.0.1 here; TLS from a local CA):")
		for _, l := range plane.Howto() {
			fmt.Println("    " + l)
		}
	} else {
		say("nothing serves the samples' routes on this machine: %s", noDataPlane)
	}
	say("the operator keeps running: try `kubectl --kubeconfig %s get inferencetenants,inferenceexposures -A`", kubeconfig)
	say("press Ctrl-C to stop")

	select {
	case <-ctx.Done():
	case err := <-mgrDone:
		if err != nil {
			return err
		}
	}
	return nil
}

func createNodes(ctx context.Context, c client.Client) error {
	for _, n := range []struct {
		name, ip string
		labels   map[string]string
	}{
		{"gpu-1", "10.0.1.101", map[string]string{"nvidia.com/gpu.present": "true"}},
		{"gpu-2", "10.0.1.102", map[string]string{"nvidia.com/gpu.present": "true"}},
		{"ingress-1", "10.0.1.201", map[string]string{"node-role.kubernetes.io/ingress": ""}},
		{"ingress-2", "10.0.1.202", map[string]string{"node-role.kubernetes.io/ingress": ""}},
	} {
		node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: n.name, Labels: n.labels}}
		if err := c.Create(ctx, node); err != nil {
			return fmt.Errorf("creating node %s: %w", n.name, err)
		}
		node.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, LastHeartbeatTime: metav1.Now(), LastTransitionTime: metav1.Now()}}
		node.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: n.ip}}
		if err := c.Status().Update(ctx, node); err != nil {
			return fmt.Errorf("setting node %s ready: %w", n.name, err)
		}
	}
	return nil
}

func logPath() string { return filepath.Join(testenv.RepoRoot(), "bin", "local", "operator.log") }

func logFile() io.Writer {
	_ = os.MkdirAll(filepath.Dir(logPath()), 0o755)
	f, err := os.Create(logPath())
	if err != nil {
		return os.Stderr
	}
	return f
}

// applyDir creates every object of the YAML files in dir, namespaces first.
func applyDir(ctx context.Context, c client.Client, dir string) error {
	objs, err := testenv.ReadManifests(filepath.Join(dir, "*.yaml"))
	if err != nil {
		return err
	}
	sort.SliceStable(objs, func(i, j int) bool { return objs[i].GetKind() == "Namespace" && objs[j].GetKind() != "Namespace" })
	for _, o := range objs {
		if err := c.Create(ctx, o); err != nil {
			return fmt.Errorf("creating %s %s: %w", o.GetKind(), o.GetName(), err)
		}
		fmt.Printf("    created %s %s\n", strings.ToLower(o.GetKind()), nsName(o.GetNamespace(), o.GetName()))
	}
	return nil
}

func allReady(ctx context.Context, c client.Client) bool {
	var el exposurev1alpha1.InferenceExposureList
	if err := c.List(ctx, &el); err != nil || len(el.Items) == 0 {
		return false
	}
	for _, e := range el.Items {
		// Ready, or in place and waiting for an ingress controller, router or Gateway, which
		// this local run does not start: Ready then says what it waits for.
		if readyOf(e.Status.Conditions) != "True" && (e.Spec.Router == nil || readyOfType(e.Status.Conditions, exposurev1alpha1.ConditionRouted) == "") {
			return false
		}
	}
	var tl exposurev1alpha1.InferenceTenantList
	if err := c.List(ctx, &tl); err != nil {
		return false
	}
	for _, t := range tl.Items {
		if t.Spec.HAProxy != nil && !strings.HasPrefix(readyOfType(t.Status.Conditions, exposurev1alpha1.ConditionHAProxyConfigured), "True") {
			return false
		}
	}
	return true
}

func readyOfType(conds []metav1.Condition, typ string) string {
	for _, c := range conds {
		if c.Type == typ {
			return string(c.Status)
		}
	}
	return ""
}

func show(ctx context.Context, c client.Client, out io.Writer) {
	var tl exposurev1alpha1.InferenceTenantList
	var el exposurev1alpha1.InferenceExposureList
	_ = c.List(ctx, &tl)
	_ = c.List(ctx, &el)
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "\nTENANT\tBLOCK\tUSED\tFREE\tNAMESPACES\tREADY")
	for _, t := range tl.Items {
		block := "-"
		if b := t.Status.PortBlock; b != nil {
			block = fmt.Sprintf("%d-%d", b.Start, b.End)
		}
		fmt.Fprintf(w, "%s\t%s\t%d\t%d\t%s\t%s\n", t.Name, block, t.Status.PortsUsed, t.Status.PortsFree, strings.Join(t.Spec.Namespaces, ","), readyOf(t.Status.Conditions))
	}
	fmt.Fprintln(w, "\nEXPOSURE\tTENANT\tHTTP\tGRPC\tMETRICS\tREADY")
	for _, e := range el.Items {
		var h, g, m int32
		if np := e.Status.NodePorts; np != nil {
			h, g, m = np.HTTP, np.GRPC, np.Metrics
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", nsName(e.Namespace, e.Name), e.Status.Tenant, port(h), port(g), port(m), readyOf(e.Status.Conditions))
	}
	fmt.Fprintln(w, "\nSERVICE\tTYPE\tPORTS")
	for _, e := range el.Items {
		svc := &corev1.Service{}
		if err := c.Get(ctx, client.ObjectKey{Namespace: e.Namespace, Name: e.Name}, svc); err != nil {
			continue
		}
		var ps []string
		for _, p := range svc.Spec.Ports {
			ps = append(ps, fmt.Sprintf("%s %d:%d", p.Name, p.Port, p.NodePort))
		}
		fmt.Fprintf(w, "%s\t%s\t%s\n", nsName(svc.Namespace, svc.Name), svc.Spec.Type, strings.Join(ps, ", "))
	}
	fmt.Fprintln(w, "\nEXPOSURE\tROUTER\tURL\tGRPC (TLS)\tOBJECTS")
	for _, e := range el.Items {
		if e.Status.Router == nil {
			continue
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", nsName(e.Namespace, e.Name), e.Status.Router.Type, dash(e.Status.URL), dash(e.Status.GRPCAddress), strings.Join(e.Status.Router.Objects, ", "))
	}
	_ = w.Flush()
	fmt.Fprintln(out)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func readyOf(conds []metav1.Condition) string {
	for _, c := range conds {
		if c.Type == exposurev1alpha1.ConditionReady {
			if c.Status == "True" {
				return "True"
			}
			return fmt.Sprintf("%s (%s: %s)", c.Status, c.Reason, c.Message)
		}
	}
	return "Unknown"
}

func port(p int32) string {
	if p == 0 {
		return "-"
	}
	return fmt.Sprint(p)
}

func nsName(ns, name string) string {
	if ns == "" {
		return name
	}
	return ns + "/" + name
}
