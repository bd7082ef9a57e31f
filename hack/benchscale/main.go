// Command benchscale measures the operator at platform size on a local control plane (the
// real kube-apiserver and etcd the tests use, with the Service CIDR and NodePort range widened).
//
// In one run it creates the same Services and Ingresses directly with a parallel client (the
// floor: what the API server itself needs), deletes them, then starts the operator binary and
// creates N tenants x M exposures with the same client, and prints: the time to all Ready and
// its ratio to the direct time, first-Ready and p50/p99 latency, API requests by verb and
// resource (from the API server's /metrics), writes per exposure, Events, the time until the
// work queues are empty, writes during a steady state and after a restart, the time until the
// restarted operator's caches are synced, the HAProxy ConfigMap latency after a node joins,
// and the manager's RSS and CPU seconds.
//
//	go run ./hack/benchscale -tenants 20 -exposures 1000
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"text/tabwriter"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	exposurev1alpha1 "github.com/inference-exposure/inference-exposure-operator/api/v1alpha1"
	"github.com/inference-exposure/inference-exposure-operator/internal/allocator"
	"github.com/inference-exposure/inference-exposure-operator/internal/controller"
	"github.com/inference-exposure/inference-exposure-operator/internal/render/router"
	"github.com/inference-exposure/inference-exposure-operator/internal/render/service"
	"github.com/inference-exposure/inference-exposure-operator/test/testenv"
)

type config struct {
	tenants, exposures, nodes, workers, foreign int
	steady, settle, cpuProfileFor               time.Duration
	skipDirect, skipRestart, floor              bool
	operatorArgs                                string
	operatorMemLimit                            string
	cpuProfile, heapProfile                     string
	apiserverProfile                            string
}

const (
	poolStart, poolEnd = 30000, 59999
	haproxyNS          = "bench-system"
)

func main() {
	var c config
	flag.IntVar(&c.tenants, "tenants", 20, "tenants to create")
	flag.IntVar(&c.exposures, "exposures", 1000, "exposures to create in all, spread evenly over the tenants")
	flag.IntVar(&c.nodes, "nodes", 50, "GPU nodes (every HAProxy backend lists them)")
	flag.IntVar(&c.workers, "workers", 32, "parallel client requests, the same for the direct and the operator run")
	flag.DurationVar(&c.steady, "steady", 2*time.Minute, "steady-state window in which writes are counted")
	flag.DurationVar(&c.settle, "settle", 15*time.Second, "how long after a restart writes are counted")
	flag.BoolVar(&c.skipDirect, "skip-direct", false, "skip the direct-create baseline")
	flag.BoolVar(&c.floor, "floor", false, "also time the writes any operator needs, made directly: each exposure created, its Service and Ingresses, one status apply and one Event")
	flag.BoolVar(&c.skipRestart, "skip-restart", false, "skip the restart measurement")
	flag.IntVar(&c.foreign, "foreign", 0, "other applications in the cluster (not the operator's): a Service and an Ingress each, with the last-applied annotation kubectl apply leaves")
	flag.StringVar(&c.operatorArgs, "operator-args", "", "extra flags for the operator, space separated")
	flag.StringVar(&c.operatorMemLimit, "operator-memlimit", "", "GOMEMLIMIT for the operator (e.g. 200MiB), as the operator sets 90 % of a container's memory limit itself; empty: none")
	flag.StringVar(&c.cpuProfile, "cpuprofile", "", "write a CPU profile of the operator during the create phase to this file")
	flag.DurationVar(&c.cpuProfileFor, "cpuprofile-for", 30*time.Second, "how long the CPU profile runs (from 2 s into the create phase)")
	flag.StringVar(&c.apiserverProfile, "apiserver-cpuprofile", "", "write a CPU profile of kube-apiserver during the create phase to this file (as long as -cpuprofile-for)")
	flag.StringVar(&c.heapProfile, "heapprofile", "", "write a heap profile of the operator (after a GC) once its work queues are empty to this file, and one after the restart to the same name with .restart appended")
	flag.Parse()
	if err := run(c); err != nil {
		fmt.Fprintln(os.Stderr, "benchscale:", err)
		os.Exit(1)
	}
}

func say(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s ==> %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

// report collects the results, printed at the end as one table.
type report struct {
	rows [][2]string
}

func (r *report) add(k, format string, args ...any) {
	r.rows = append(r.rows, [2]string{k, fmt.Sprintf(format, args...)})
	say("%s: %s", k, fmt.Sprintf(format, args...))
}

func run(c config) error {
	ctx := context.Background()
	if c.tenants <= 0 || c.exposures < c.tenants {
		return fmt.Errorf("need at least one exposure per tenant")
	}
	if c.foreign < 0 || c.cpuProfileFor <= 0 {
		return fmt.Errorf("-foreign must be 0 or more and -cpuprofile-for positive")
	}
	perTenant := (c.exposures + c.tenants - 1) / c.tenants
	g := int(allocator.Granule)
	blockSize := int32((3*perTenant+g-1)/g*g + g) // a granule of headroom when it fits
	if int(blockSize)*c.tenants > poolEnd-poolStart+1 {
		blockSize -= int32(g)
	}
	if int(blockSize)*c.tenants > poolEnd-poolStart+1 {
		return fmt.Errorf("%d tenants x %d ports do not fit the pool %d-%d", c.tenants, blockSize, poolStart, poolEnd)
	}

	say("building the operator")
	root := testenv.RepoRoot()
	bin := filepath.Join(root, "bin", "manager")
	if out, err := exec.Command("go", "build", "-o", bin, "./cmd").CombinedOutput(); err != nil {
		return fmt.Errorf("building the operator: %v\n%s", err, out)
	}

	say("starting a local control plane (Service CIDR /16, NodePorts %d-%d)", poolStart, poolEnd)
	env, err := testenv.StartWith(true, map[string]string{
		"service-cluster-ip-range": "10.96.0.0/16",
		"service-node-port-range":  fmt.Sprintf("%d-%d", poolStart, poolEnd),
	})
	if err != nil {
		return err
	}
	defer func() { _ = env.Stop() }()
	cfg := rest.CopyConfig(env.Config)
	cfg.QPS, cfg.Burst = 2000, 4000
	scheme := runtime.NewScheme()
	utilruntime.Must(controller.AddToScheme(scheme))
	cl, err := client.NewWithWatch(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return err
	}
	cs := kubernetes.NewForConfigOrDie(cfg)
	kubeconfig := filepath.Join(root, "bin", "bench", "kubeconfig")
	if err := env.WriteKubeconfig("bench-admin", kubeconfig); err != nil {
		return err
	}

	rep := &report{}
	rep.add("size", "%d tenants x %d exposures (%d per tenant, blocks of %d), %d GPU nodes, %d client workers", c.tenants, c.exposures, perTenant, blockSize, c.nodes, c.workers)
	if err := createNodes(ctx, cl, c.nodes); err != nil {
		return err
	}
	// The class of the exposures' Ingresses. No ingress controller runs here: the platform
	// marks the class as writing no status, so exposures are Ready once their objects are in
	// place, with IngressReady NotConfirmed.
	if err := cl.Create(ctx, &networkingv1.IngressClass{ObjectMeta: metav1.ObjectMeta{Name: "nginx",
		Annotations: map[string]string{exposurev1alpha1.AnnotationReportsStatus: "false"}}, Spec: networkingv1.IngressClassSpec{Controller: "k8s.io/ingress-nginx"}}); err != nil {
		return err
	}
	for _, ns := range append(namespaces("bench", c.tenants), haproxyNS) {
		if err := cl.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
			return err
		}
	}
	plan := planExposures(c, perTenant)
	if c.foreign > 0 {
		if err := createForeignApps(ctx, cl, c); err != nil {
			return err
		}
		rep.add("other applications", "%d Services and %d Ingresses, created before the operator starts", c.foreign, c.foreign)
	}

	cp := findControlPlane()
	var direct time.Duration
	if !c.skipDirect {
		var cpuDirect string
		if direct, cpuDirect, err = directCreate(ctx, cl, c, plan, blockSize, cp); err != nil {
			return err
		}
		rep.add("direct create", "%s for %d Services and their Ingresses (%.0f exposures/s)", round(direct), len(plan), float64(len(plan))/direct.Seconds())
		rep.add("control plane CPU, direct create", "%s", cpuDirect)
	}
	var floor time.Duration
	if c.floor {
		var cpuFloor string
		if floor, cpuFloor, err = floorCreate(ctx, cl, c, plan, blockSize, cp); err != nil {
			return err
		}
		rep.add("floor: the operator's writes made directly", "%s: each exposure, its Service and Ingresses, one status apply, one Event", round(floor))
		rep.add("control plane CPU, floor", "%s", cpuFloor)
	}

	// The operator.
	op, err := startOperator(kubeconfig, bin, c.operatorArgs, c.operatorMemLimit, "first")
	if err != nil {
		return err
	}
	defer op.stop()
	say("operator started (pid %d)", op.cmd.Process.Pid)

	before, err := scrapeAPIServer(ctx, cs)
	if err != nil {
		return err
	}
	readyAt := newReadyTracker()
	watchCtx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	go readyAt.watch(watchCtx, cl)

	var profileDone chan error
	if c.cpuProfile != "" {
		profileDone = make(chan error, 1)
		go func() { profileDone <- op.profile(c.cpuProfile, c.cpuProfileFor) }()
	}

	var apiProfileDone chan error
	if c.apiserverProfile != "" {
		apiProfileDone = make(chan error, 1)
		go func() {
			time.Sleep(2 * time.Second)
			body, err := cs.CoreV1().RESTClient().Get().AbsPath("/debug/pprof/profile").
				Param("seconds", strconv.Itoa(int(c.cpuProfileFor.Seconds()))).Timeout(c.cpuProfileFor + time.Minute).DoRaw(ctx)
			if err == nil {
				err = os.WriteFile(c.apiserverProfile, body, 0o644)
			}
			apiProfileDone <- err
		}()
	}

	start := time.Now()
	cpu0 := op.cpuSeconds()
	api0, etcd0 := cp.cpu()
	say("creating %d tenants and %d exposures", c.tenants, len(plan))
	for t := range c.tenants {
		if err := cl.Create(ctx, tenantObject(t, blockSize)); err != nil {
			return err
		}
	}
	if err := parallel(c.workers, len(plan), func(i int) error {
		e := plan[i].DeepCopy()
		readyAt.markCreated(e.Namespace+"/"+e.Name, time.Now())
		return cl.Create(ctx, e)
	}); err != nil {
		return err
	}
	created := time.Since(start)
	if err := readyAt.waitAll(len(plan), 30*time.Minute); err != nil {
		return err
	}
	allReady := time.Since(start)
	cpuCreate := op.cpuSeconds() - cpu0
	cpuControlPlane := cp.since(api0, etcd0, len(plan))
	rep.add("operator, all Ready", "%s (exposures created in %s)", round(allReady), round(created))
	if direct > 0 {
		rep.add("ratio to direct", "%.2fx", allReady.Seconds()/direct.Seconds())
	}
	if floor > 0 {
		rep.add("ratio to the floor", "%.2fx (the floor is %.2fx the direct create)", allReady.Seconds()/floor.Seconds(), floor.Seconds()/direct.Seconds())
	}
	first, p50, p99 := readyAt.latencies()
	rep.add("latency create->Ready", "first %s, p50 %s, p99 %s", round(first), round(p50), round(p99))
	rep.add("manager CPU, create phase", "%.1f s, %.1f ms per exposure", cpuCreate, 1000*cpuCreate/float64(len(plan)))
	rep.add("control plane CPU, create phase", "%s", cpuControlPlane)

	drained, depth := op.waitQueuesEmpty(2 * time.Minute)
	rep.add("work queues empty", "%s after all Ready (depth %d)", round(drained), depth)
	if c.heapProfile != "" {
		if err := op.fetchPprof(c.heapProfile, "heap?gc=1"); err != nil {
			say("heap profile: %v", err)
		}
	}
	if c.cpuProfile != "" {
		if err := <-profileDone; err != nil {
			say("profile: %v", err)
		}
	}
	if c.apiserverProfile != "" {
		if err := <-apiProfileDone; err != nil {
			say("kube-apiserver profile: %v", err)
		}
	}

	after, err := scrapeAPIServer(ctx, cs)
	if err != nil {
		return err
	}
	d := after.minus(before)
	printRequests(d)
	writes := d.operatorWrites()
	rep.add("operator writes per exposure", "%.2f (%s)", float64(writes.total())/float64(len(plan)), writes.String(len(plan)))
	// Issue 9 asks that these grow with tenants, not exposures.
	rep.add("tenant status writes per tenant", "%.1f", (writes[[3]string{"APPLY", "inferencetenants", "status"}]+writes[[3]string{"PATCH", "inferencetenants", "status"}])/float64(c.tenants))
	normal, warning, reasons, err := countEvents(ctx, cl)
	if err != nil {
		return err
	}
	rep.add("Events per exposure", "Normal %.2f, Warning %.2f (%s)", float64(normal)/float64(len(plan)), float64(warning)/float64(len(plan)), reasons)
	rep.add("manager RSS", "%s", op.memory())
	if m, err := op.metrics(); err == nil {
		n, sum := m["inference_exposure_haproxy_render_seconds_count"], m["inference_exposure_haproxy_render_seconds_sum"]
		var recs []string
		for k, v := range m {
			if strings.HasPrefix(k, "controller_runtime_reconcile_total{") && v > 0 {
				l := labels(k)
				recs = append(recs, fmt.Sprintf("%s %s %.2f", l["controller"], l["result"], v/float64(len(plan))))
			}
		}
		sort.Strings(recs)
		rep.add("reconciles per exposure, create phase", "%s", strings.Join(recs, ", "))
		if n > 0 {
			rep.add("HAProxy renders that wrote, create phase", "%.0f, %.0f ms each on average (writes included)", n, 1000*sum/n)
		}
	}

	// Steady state.
	if c.steady > 0 {
		// Tenant usage figures are batched (written up to 5 s after the last Service
		// changed): they belong to the create phase, so the window opens 10 s later.
		time.Sleep(10 * time.Second)
		s0, _ := scrapeAPIServer(ctx, cs)
		cpuS := op.cpuSeconds()
		say("steady state for %s", c.steady)
		time.Sleep(c.steady)
		s1, _ := scrapeAPIServer(ctx, cs)
		w := s1.minus(s0).operatorWrites()
		rep.add("steady-state writes", "%d in %s from 10 s after the queues emptied (%s); manager CPU %.1f s", w.total(), c.steady, w.String(0), op.cpuSeconds()-cpuS)
	}

	// A node joins: how soon is it in the HAProxy configuration?
	lat, err := nodeJoin(ctx, cl, c.nodes)
	if err != nil {
		rep.add("node join -> HAProxy ConfigMap", "failed: %v", err)
	} else {
		rep.add("node join -> HAProxy ConfigMap", "%s", lat.Round(time.Millisecond))
	}
	sizes, err := configMapSizes(ctx, cl)
	if err == nil {
		rep.add("HAProxy ConfigMaps", "%s", sizes)
	}
	rep.add("manager RSS at the end of the first run", "%s", op.memory())

	// Restart, once the node join has settled.
	if !c.skipRestart {
		op.waitQueuesEmpty(time.Minute)
		say("restarting the operator")
		op.stop()
		r0, _ := scrapeAPIServer(ctx, cs)
		op2, err := startOperator(kubeconfig, bin, c.operatorArgs, c.operatorMemLimit, "restart")
		if err != nil {
			return err
		}
		defer op2.stop()
		synced, err := op2.waitSynced(5 * time.Minute)
		if err != nil {
			rep.add("restart: caches synced", "failed: %v", err)
		} else {
			rep.add("restart: caches synced", "%s after the process started", round(synced))
		}
		drained, depth := op2.waitQueuesEmpty(2 * time.Minute)
		rep.add("restart: work queues empty", "%s after sync (depth %d)", round(drained), depth)
		time.Sleep(c.settle)
		r1, _ := scrapeAPIServer(ctx, cs)
		w := r1.minus(r0).operatorWrites()
		rep.add("restart: writes", "%d (%s) in the %s after the restart", w.total(), w.String(0), round(time.Since(op2.started)))
		rep.add("restart: manager RSS / CPU", "%s, %.1f CPU-s", op2.memory(), op2.cpuSeconds())
		rep.add("restart: initial reads", "%s", r1.minus(r0).initialReads())
		if c.heapProfile != "" {
			// alloc_space of this profile shows what the restart allocated on its way to synced caches.
			if err := op2.fetchPprof(c.heapProfile+".restart", "heap?gc=1"); err != nil {
				return err
			}
		}
	}

	fmt.Println()
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "| measured\t| result\t|")
	fmt.Fprintln(tw, "|---\t|---\t|")
	for _, r := range rep.rows {
		fmt.Fprintf(tw, "| %s\t| %s\t|\n", r[0], r[1])
	}
	return tw.Flush()
}

func round(d time.Duration) time.Duration {
	if d > 10*time.Second {
		return d.Round(100 * time.Millisecond)
	}
	return d.Round(time.Millisecond)
}

func namespaces(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s-t%03d", prefix, i)
	}
	return out
}

func tenantName(t int) string { return fmt.Sprintf("t%03d", t) }

func tenantObject(t int, size int32) *exposurev1alpha1.InferenceTenant {
	return &exposurev1alpha1.InferenceTenant{
		ObjectMeta: metav1.ObjectMeta{Name: tenantName(t)},
		Spec: exposurev1alpha1.InferenceTenantSpec{
			Namespaces: []string{fmt.Sprintf("bench-t%03d", t)},
			PortBlock:  &exposurev1alpha1.PortBlockSpec{Size: ptr.To(size)},
			HostDomain: fmt.Sprintf("%s.bench.example.com", tenantName(t)),
			HAProxy:    &exposurev1alpha1.TenantHAProxySpec{VIP: fmt.Sprintf("10.200.%d.%d", t/250, t%250+1), CertificatePath: fmt.Sprintf("/etc/haproxy/certs/%s.pem", tenantName(t))},
		},
	}
}

// planExposures returns the exposures to create: Triton-like (http, grpc, metrics) behind an
// nginx Ingress pair, spread evenly over the tenants.
func planExposures(c config, perTenant int) []*exposurev1alpha1.InferenceExposure {
	var out []*exposurev1alpha1.InferenceExposure
	for i := range c.exposures {
		t := i % c.tenants
		out = append(out, &exposurev1alpha1.InferenceExposure{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("model-%05d", i/c.tenants), Namespace: fmt.Sprintf("bench-t%03d", t)},
			Spec: exposurev1alpha1.InferenceExposureSpec{
				Selector: map[string]exposurev1alpha1.LabelValue{"app": exposurev1alpha1.LabelValue(fmt.Sprintf("model-%05d", i/c.tenants))},
				Ports:    exposurev1alpha1.ExposurePorts{HTTP: ptr.To[int32](8000), GRPC: ptr.To[int32](8001), Metrics: ptr.To[int32](8002)},
				Router: &exposurev1alpha1.RouterSpec{
					Type:    exposurev1alpha1.RouterIngress,
					GRPC:    ptr.To(true),
					Ingress: &exposurev1alpha1.IngressSettings{ClassName: "nginx"},
				},
			},
		})
	}
	_ = perTenant
	return out
}

// directCreate creates the Services and Ingresses the operator would make, with the same
// parallel client, in namespaces of their own; then removes them again so that the operator
// run starts from the same cluster.
func directCreate(ctx context.Context, cl client.Client, c config, plan []*exposurev1alpha1.InferenceExposure, blockSize int32, cp controlPlane) (time.Duration, string, error) {
	if err := createNamespaces(ctx, cl, "direct", c.tenants); err != nil {
		return 0, "", err
	}
	work := make([][]client.Object, len(plan))
	for i := range plan {
		b, err := planChildren(c, plan, i, "direct", blockSize)
		if err != nil {
			return 0, "", err
		}
		work[i] = b.children
	}
	say("direct: creating %d Services and their Ingresses", len(plan))
	start := time.Now()
	api0, etcd0 := cp.cpu()
	if err := parallel(c.workers, len(work), func(i int) error {
		for _, o := range work[i] {
			if err := cl.Create(ctx, o); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		return 0, "", err
	}
	took := time.Since(start)
	cpu := cp.since(api0, etcd0, len(plan))
	say("direct: removing them again")
	return took, cpu, removeAll(ctx, cl, c.workers, work)
}

// baseline is one exposure's objects for a phase without the operator, in namespaces of their
// own: the exposure, and its Service and Ingresses as the operator would build them (node
// ports laid out in the tenant's block) without owner references.
type baseline struct {
	exp      *exposurev1alpha1.InferenceExposure
	in       router.Input
	base     int32 // the first of its three node ports
	children []client.Object
}

func planChildren(c config, plan []*exposurev1alpha1.InferenceExposure, i int, prefix string, blockSize int32) (baseline, error) {
	t := i % c.tenants
	e := plan[i].DeepCopy()
	e.Namespace = prefix + strings.TrimPrefix(e.Namespace, "bench")
	base := poolStart + int32(t)*blockSize + int32(3*(i/c.tenants))
	svc := service.Build(e, tenantName(t), map[string]int32{allocator.PortHTTP: base, allocator.PortGRPC: base + 1, allocator.PortMetrics: base + 2})
	host, grpcHost, err := router.Hosts(e, router.HostPolicy{Domain: fmt.Sprintf("%s.bench.example.com", tenantName(t))})
	if err != nil {
		return baseline{}, err
	}
	in := router.Input{Exposure: e, Tenant: tenantName(t), Type: exposurev1alpha1.RouterIngress, Host: host, GRPCHost: grpcHost}
	routes, err := router.Build(in)
	if err != nil {
		return baseline{}, err
	}
	children := append([]client.Object{svc}, routes...)
	for _, o := range children {
		o.SetOwnerReferences(nil)
	}
	return baseline{exp: e, in: in, base: base, children: children}, nil
}

func createNamespaces(ctx context.Context, cl client.Client, prefix string, n int) error {
	for _, ns := range namespaces(prefix, n) {
		if err := cl.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
			return err
		}
	}
	return nil
}

// removeAll deletes the objects of a phase without the operator again, before it starts.
func removeAll(ctx context.Context, cl client.Client, workers int, groups [][]client.Object) error {
	return parallel(workers, len(groups), func(i int) error {
		for _, o := range groups[i] {
			if err := cl.Delete(ctx, o); client.IgnoreNotFound(err) != nil {
				return err
			}
		}
		return nil
	})
}

// floorCreate makes, with the same client and workers, the writes that any operator of this
// design needs for each exposure, without the operator: the exposure itself, its Service and
// Ingresses, one server-side apply of a Ready status and one Event. What the API server needs
// for these bounds how close to the direct create the operator can come; the objects are
// deleted again before the operator starts.
func floorCreate(ctx context.Context, cl client.Client, c config, plan []*exposurev1alpha1.InferenceExposure, blockSize int32, cp controlPlane) (time.Duration, string, error) {
	if err := createNamespaces(ctx, cl, "floor", c.tenants); err != nil {
		return 0, "", err
	}
	type work struct {
		baseline
		status map[string]any
	}
	all := make([]work, len(plan))
	now := metav1.Now()
	for i := range plan {
		b, err := planChildren(c, plan, i, "floor", blockSize)
		if err != nil {
			return 0, "", err
		}
		e, base, tenant := b.exp, b.base, b.in.Tenant
		keys := router.Keys(b.children[1:])
		// A status like the one the operator writes once an exposure is Ready.
		cond := func(typ, reason, msg string) metav1.Condition {
			return metav1.Condition{Type: typ, Status: metav1.ConditionTrue, ObservedGeneration: 1, LastTransitionTime: now, Reason: reason, Message: msg}
		}
		st := exposurev1alpha1.InferenceExposureStatus{
			ObservedGeneration: 1, Tenant: tenant, ServiceName: e.Name,
			NodePorts: &exposurev1alpha1.NodePorts{HTTP: base, GRPC: base + 1, Metrics: base + 2},
			URL:       router.URL(b.in), GRPCAddress: router.GRPCAddress(b.in),
			Router: &exposurev1alpha1.RouterStatus{Type: exposurev1alpha1.RouterIngress, Host: b.in.Host, Objects: keys},
			Conditions: []metav1.Condition{
				cond(exposurev1alpha1.ConditionTenantResolved, "Resolved", "namespace "+e.Namespace+" belongs to tenant "+tenant),
				cond(exposurev1alpha1.ConditionPortsAllocated, "Allocated", fmt.Sprintf("node ports %d, %d, %d from the tenant's block", base, base+1, base+2)),
				cond(exposurev1alpha1.ConditionServiceReady, "Applied", "Service "+e.Name+" is in place"),
				cond(exposurev1alpha1.ConditionIngressReady, exposurev1alpha1.ReasonNotConfirmed, "no ingress controller has published an address for Ingress "+e.Name+" yet; IngressClass nginx says its controller writes no status (exposure.inference.dev/reports-status: \"false\"), so no data plane has confirmed it"),
				cond(exposurev1alpha1.ConditionGRPCIngressReady, exposurev1alpha1.ReasonNotConfirmed, "no ingress controller has published an address for Ingress "+e.Name+"-grpc yet; IngressClass nginx says its controller writes no status (exposure.inference.dev/reports-status: \"false\"), so no data plane has confirmed it"),
				cond(exposurev1alpha1.ConditionRouted, "Applied", "Ingress routing in place: "+strings.Join(keys, ", ")),
				cond(exposurev1alpha1.ConditionReady, "Ready", "the Service and its routing are in place"),
			},
		}
		status, err := runtime.DefaultUnstructuredConverter.ToUnstructured(&st)
		if err != nil {
			return 0, "", err
		}
		all[i] = work{baseline: b, status: status}
	}
	say("floor: creating %d exposures, their Services and Ingresses, a status and an Event each", len(plan))
	start := time.Now()
	api0, etcd0 := cp.cpu()
	if err := parallel(c.workers, len(all), func(i int) error {
		w := all[i]
		e := w.exp.DeepCopy()
		if err := cl.Create(ctx, e); err != nil {
			return err
		}
		for _, o := range w.children {
			if err := cl.Create(ctx, o); err != nil {
				return err
			}
		}
		u := &unstructured.Unstructured{Object: map[string]any{
			"metadata": map[string]any{"name": e.Name, "namespace": e.Namespace, "uid": string(e.UID), "resourceVersion": e.ResourceVersion},
			"status":   w.status,
		}}
		u.SetGroupVersionKind(exposurev1alpha1.GroupVersion.WithKind("InferenceExposure"))
		if err := cl.Status().Apply(ctx, client.ApplyConfigurationFromUnstructured(u), client.FieldOwner(exposurev1alpha1.FieldManager), client.ForceOwnership); err != nil {
			return err
		}
		return cl.Create(ctx, &corev1.Event{
			ObjectMeta:     metav1.ObjectMeta{GenerateName: e.Name + ".", Namespace: e.Namespace},
			InvolvedObject: corev1.ObjectReference{APIVersion: exposurev1alpha1.GroupVersion.String(), Kind: "InferenceExposure", Namespace: e.Namespace, Name: e.Name, UID: e.UID, ResourceVersion: e.ResourceVersion},
			Reason:         "PortsAllocated", Message: fmt.Sprintf("node ports from the block of tenant %s", w.in.Tenant),
			Type: corev1.EventTypeNormal, Source: corev1.EventSource{Component: exposurev1alpha1.FieldManager},
			FirstTimestamp: now, LastTimestamp: now, Count: 1,
		})
	}); err != nil {
		return 0, "", err
	}
	took := time.Since(start)
	cpu := cp.since(api0, etcd0, len(plan))
	say("floor: removing them again")
	groups := make([][]client.Object, len(all))
	for i, w := range all {
		groups[i] = append([]client.Object{w.exp}, w.children...)
	}
	return took, cpu, removeAll(ctx, cl, c.workers, groups)
}

// createForeignApps makes the cluster look like one that runs other applications: their
// Services and Ingresses are none of the operator's business, and it should not pay memory
// for them.
func createForeignApps(ctx context.Context, cl client.Client, c config) error {
	const ns = "apps"
	if err := cl.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		return err
	}
	say("creating %d Services and Ingresses of other applications", c.foreign)
	// lastApplied adds the copy of the object that kubectl apply keeps in an annotation.
	lastApplied := func(o client.Object, gvk schema.GroupVersionKind) error {
		o.GetObjectKind().SetGroupVersionKind(gvk)
		b, err := json.Marshal(o)
		if err != nil {
			return err
		}
		o.SetAnnotations(map[string]string{corev1.LastAppliedConfigAnnotation: string(b), "owner": "shop-team"})
		return nil
	}
	return parallel(c.workers, c.foreign, func(i int) error {
		name := fmt.Sprintf("app-%05d", i)
		labels := map[string]string{"app.kubernetes.io/name": name, "app.kubernetes.io/part-of": "shop"}
		svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labels},
			Spec: corev1.ServiceSpec{Selector: labels, Ports: []corev1.ServicePort{{Name: "http", Port: 8080, TargetPort: intstr.FromString("http")}}}}
		prefix := networkingv1.PathTypePrefix
		ing := &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labels},
			Spec: networkingv1.IngressSpec{IngressClassName: ptr.To("nginx"), Rules: []networkingv1.IngressRule{{Host: name + ".apps.example.com",
				IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{Paths: []networkingv1.HTTPIngressPath{{
					Path: "/", PathType: &prefix, Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: name, Port: networkingv1.ServiceBackendPort{Number: 8080}}}}}}}}},
				TLS: []networkingv1.IngressTLS{{Hosts: []string{name + ".apps.example.com"}, SecretName: name + "-tls"}}}}
		if err := lastApplied(svc, corev1.SchemeGroupVersion.WithKind("Service")); err != nil {
			return err
		}
		if err := lastApplied(ing, networkingv1.SchemeGroupVersion.WithKind("Ingress")); err != nil {
			return err
		}
		if err := cl.Create(ctx, svc); err != nil {
			return err
		}
		return cl.Create(ctx, ing)
	})
}

// parallel runs f(0..n-1) on w workers and returns the first error.
func parallel(w, n int, f func(int) error) error {
	var next atomic.Int64
	var once sync.Once
	var first error
	var wg sync.WaitGroup
	for range w {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := f(i); err != nil {
					once.Do(func() { first = err })
					return
				}
			}
		}()
	}
	wg.Wait()
	return first
}

func createNodes(ctx context.Context, cl client.Client, n int) error {
	for i := range n {
		if err := createNode(ctx, cl, fmt.Sprintf("gpu-%03d", i), fmt.Sprintf("10.1.%d.%d", i/250, i%250+1), map[string]string{"nvidia.com/gpu.present": "true"}); err != nil {
			return err
		}
	}
	for i := range 4 {
		if err := createNode(ctx, cl, fmt.Sprintf("ingress-%d", i), fmt.Sprintf("10.2.0.%d", i+1), map[string]string{"node-role.kubernetes.io/ingress": ""}); err != nil {
			return err
		}
	}
	return nil
}

func createNode(ctx context.Context, cl client.Client, name, ip string, labels map[string]string) error {
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
	if err := cl.Create(ctx, n); err != nil {
		return err
	}
	n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, LastHeartbeatTime: metav1.Now(), LastTransitionTime: metav1.Now()}}
	n.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: ip}}
	return cl.Status().Update(ctx, n)
}

// nodeJoin adds a GPU node and returns how long until a HAProxy ConfigMap lists it.
func nodeJoin(ctx context.Context, cl client.WithWatch, nodes int) (time.Duration, error) {
	ip := fmt.Sprintf("10.1.%d.%d", nodes/250, nodes%250+1)
	ipRE := regexp.MustCompile(` ` + regexp.QuoteMeta(ip) + `([: \n]|$)`)
	var cml corev1.ConfigMapList
	if err := cl.List(ctx, &cml, client.InNamespace(haproxyNS)); err != nil {
		return 0, err
	}
	w, err := cl.Watch(ctx, &corev1.ConfigMapList{}, client.InNamespace(haproxyNS), &client.ListOptions{Raw: &metav1.ListOptions{ResourceVersion: cml.ResourceVersion}})
	if err != nil {
		return 0, err
	}
	defer w.Stop()
	start := time.Now()
	if err := createNode(ctx, cl, fmt.Sprintf("gpu-%03d", nodes), ip, map[string]string{"nvidia.com/gpu.present": "true"}); err != nil {
		return 0, err
	}
	// Done when every ConfigMap holding tenants lists the node.
	content := map[string]string{}
	for _, cm := range cml.Items {
		for _, v := range cm.Data {
			content[cm.Name] = v
		}
	}
	done := func() bool {
		for _, v := range content {
			if strings.Contains(v, "\n# tenant ") && !ipRE.MatchString(v) {
				return false
			}
		}
		return true
	}
	timeout := time.After(2 * time.Minute)
	for {
		select {
		case ev, ok := <-w.ResultChan():
			if !ok {
				return 0, fmt.Errorf("watch closed")
			}
			if cm, isCM := ev.Object.(*corev1.ConfigMap); isCM && ev.Type != watch.Deleted {
				for _, v := range cm.Data {
					content[cm.Name] = v
				}
				if done() {
					return time.Since(start), nil
				}
			}
		case <-timeout:
			return 0, fmt.Errorf("node %s not in every HAProxy ConfigMap after 2m", ip)
		}
	}
}

func configMapSizes(ctx context.Context, cl client.Client) (string, error) {
	var cml corev1.ConfigMapList
	if err := cl.List(ctx, &cml, client.InNamespace(haproxyNS)); err != nil {
		return "", err
	}
	total, largest, n := 0, 0, 0
	for _, cm := range cml.Items {
		if cm.Labels[exposurev1alpha1.LabelManagedBy] != exposurev1alpha1.ManagedByValue {
			continue
		}
		size := 0
		for _, v := range cm.Data {
			size += len(v)
		}
		n++
		total += size
		largest = max(largest, size)
	}
	return fmt.Sprintf("%d ConfigMaps, %d KiB in all, largest %d KiB", n, total/1024, largest/1024), nil
}

// readyTracker records when each exposure was created and when it first turned Ready.
type readyTracker struct {
	mu      sync.Mutex
	created map[string]time.Time
	ready   map[string]time.Time
	changed chan struct{}
}

func newReadyTracker() *readyTracker {
	return &readyTracker{created: map[string]time.Time{}, ready: map[string]time.Time{}, changed: make(chan struct{}, 1)}
}

func (r *readyTracker) markCreated(key string, t time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.created[key] = t
}

func (r *readyTracker) watch(ctx context.Context, cl client.WithWatch) {
	for ctx.Err() == nil {
		var el exposurev1alpha1.InferenceExposureList
		if err := cl.List(ctx, &el); err != nil {
			time.Sleep(time.Second)
			continue
		}
		for i := range el.Items {
			r.observe(&el.Items[i])
		}
		w, err := cl.Watch(ctx, &exposurev1alpha1.InferenceExposureList{}, &client.ListOptions{Raw: &metav1.ListOptions{ResourceVersion: el.ResourceVersion, AllowWatchBookmarks: true}})
		if err != nil {
			time.Sleep(time.Second)
			continue
		}
		for ev := range w.ResultChan() {
			if e, ok := ev.Object.(*exposurev1alpha1.InferenceExposure); ok {
				r.observe(e)
			}
		}
		w.Stop()
	}
}

func (r *readyTracker) observe(e *exposurev1alpha1.InferenceExposure) {
	if !meta.IsStatusConditionTrue(e.Status.Conditions, exposurev1alpha1.ConditionReady) {
		return
	}
	key := e.Namespace + "/" + e.Name
	r.mu.Lock()
	if _, ok := r.ready[key]; !ok {
		r.ready[key] = time.Now()
	}
	r.mu.Unlock()
	select {
	case r.changed <- struct{}{}:
	default:
	}
}

func (r *readyTracker) waitAll(n int, timeout time.Duration) error {
	deadline := time.After(timeout)
	tick := time.NewTicker(10 * time.Second)
	defer tick.Stop()
	for {
		r.mu.Lock()
		got := len(r.ready)
		r.mu.Unlock()
		if got >= n {
			return nil
		}
		select {
		case <-r.changed:
		case <-tick.C:
			say("%d of %d exposures Ready", got, n)
		case <-deadline:
			return fmt.Errorf("only %d of %d exposures Ready after %s", got, n, timeout)
		}
	}
}

func (r *readyTracker) latencies() (first, p50, p99 time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var start time.Time
	var lat []time.Duration
	for k, rt := range r.ready {
		ct, ok := r.created[k]
		if !ok {
			continue
		}
		if start.IsZero() || ct.Before(start) {
			start = ct
		}
		lat = append(lat, max(0, rt.Sub(ct)))
	}
	if len(lat) == 0 {
		return 0, 0, 0
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	for _, rt := range r.ready {
		if first == 0 || rt.Sub(start) < first {
			first = rt.Sub(start)
		}
	}
	return first, lat[len(lat)/2], lat[min(len(lat)-1, len(lat)*99/100)]
}

// operator is a running manager process.
type operator struct {
	cmd                  *exec.Cmd
	started              time.Time
	metricsAddr, logPath string
	done                 chan struct{}
	// peakAnon is the highest RssAnon sampled (KiB): VmHWM also counts the binary's mapped
	// pages, which the kernel can drop and which do not grow with the cluster.
	peakAnon atomic.Int64
}

// sampleAnon records the operator's anonymous RSS every 200 ms until it exits.
func (o *operator) sampleAnon() {
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for {
		if a := o.procStatus("RssAnon"); a > o.peakAnon.Load() {
			o.peakAnon.Store(a)
		}
		select {
		case <-o.done:
			return
		case <-t.C:
		}
	}
}

// memory describes the RSS now and at its peak, with the anonymous part (the heap, stacks and
// runtime) apart from the binary's file-backed pages.
func (o *operator) memory() string {
	return fmt.Sprintf("%d MiB now (anon %d, file %d), %d MiB peak (anon peak %d)",
		o.rss()/1024, o.procStatus("RssAnon")/1024, o.procStatus("RssFile")/1024, o.peakRSS()/1024, o.peakAnon.Load()/1024)
}

func freePort() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func startOperator(kubeconfig, bin, extra, memLimit, name string) (*operator, error) {
	op := &operator{metricsAddr: freePort(), logPath: filepath.Join(filepath.Dir(kubeconfig), "operator-"+name+".log"), done: make(chan struct{})}
	args := []string{
		"--metrics-bind-address=" + op.metricsAddr, "--metrics-secure=false", "--health-probe-bind-address=" + freePort(), "--pprof-bind-address=" + pprofAddr(op),
		fmt.Sprintf("--node-port-range=%d-%d", poolStart, poolEnd), "--haproxy-configmap-namespace=" + haproxyNS,
		"--haproxy-backend-node-selector=nvidia.com/gpu.present=true",
	}
	args = append(args, strings.Fields(extra)...)
	logf, err := os.Create(op.logPath)
	if err != nil {
		return nil, err
	}
	op.cmd = exec.Command(bin, args...)
	op.cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig)
	if memLimit != "" {
		op.cmd.Env = append(op.cmd.Env, "GOMEMLIMIT="+memLimit)
	}
	op.cmd.Stdout, op.cmd.Stderr = logf, logf
	op.started = time.Now()
	if err := op.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { _ = op.cmd.Wait(); _ = logf.Close(); close(op.done) }()
	go op.sampleAnon()
	return op, nil
}

var pprofAddrs sync.Map

func pprofAddr(op *operator) string {
	a := freePort()
	pprofAddrs.Store(op, a)
	return a
}

func (o *operator) profile(path string, d time.Duration) error {
	time.Sleep(2 * time.Second)
	return o.fetchPprof(path, fmt.Sprintf("profile?seconds=%d", int(d.Seconds())))
}

// fetchPprof saves /debug/pprof/<what> of the operator to path.
func (o *operator) fetchPprof(path, what string) error {
	a, _ := pprofAddrs.Load(o)
	resp, err := http.Get(fmt.Sprintf("http://%s/debug/pprof/%s", a, what))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(f, resp.Body)
	return err
}

func (o *operator) stop() {
	select {
	case <-o.done:
		return
	default:
	}
	_ = o.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-o.done:
	case <-time.After(30 * time.Second):
		_ = o.cmd.Process.Kill()
		<-o.done
	}
}

func (o *operator) procStatus(field string) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", o.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, field+":"); ok {
			n, _ := strconv.ParseInt(strings.Fields(v)[0], 10, 64)
			return n
		}
	}
	return 0
}

// rss and peakRSS are in KiB.
func (o *operator) rss() int64     { return o.procStatus("VmRSS") }
func (o *operator) peakRSS() int64 { return o.procStatus("VmHWM") }

func (o *operator) cpuSeconds() float64 { return procCPU(o.cmd.Process.Pid) }

// procCPU is a process's user and system CPU seconds, 0 when it is gone.
func procCPU(pid int) float64 {
	_, cpu, ok := procStat(pid)
	if !ok {
		return 0
	}
	return cpu
}

func procStat(pid int) (ppid int, cpu float64, ok bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, false
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	ppid, _ = strconv.Atoi(f[1])
	utime, _ := strconv.ParseFloat(f[11], 64)
	stime, _ := strconv.ParseFloat(f[12], 64)
	return ppid, (utime + stime) / 100, true // USER_HZ
}

// controlPlane finds the kube-apiserver and etcd this process started, to tell how much of the
// machine the API server itself takes in each phase.
type controlPlane struct{ apiserver, etcd int }

func findControlPlane() controlPlane {
	var cp controlPlane
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if ppid, _, ok := procStat(pid); !ok || ppid != os.Getpid() {
			continue
		}
		comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
		switch strings.TrimSpace(string(comm)) {
		case "kube-apiserver":
			cp.apiserver = pid
		case "etcd":
			cp.etcd = pid
		}
	}
	return cp
}

// cpu is the CPU seconds kube-apiserver and etcd have used so far.
func (cp controlPlane) cpu() (apiserver, etcd float64) {
	return procCPU(cp.apiserver), procCPU(cp.etcd)
}

// since describes the control plane's CPU since an earlier reading, per exposure.
func (cp controlPlane) since(api0, etcd0 float64, n int) string {
	api, etcd := cp.cpu()
	return fmt.Sprintf("kube-apiserver %.1f s (%.1f ms per exposure), etcd %.1f s", api-api0, 1000*(api-api0)/float64(n), etcd-etcd0)
}

// metrics scrapes the operator's Prometheus endpoint into name{labels} -> value.
func (o *operator) metrics() (map[string]float64, error) {
	resp, err := http.Get("http://" + o.metricsAddr + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return parseProm(resp.Body), nil
}

// waitQueuesEmpty waits until every controller's work queue is empty and stays so for a second.
func (o *operator) waitQueuesEmpty(timeout time.Duration) (time.Duration, int) {
	start := time.Now()
	var emptySince time.Time
	depth := -1
	for time.Since(start) < timeout {
		m, err := o.metrics()
		if err == nil {
			depth = 0
			for k, v := range m {
				if strings.HasPrefix(k, "workqueue_depth{") {
					depth += int(v)
				}
			}
			if depth == 0 {
				if emptySince.IsZero() {
					emptySince = time.Now()
				}
				if time.Since(emptySince) >= 2*time.Second { // longer than the HAProxy coalescing delay
					return emptySince.Sub(start), 0
				}
			} else {
				emptySince = time.Time{}
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return timeout, depth
}

// waitSynced waits for every controller to start its workers (its caches are synced then).
func (o *operator) waitSynced(timeout time.Duration) (time.Duration, error) {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		b, _ := os.ReadFile(o.logPath)
		n := strings.Count(string(b), "Starting workers")
		if n >= 3 {
			// The log line carries no timestamp we can trust more than our own poll.
			return time.Since(o.started), nil
		}
		select {
		case <-o.done:
			return 0, fmt.Errorf("the operator exited: see %s", o.logPath)
		case <-time.After(50 * time.Millisecond):
		}
	}
	return 0, fmt.Errorf("caches not synced after %s", timeout)
}

func parseProm(r io.Reader) map[string]float64 {
	out := map[string]float64{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		l := sc.Text()
		if l == "" || l[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(l, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(l[i+1:], 64)
		if err != nil {
			continue
		}
		out[l[:i]] = v
	}
	return out
}

// requests counts API server requests by verb, resource and subresource.
type requests map[[3]string]float64

func scrapeAPIServer(ctx context.Context, cs kubernetes.Interface) (requests, error) {
	body, err := cs.CoreV1().RESTClient().Get().AbsPath("/metrics").DoRaw(ctx)
	if err != nil {
		return nil, fmt.Errorf("scraping the API server: %w", err)
	}
	out := requests{}
	for k, v := range parseProm(strings.NewReader(string(body))) {
		if !strings.HasPrefix(k, "apiserver_request_total{") {
			continue
		}
		l := labels(k)
		out[[3]string{l["verb"], l["resource"], l["subresource"]}] += v
	}
	return out, nil
}

func labels(series string) map[string]string {
	out := map[string]string{}
	s := series[strings.IndexByte(series, '{')+1 : len(series)-1]
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(kv, "=")
		if ok {
			out[k] = strings.Trim(v, `"`)
		}
	}
	return out
}

func (a requests) minus(b requests) requests {
	out := requests{}
	for k, v := range a {
		if d := v - b[k]; d > 0 {
			out[k] = d
		}
	}
	return out
}

var writeVerbs = map[string]bool{"POST": true, "CREATE": true, "PUT": true, "UPDATE": true, "PATCH": true, "APPLY": true, "DELETE": true, "DELETECOLLECTION": true}

// operatorWrites are the write requests the operator made: everything but the benchmark's own
// creates (namespaces, tenants, exposures, nodes) and the API server's own leases.
func (a requests) operatorWrites() requests {
	out := requests{}
	for k, v := range a {
		verb, res, sub := k[0], k[1], k[2]
		// ipaddresses are the API server's own ClusterIP bookkeeping behind each Service create.
		if !writeVerbs[verb] || res == "leases" || res == "namespaces" || res == "nodes" || res == "ipaddresses" {
			continue
		}
		if (res == "inferenceexposures" || res == "inferencetenants") && (verb == "CREATE" || verb == "POST") && sub == "" {
			continue
		}
		out[k] = v
	}
	return out
}

// initialReads says how the operator's informers read what exists: a LIST per resource, or a
// WATCH that streams the initial objects (watch-list). The API server's metrics do not name the
// client, so only the resources the operator reads are counted: the control plane's own
// informers renew their watches now and then (webhook configurations, quotas, bindings).
func (a requests) initialReads() string {
	out := requests{}
	for k, v := range a {
		if (k[0] == "LIST" || k[0] == "WATCH") && k[2] == "" && operatorReads[k[1]] {
			out[k] = v
		}
	}
	return out.String(0)
}

// operatorReads are the resources the operator's caches hold.
var operatorReads = map[string]bool{
	"inferenceexposures": true, "inferencetenants": true, "portclaims": true, "services": true,
	"nodes": true, "configmaps": true, "ingresses": true, "routes": true, "httproutes": true,
	"grpcroutes": true, "tlsroutes": true, "backendtlspolicies": true,
}

func (a requests) total() int {
	n := 0.0
	for _, v := range a {
		n += v
	}
	return int(n)
}

// String lists the writes by resource, per exposure when n > 0.
func (a requests) String(n int) string {
	keys := make([][3]string, 0, len(a))
	for k := range a {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return a[keys[i]] > a[keys[j]] })
	var parts []string
	for _, k := range keys {
		name := strings.ToLower(k[0]) + " " + k[1]
		if k[2] != "" {
			name += "/" + k[2]
		}
		if n > 0 {
			parts = append(parts, fmt.Sprintf("%s %.2f", name, a[k]/float64(n)))
		} else {
			parts = append(parts, fmt.Sprintf("%s %d", name, int(a[k])))
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

func printRequests(d requests) {
	keys := make([][3]string, 0, len(d))
	for k := range d {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return d[keys[i]] > d[keys[j]] })
	fmt.Println("API requests during the operator's create phase, by verb and resource:")
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	for _, k := range keys {
		res := k[1]
		if k[2] != "" {
			res += "/" + k[2]
		}
		fmt.Fprintf(tw, "  %s\t%s\t%d\n", k[0], res, int(d[k]))
	}
	_ = tw.Flush()
}

func countEvents(ctx context.Context, cl client.Client) (normal, warning int, reasons string, err error) {
	var el corev1.EventList
	if err := cl.List(ctx, &el); err != nil {
		return 0, 0, "", err
	}
	by := map[string]int{}
	for _, e := range el.Items {
		if !strings.HasPrefix(e.Namespace, "bench-") && e.InvolvedObject.Kind != "InferenceTenant" {
			continue
		}
		n := int(max(e.Count, 1))
		if e.Series != nil {
			n = int(e.Series.Count)
		}
		if e.Type == corev1.EventTypeWarning {
			warning += n
		} else {
			normal += n
		}
		by[e.Type+"/"+e.Reason] += n
	}
	keys := make([]string, 0, len(by))
	for k := range by {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, by[k])
	}
	return normal, warning, strings.Join(parts, ", "), nil
}
