package dataplane_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/util/retry"

	"go.uber.org/zap/zapcore"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/go-logr/logr"
	exposurev1alpha1 "github.com/inference-exposure/inference-exposure-operator/api/v1alpha1"
	"github.com/inference-exposure/inference-exposure-operator/internal/allocator"
	"github.com/inference-exposure/inference-exposure-operator/internal/controller"
	"github.com/inference-exposure/inference-exposure-operator/internal/controller/haproxyconfig"
	"github.com/inference-exposure/inference-exposure-operator/internal/haproxyagent"
	"github.com/inference-exposure/inference-exposure-operator/internal/kubecache"
	"github.com/inference-exposure/inference-exposure-operator/internal/render/haproxy"
	"github.com/inference-exposure/inference-exposure-operator/internal/testsupport"
	"github.com/inference-exposure/inference-exposure-operator/test/dataplane"
	"github.com/inference-exposure/inference-exposure-operator/test/testenv"
)

const hostDomain = "apps.example.test"

var (
	cfg     *rest.Config
	k8s     client.Client
	env     *testenv.Env
	scheme  = runtime.NewScheme()
	skipWhy string
	traefik string
	workDir string
)

func TestMain(m *testing.M) {
	utilruntime.Must(controller.AddToScheme(scheme))
	ctrl.SetLogger(zap.New(zap.Level(zapLevel())))
	skipWhy = dataplane.CanMakeNetworks()
	if skipWhy == "" {
		var err error
		if traefik, err = dataplane.FindTraefik(testenv.RepoRoot()); err != nil {
			skipWhy = err.Error()
		}
	}
	if skipWhy != "" {
		os.Exit(m.Run()) // every test skips, saying why
	}
	var err error
	env, err = testenv.Start(true)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := run(m)
	_ = env.Stop()
	os.Exit(code)
}

func run(m *testing.M) int {
	var err error
	cfg = env.Config
	if k8s, err = env.Client(scheme); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if workDir, err = os.MkdirTemp("", "dataplane-"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(workDir)
	// The EndpointSlice controller makes the endpoints from the Services' selectors and the
	// Pods, as in a cluster.
	kcm, err := env.StartControllerManager(workDir, testenv.CascadeControllers+",endpointslice-controller", io.Discard)
	if err != nil {
		skipWhy = fmt.Sprintf("needs kube-controller-manager for EndpointSlices: %v", err)
		return m.Run()
	}
	defer kcm.Stop()
	return m.Run()
}

func zapLevel() zapcore.Level {
	if os.Getenv("TEST_VERBOSE_LOGS") != "" {
		return -1
	}
	return 2
}

func requireDataPlane(t *testing.T) {
	t.Helper()
	if skipWhy != "" {
		t.Skip(skipWhy)
	}
}

// startTraefik runs Traefik for the test (see dataplane.StartTraefik).
func startTraefik(t testing.TB) *dataplane.Traefik {
	t.Helper()
	dir := t.TempDir()
	kubeconfig := filepath.Join(dir, "kubeconfig")
	if err := env.WriteKubeconfig("traefik", kubeconfig); err != nil {
		t.Fatal(err)
	}
	tr, err := dataplane.StartTraefik(traefik, kubeconfig, dir,
		fmt.Sprintf("127.0.0.1:%d", testsupport.FreePort(t, "127.0.0.1")), fmt.Sprintf("127.0.0.1:%d", testsupport.FreePort(t, "127.0.0.1")))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		tr.Close()
		if t.Failed() {
			t.Logf("traefik output:\n%s", tr.Output.String())
		}
	})
	return tr
}

// podNetwork makes a pod network for the test with one pod address, .10, and serves the model
// server (named pod) on its port 8000 and, with grpcEvery > 0, gRPC on 8001.
func podNetwork(t testing.TB, id int, pod string, grpcEvery time.Duration) string {
	t.Helper()
	pn, err := dataplane.NewPodNetwork(id)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pn.Close)
	ip, err := pn.AddPod(10)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := pn.Listen(ip + ":8000")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(dataplane.ServeModel(ln, pod))
	if grpcEvery > 0 {
		gln, err := pn.Listen(ip + ":8001")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(dataplane.ServeGRPCModel(gln, grpcEvery))
	}
	return ip
}

// startOperator runs the operator's controllers for the test.
func startOperator(t testing.TB) { startOperatorWith(t, nil) }

// startOperatorWith runs the operator's controllers, rendering HAProxy's configuration with hp
// when set.
func startOperatorWith(t testing.TB, hp *haproxyconfig.Settings) {
	t.Helper()
	pool, err := allocator.NewPool(30000, 32767)
	if err != nil {
		t.Fatal(err)
	}
	hpNamespace := ""
	if hp != nil {
		hpNamespace = hp.Namespace
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme: scheme, Cache: kubecache.CacheOptions(hpNamespace), MapperProvider: kubecache.NewRESTMapper,
		Metrics: metricsserver.Options{BindAddress: "0"}, HealthProbeBindAddress: "0",
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := controller.Setup(mgr, controller.Options{Pool: pool, DefaultBlockSize: 100, MaxConcurrent: 2, HAProxy: hp}); err != nil {
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
	t.Cleanup(func() { cancel(); <-done })
}

// tenantWithPod makes a tenant owning a fresh namespace, a node, and a Pod app=name on it at
// podIP, Running and Ready as a kubelet would report it.
func tenantWithPod(t testing.TB, name, podIP string) string {
	t.Helper()
	ctx := context.Background()
	ns := name
	tn := &exposurev1alpha1.InferenceTenant{ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: exposurev1alpha1.InferenceTenantSpec{Namespaces: []string{ns}, HostDomain: hostDomain}}
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-" + name}}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name + "-0", Labels: map[string]string{"app": name}},
		Spec: corev1.PodSpec{NodeName: node.Name, Containers: []corev1.Container{{Name: "server", Image: "model-server",
			Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8000}}}}}}
	for _, o := range []client.Object{&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, tn, node, pod} {
		if err := k8s.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	// The tenant goes with the test (a deleting tenant is in no HAProxy configuration, so a
	// later test's haproxy never reads this one's certificate path).
	t.Cleanup(func() { _ = k8s.Delete(context.Background(), tn) })
	node.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, LastHeartbeatTime: metav1.Now(), LastTransitionTime: metav1.Now()}}
	node.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "192.0.2.250"}}
	if err := k8s.Status().Update(ctx, node); err != nil {
		t.Fatal(err)
	}
	pod.Status = corev1.PodStatus{Phase: corev1.PodRunning, PodIP: podIP, PodIPs: []corev1.PodIP{{IP: podIP}}, StartTime: ptr.To(metav1.Now()),
		Conditions: []corev1.PodCondition{
			{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.Now()},
			{Type: corev1.ContainersReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.Now()},
		}}
	if err := k8s.Status().Update(ctx, pod); err != nil {
		t.Fatal(err)
	}
	return ns
}

// tlsSecret makes the kubernetes.io/tls Secret of the hosts.
func tlsSecret(t testing.TB, pki *testsupport.PKI, ns, name string, hosts ...string) {
	t.Helper()
	cert, key := pki.ServerPEM(t, hosts...)
	if err := k8s.Create(context.Background(), &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Type: corev1.SecretTypeTLS,
		Data: map[string][]byte{corev1.TLSCertKey: cert, corev1.TLSPrivateKeyKey: key}}); err != nil {
		t.Fatal(err)
	}
}

// waitReady waits until the exposure is Ready, which now needs the ingress controller's report.
func waitReady(t testing.TB, ns, name string) *exposurev1alpha1.InferenceExposure {
	t.Helper()
	var e exposurev1alpha1.InferenceExposure
	last := ""
	for deadline := time.Now().Add(90 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, &e); err != nil {
			t.Fatal(err)
		}
		for _, c := range e.Status.Conditions {
			if c.Type == exposurev1alpha1.ConditionReady {
				last = fmt.Sprintf("%s/%s: %s", c.Status, c.Reason, c.Message)
				if c.Status == metav1.ConditionTrue {
					return &e
				}
			}
		}
	}
	t.Fatalf("exposure %s/%s never Ready: %s", ns, name, last)
	return nil
}

// httpsClient sends every request to the ingress entrypoint, trusting the test's CA. Streams
// get a fresh connection each: DisableKeepAlives.
func httpsClient(pki *testsupport.PKI, entrypoint string) *http.Client {
	c := dataplane.HTTPSClient(pki.Pool(), entrypoint)
	c.Transport.(*http.Transport).DisableKeepAlives = true
	return c
}

// eventuallyAnswers retries GET url until the data plane has converged and answers 200 (at most
// 60 s, every 200 ms), and returns that answer.
func eventuallyAnswers(t testing.TB, c *http.Client, url string) *http.Response {
	t.Helper()
	var last string
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		resp, err := c.Get(url)
		if err != nil {
			last = err.Error()
			continue
		}
		if resp.StatusCode == http.StatusOK {
			return resp
		}
		b, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		last = fmt.Sprintf("%d %s", resp.StatusCode, bytes.TrimSpace(b))
	}
	t.Fatalf("%s never answered 200: %s", url, last)
	return nil
}

// streamChat sends a streamed chat completion of n chunks, one every interval, and returns the
// chunks that arrived and whether [DONE] came.
func streamChat(t testing.TB, c *http.Client, url string, n int, interval time.Duration) (chunks int, done bool, took time.Duration) {
	t.Helper()
	body := fmt.Sprintf(`{"model":"llama","stream":true,"max_tokens":%d,"messages":[{"role":"user","content":"hi"}]}`, n)
	start := time.Now()
	resp, err := c.Post(url+"?interval="+interval.String(), "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("stream answered %d %s: %s", resp.StatusCode, resp.Header.Get("Content-Type"), b)
	}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "data: [DONE]":
			done = true
		case strings.HasPrefix(line, "data: "):
			chunks++
		}
	}
	return chunks, done, time.Since(start)
}

// TestIngressTraffic: the operator's Ingress of class traefik, read by a real Traefik, carries
// HTTPS with the exposure's TLS Secret to the pod that the EndpointSlice controller found
// behind the operator's Service; Traefik's published address makes the exposure Ready; a
// streamed chat completion arrives whole.
func TestIngressTraffic(t *testing.T) {
	requireDataPlane(t)
	ctx := context.Background()
	podIP := podNetwork(t, 10, "triton-0", 0)
	startOperator(t)
	ep := startTraefik(t)
	if err := k8s.Create(ctx, &networkingv1.IngressClass{ObjectMeta: metav1.ObjectMeta{Name: "traefik"},
		Spec: networkingv1.IngressClassSpec{Controller: "traefik.io/ingress-controller"}}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = k8s.Delete(ctx, &networkingv1.IngressClass{ObjectMeta: metav1.ObjectMeta{Name: "traefik"}})
	})

	ns := tenantWithPod(t, "dp-ingress", podIP)
	host := "triton." + ns + "." + hostDomain
	pki := testsupport.NewPKI(t)
	tlsSecret(t, pki, ns, "triton-tls", host)
	exp := &exposurev1alpha1.InferenceExposure{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "triton"}, Spec: exposurev1alpha1.InferenceExposureSpec{
		Selector: map[string]exposurev1alpha1.LabelValue{"app": "dp-ingress"},
		Ports:    exposurev1alpha1.ExposurePorts{HTTP: ptr.To[int32](8000)},
		Router: &exposurev1alpha1.RouterSpec{Type: exposurev1alpha1.RouterIngress, Paths: []exposurev1alpha1.HTTPPath{"/v1", "/health"},
			TLS: &exposurev1alpha1.RouterTLS{SecretName: "triton-tls"}, Ingress: &exposurev1alpha1.IngressSettings{ClassName: "traefik"}},
	}}
	if err := k8s.Create(ctx, exp); err != nil {
		t.Fatal(err)
	}
	c := httpsClient(pki, ep.WebSecure)

	t.Run("Ready once Traefik publishes the Ingress's address", func(t *testing.T) {
		e := waitReady(t, ns, "triton")
		for _, cond := range e.Status.Conditions {
			if cond.Type == exposurev1alpha1.ConditionIngressReady && !strings.Contains(cond.Message, "served at 127.0.0.1") {
				t.Fatalf("IngressReady: %s", cond.Message)
			}
		}
	})
	t.Run("HTTPS with the exposure's certificate reaches the pod", func(t *testing.T) {
		resp := eventuallyAnswers(t, c, "https://"+host+"/health")
		defer resp.Body.Close()
		if pod := resp.Header.Get("X-Pod"); pod != "triton-0" {
			t.Fatalf("answered by %q", pod)
		}
		if cn := resp.TLS.PeerCertificates[0].DNSNames; len(cn) == 0 || cn[0] != host {
			t.Fatalf("certificate for %v, want the exposure's Secret's (%s)", cn, host)
		}
	})
	t.Run("a path the exposure does not route is not served", func(t *testing.T) {
		resp, err := c.Get("https://" + host + "/admin")
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Fatalf("/admin answered %d", resp.StatusCode)
		}
	})
	t.Run("plain HTTP is not served, and the exposure says the redirect is the platform's", func(t *testing.T) {
		resp, err := plainHTTP(ep.Web).Get("http://" + host + "/health")
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Fatalf("plain HTTP answered %d: the model is served unencrypted", resp.StatusCode)
		}
		e := getExposure(t, ns, "triton")
		if c := meta.FindStatusCondition(e.Status.Conditions, exposurev1alpha1.ConditionSettingsApplied); c == nil || c.Status != metav1.ConditionFalse || !strings.Contains(c.Message, "entryPoints.web.http.redirections") {
			t.Fatalf("SettingsApplied does not say how to redirect: %v", c)
		}
		if c := meta.FindStatusCondition(e.Status.Conditions, exposurev1alpha1.ConditionTimeoutsApplied); c == nil || c.Status != metav1.ConditionFalse || !strings.Contains(c.Message, "traefik.io/ingress-controller") {
			t.Fatalf("TimeoutsApplied does not say Traefik's Ingress provider ignores router.timeout: %v", c)
		}
	})
	t.Run("a streamed chat completion arrives whole", func(t *testing.T) {
		chunks, done, took := streamChat(t, c, "https://"+host+"/v1/chat/completions", 30, 100*time.Millisecond)
		if chunks != 30 || !done {
			t.Fatalf("%d of 30 chunks, [DONE] %v, after %s", chunks, done, took)
		}
	})
	longStream(t, "Ingress of class traefik", func() (string, error) {
		return sseFor(c, "https://"+host+"/v1/chat/completions", sseLength)
	})()
}

// exposureOn makes an exposure of the pods app=ns on class, with TLS from secret.
func exposureOn(t testing.TB, ns, name, class, secret, timeout string, paths ...exposurev1alpha1.HTTPPath) {
	t.Helper()
	exp := &exposurev1alpha1.InferenceExposure{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: exposurev1alpha1.InferenceExposureSpec{
		Selector: map[string]exposurev1alpha1.LabelValue{"app": exposurev1alpha1.LabelValue(ns)},
		Ports:    exposurev1alpha1.ExposurePorts{HTTP: ptr.To[int32](8000)},
		Router: &exposurev1alpha1.RouterSpec{Type: exposurev1alpha1.RouterIngress, Paths: paths, Timeouts: &exposurev1alpha1.RouterTimeouts{Idle: exposurev1alpha1.Duration(timeout)},
			TLS: &exposurev1alpha1.RouterTLS{SecretName: secret}, Ingress: &exposurev1alpha1.IngressSettings{ClassName: class}},
	}}
	if err := k8s.Create(context.Background(), exp); err != nil {
		t.Fatal(err)
	}
}

// ingressClass makes an IngressClass of controller for the test.
func ingressClass(t testing.TB, name, controller string) {
	t.Helper()
	ic := &networkingv1.IngressClass{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: networkingv1.IngressClassSpec{Controller: controller}}
	if err := k8s.Create(context.Background(), ic); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k8s.Delete(context.Background(), ic) })
}

// TestIngressNGINXTraffic: the operator's Ingress of class nginx, with the ingress-nginx
// annotations it writes, served by Traefik's ingress-nginx provider: router.timeout is an
// idle timer there (proxy-read-timeout): a pause shorter than it survives, a longer one is cut
// with 504, and a stream that keeps sending outlives it.
func TestIngressNGINXTraffic(t *testing.T) {
	requireDataPlane(t)
	podIP := podNetwork(t, 11, "vllm-0", 500*time.Millisecond)
	startOperator(t)
	ep := startTraefik(t)
	ingressClass(t, "nginx", "k8s.io/ingress-nginx")

	ns := tenantWithPod(t, "dp-nginx", podIP)
	host := "vllm." + ns + "." + hostDomain
	pki := testsupport.NewPKI(t)
	grpcHost := "vllm-grpc." + ns + "." + hostDomain
	tlsSecret(t, pki, ns, "vllm-tls", host, grpcHost)
	exposureOn(t, ns, "vllm", "nginx", "vllm-tls", "2s", "/v1", "/health", "/slow")
	updateGRPC(t, ns, "vllm")
	c := httpsClient(pki, ep.WebSecure)

	t.Run("Ready once the ingress-nginx provider publishes the address", func(t *testing.T) {
		waitReady(t, ns, "vllm")
	})
	t.Run("HTTPS reaches the pod", func(t *testing.T) {
		resp := eventuallyAnswers(t, c, "https://"+host+"/health")
		_ = resp.Body.Close()
		if pod := resp.Header.Get("X-Pod"); pod != "vllm-0" {
			t.Fatalf("answered by %q", pod)
		}
	})
	t.Run("plain HTTP is redirected to HTTPS (ssl-redirect)", func(t *testing.T) {
		resp, err := plainHTTP(ep.Web).Get("http://" + host + "/health")
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusPermanentRedirect || resp.Header.Get("Location") != "https://"+host+"/health" {
			t.Fatalf("plain HTTP answered %d, Location %q", resp.StatusCode, resp.Header.Get("Location"))
		}
	})
	t.Run("a pause shorter than router.timeout survives", func(t *testing.T) {
		resp, err := c.Get("https://" + host + "/slow?pause=1s")
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("a 1s pause under a 2s timeout answered %d", resp.StatusCode)
		}
	})
	t.Run("a pause longer than router.timeout is cut", func(t *testing.T) {
		start := time.Now()
		resp, err := c.Get("https://" + host + "/slow?pause=5s")
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		// Traefik cuts after proxy-read-timeout plus proxy-send-timeout (both are the exposure's
		// timeout): 4 s here.
		if took := time.Since(start); resp.StatusCode != http.StatusGatewayTimeout || took < 2*time.Second || took >= 5*time.Second {
			t.Fatalf("a 5s pause under a 2s timeout answered %d after %s, want 504 before the pause ended", resp.StatusCode, took)
		}
	})
	t.Run("gRPC over TLS reaches the pod's gRPC port, and a server stream outlives router.timeout", func(t *testing.T) {
		took := grpcStream(t, pki, grpcHost, ep.WebSecure, 12)
		if took < 5*time.Second {
			t.Fatalf("12 messages in %s: the stream did not outlive the timeout", took)
		}
	})
	waitSSE := longStream(t, "Ingress of class nginx (Traefik's ingress-nginx provider)", func() (string, error) {
		return sseFor(c, "https://"+host+"/v1/chat/completions", sseLength)
	})
	waitGRPC := longStream(t, "gRPC Ingress of class nginx (Traefik's ingress-nginx provider)", func() (string, error) {
		return grpcFor(func() (*grpc.ClientConn, error) { return dataplane.GRPCClient(pki.Pool(), grpcHost, ep.WebSecure) }, grpcLength)
	})
	t.Run("a stream that keeps sending outlives router.timeout (an idle timer)", func(t *testing.T) {
		chunks, done, took := streamChat(t, c, "https://"+host+"/v1/chat/completions", 6, time.Second)
		if chunks != 6 || !done || took < 5*time.Second {
			t.Fatalf("%d of 6 chunks, [DONE] %v, after %s", chunks, done, took)
		}
	})
	t.Run("router.ingress.bodySize bounds request bodies (proxy-body-size)", func(t *testing.T) {
		// A refusal may come as 413 or, when Traefik answers and closes before the client has
		// written the whole body, as a reset: either way the body did not pass.
		post := func(size int) (int, error) {
			body := `{"max_tokens":1,"pad":"` + strings.Repeat("x", size) + `"}`
			resp, err := c.Post("https://"+host+"/v1/chat/completions", "application/json", strings.NewReader(body))
			if err != nil {
				return 0, err
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			return resp.StatusCode, nil
		}
		if code, err := post(2 << 20); code != http.StatusOK {
			t.Fatalf("a 2 MiB request under the default 64m answered %d (%v)", code, err)
		}
		if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
			e := getExposure(t, ns, "vllm")
			e.Spec.Router.Ingress.BodySize = "1m"
			return k8s.Update(context.Background(), e)
		}); err != nil {
			t.Fatal(err)
		}
		eventually(t, "a 2 MiB request refused under bodySize 1m", func() (bool, string) {
			code, err := post(2 << 20)
			return code == http.StatusRequestEntityTooLarge || err != nil, fmt.Sprint(code, err)
		})
		if code, err := post(100 << 10); code != http.StatusOK {
			t.Fatalf("a 100 KiB request under bodySize 1m answered %d (%v)", code, err)
		}
	})
	waitSSE()
	waitGRPC()
}

// TestGatewayTraffic: the operator's HTTPRoute on a Gateway that Traefik's Gateway API provider
// serves: Traefik accepts the route (which makes the exposure Ready) and carries HTTPS,
// terminated at the Gateway's listener, to the pod.
func TestGatewayTraffic(t *testing.T) {
	requireDataPlane(t)
	ctx := context.Background()
	podIP := podNetwork(t, 12, "nim-0", 200*time.Millisecond)
	startOperator(t)
	ep := startTraefik(t)

	ns := tenantWithPod(t, "dp-gateway", podIP)
	host, grpcHost := "nim."+ns+"."+hostDomain, "nim-grpc."+ns+"."+hostDomain
	pki := testsupport.NewPKI(t)
	infra := "dp-gateway-infra"
	if err := k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: infra}}); err != nil {
		t.Fatal(err)
	}
	tlsSecret(t, pki, infra, "listener-tls", host, grpcHost)
	class := &gatewayv1.GatewayClass{ObjectMeta: metav1.ObjectMeta{Name: "traefik-" + ns}, Spec: gatewayv1.GatewayClassSpec{ControllerName: "traefik.io/gateway-controller"}}
	from := gatewayv1.NamespacesFromAll
	gw := &gatewayv1.Gateway{ObjectMeta: metav1.ObjectMeta{Namespace: infra, Name: "ai"}, Spec: gatewayv1.GatewaySpec{
		GatewayClassName: gatewayv1.ObjectName(class.Name),
		Listeners: []gatewayv1.Listener{{Name: "https", Port: dataplane.Port(ep.WebSecure), Protocol: gatewayv1.HTTPSProtocolType,
			Hostname: ptr.To(gatewayv1.Hostname("*." + ns + "." + hostDomain)),
			TLS: &gatewayv1.ListenerTLSConfig{Mode: ptr.To(gatewayv1.TLSModeTerminate),
				CertificateRefs: []gatewayv1.SecretObjectReference{{Name: "listener-tls"}}},
			AllowedRoutes: &gatewayv1.AllowedRoutes{Namespaces: &gatewayv1.RouteNamespaces{From: &from}}}},
	}}
	for _, o := range []client.Object{class, gw} {
		if err := k8s.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { _ = k8s.Delete(ctx, class) })
	exp := &exposurev1alpha1.InferenceExposure{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "nim"}, Spec: exposurev1alpha1.InferenceExposureSpec{
		Selector: map[string]exposurev1alpha1.LabelValue{"app": exposurev1alpha1.LabelValue(ns)},
		Ports:    exposurev1alpha1.ExposurePorts{HTTP: ptr.To[int32](8000)},
		Router: &exposurev1alpha1.RouterSpec{Type: exposurev1alpha1.RouterGateway, Paths: []exposurev1alpha1.HTTPPath{"/v1", "/health"}, Timeout: "0",
			Gateway: &exposurev1alpha1.GatewaySettings{ParentRef: exposurev1alpha1.ParentReference{Namespace: infra, Name: "ai"}}},
	}}
	if err := k8s.Create(ctx, exp); err != nil {
		t.Fatal(err)
	}
	c := httpsClient(pki, ep.WebSecure)

	t.Run("Ready once Traefik accepts the HTTPRoute", func(t *testing.T) {
		e := waitReady(t, ns, "nim")
		for _, cond := range e.Status.Conditions {
			if cond.Type == exposurev1alpha1.ConditionHTTPRouteAccepted && cond.Status != metav1.ConditionTrue {
				t.Fatalf("HTTPRouteAccepted: %s %s", cond.Status, cond.Message)
			}
		}
	})
	t.Run("HTTPS terminated at the Gateway reaches the pod", func(t *testing.T) {
		resp := eventuallyAnswers(t, c, "https://"+host+"/health")
		_ = resp.Body.Close()
		if pod := resp.Header.Get("X-Pod"); pod != "nim-0" {
			t.Fatalf("answered by %q", pod)
		}
	})
	t.Run("a streamed chat completion arrives whole", func(t *testing.T) {
		chunks, done, took := streamChat(t, c, "https://"+host+"/v1/chat/completions", 20, 100*time.Millisecond)
		if chunks != 20 || !done {
			t.Fatalf("%d of 20 chunks, [DONE] %v, after %s", chunks, done, took)
		}
	})
	t.Run("gRPC through the GRPCRoute reaches the pod's gRPC port, with a server stream", func(t *testing.T) {
		updateGRPC(t, ns, "nim")
		eventually(t, "GRPCRouteAccepted True", func() (bool, string) {
			var e exposurev1alpha1.InferenceExposure
			if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "nim"}, &e); err != nil {
				return false, err.Error()
			}
			c := meta.FindStatusCondition(e.Status.Conditions, exposurev1alpha1.ConditionGRPCRouteAccepted)
			return c != nil && c.Status == metav1.ConditionTrue, fmt.Sprint(c)
		})
		waitReady(t, ns, "nim")
		if took := grpcStream(t, pki, grpcHost, ep.WebSecure, 10); took < time.Second {
			t.Fatalf("10 messages 200 ms apart in %s", took)
		}
	})
	waitSSE := longStream(t, "HTTPRoute", func() (string, error) {
		return sseFor(c, "https://"+host+"/v1/chat/completions", sseLength)
	})
	waitGRPC := longStream(t, "GRPCRoute", func() (string, error) {
		return grpcFor(func() (*grpc.ClientConn, error) { return dataplane.GRPCClient(pki.Pool(), grpcHost, ep.WebSecure) }, grpcLength)
	})
	t.Run("a router.timeout Traefik does not enforce is said, naming it", func(t *testing.T) {
		if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
			var e exposurev1alpha1.InferenceExposure
			if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "nim"}, &e); err != nil {
				return err
			}
			e.Spec.Router.Timeouts = &exposurev1alpha1.RouterTimeouts{Idle: "30s", Request: "10m"}
			return k8s.Update(ctx, &e)
		}); err != nil {
			t.Fatal(err)
		}
		var last string
		for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
			var e exposurev1alpha1.InferenceExposure
			if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "nim"}, &e); err != nil {
				t.Fatal(err)
			}
			for _, cond := range e.Status.Conditions {
				if cond.Type == exposurev1alpha1.ConditionTimeoutsApplied {
					last = fmt.Sprintf("%s/%s: %s", cond.Status, cond.Reason, cond.Message)
					if cond.Status == metav1.ConditionFalse && strings.Contains(cond.Message, "traefik.io/gateway-controller") &&
						strings.Contains(cond.Message, "the idle timeout 30s nor the request deadline 10m0s") {
						return
					}
				}
			}
		}
		t.Fatalf("TimeoutsApplied never said Traefik does not enforce the timeout: %q", last)
	})
	waitSSE()
	waitGRPC()
}

// grpcStream calls the gRPC health service on host through the entrypoint until it answers,
// then reads n messages of a Watch stream and says how long they took.
func grpcStream(t testing.TB, pki *testsupport.PKI, host, entrypoint string, n int) time.Duration {
	t.Helper()
	conn, err := dataplane.GRPCClient(pki.Pool(), host, entrypoint)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	hc := healthpb.NewHealthClient(conn)
	var last error
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, last = hc.Check(ctx, &healthpb.HealthCheckRequest{})
		cancel()
		if last == nil {
			break
		}
	}
	if last != nil {
		t.Fatalf("gRPC health check never answered: %v", last)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second+time.Duration(n)*2*time.Second)
	defer cancel()
	stream, err := hc.Watch(ctx, &healthpb.HealthCheckRequest{Service: "model"})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for i := range n {
		if _, err := stream.Recv(); err != nil {
			t.Fatalf("message %d of the stream after %s: %v", i+1, time.Since(start), err)
		}
	}
	return time.Since(start)
}

// updateGRPC gives the exposure its grpc port 8001, routed over TLS (router.grpc).
func updateGRPC(t testing.TB, ns, name string) {
	t.Helper()
	if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		var e exposurev1alpha1.InferenceExposure
		if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, &e); err != nil {
			return err
		}
		e.Spec.Ports.GRPC = ptr.To[int32](8001)
		e.Spec.Router.GRPC = ptr.To(true)
		return k8s.Update(context.Background(), &e)
	}); err != nil {
		t.Fatal(err)
	}
}

// tlsGateway makes a GatewayClass of Traefik's and a Gateway in its own namespace with the
// given listeners, all on Traefik's websecure port and open to routes of every namespace.
func tlsGateway(t *testing.T, ep *dataplane.Traefik, ns string, listeners ...gatewayv1.Listener) {
	t.Helper()
	ctx := context.Background()
	class := &gatewayv1.GatewayClass{ObjectMeta: metav1.ObjectMeta{Name: "traefik-" + ns}, Spec: gatewayv1.GatewayClassSpec{ControllerName: "traefik.io/gateway-controller"}}
	from := gatewayv1.NamespacesFromAll
	for i := range listeners {
		listeners[i].Port = dataplane.Port(ep.WebSecure)
		listeners[i].AllowedRoutes = &gatewayv1.AllowedRoutes{Namespaces: &gatewayv1.RouteNamespaces{From: &from}}
	}
	gw := &gatewayv1.Gateway{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "ai"}, Spec: gatewayv1.GatewaySpec{
		GatewayClassName: gatewayv1.ObjectName(class.Name), Listeners: listeners}}
	for _, o := range []client.Object{class, gw} {
		if err := k8s.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { _ = k8s.Delete(ctx, class) })
}

// TestGatewayTLSTraffic: TLS that ends at the model server (Passthrough: a TLSRoute) and TLS
// that the Gateway terminates and opens again to the pod, checked against the exposure's CA
// and hostname (Reencrypt: an HTTPRoute and a BackendTLSPolicy). A backend hostname the pod's
// certificate does not hold is refused by the Gateway.
func TestGatewayTLSTraffic(t *testing.T) {
	requireDataPlane(t)
	ctx := context.Background()
	pn, err := dataplane.NewPodNetwork(13)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pn.Close)
	podIP, err := pn.AddPod(10)
	if err != nil {
		t.Fatal(err)
	}
	ns := "dp-gwtls"
	passHost := "pass." + ns + "." + hostDomain
	reencHost := "reenc." + ns + "." + hostDomain
	backendName := "reenc." + ns + ".svc"
	// The pods' own CA: their certificate holds the passthrough host and the backend hostname.
	podPKI := testsupport.NewPKI(t)
	ln, err := pn.Listen(podIP + ":8000")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(dataplane.ServeModel(tls.NewListener(ln, &tls.Config{MinVersion: tls.VersionTLS12,
		Certificates: []tls.Certificate{podPKI.TLSCert(t, passHost, backendName)}}), "tls-0"))
	startOperator(t)
	ep := startTraefik(t)
	tenantWithPod(t, ns, podIP)

	gatewayPKI := testsupport.NewPKI(t)
	infra := ns + "-infra"
	if err := k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: infra}}); err != nil {
		t.Fatal(err)
	}
	tlsSecret(t, gatewayPKI, infra, "listener-tls", reencHost)
	tlsGateway(t, ep, infra,
		gatewayv1.Listener{Name: "passthrough", Protocol: gatewayv1.TLSProtocolType, Hostname: ptr.To(gatewayv1.Hostname(passHost)),
			TLS: &gatewayv1.ListenerTLSConfig{Mode: ptr.To(gatewayv1.TLSModePassthrough)}},
		gatewayv1.Listener{Name: "https", Protocol: gatewayv1.HTTPSProtocolType, Hostname: ptr.To(gatewayv1.Hostname(reencHost)),
			TLS: &gatewayv1.ListenerTLSConfig{Mode: ptr.To(gatewayv1.TLSModeTerminate), CertificateRefs: []gatewayv1.SecretObjectReference{{Name: "listener-tls"}}}},
	)
	caPath := filepath.Join(t.TempDir(), "ca.pem")
	podPKI.WriteCA(t, caPath)
	caPEM, err := os.ReadFile(caPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := k8s.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "pods-ca"}, Data: map[string]string{"ca.crt": string(caPEM)}}); err != nil {
		t.Fatal(err)
	}
	parent := &exposurev1alpha1.GatewaySettings{ParentRef: exposurev1alpha1.ParentReference{Namespace: infra, Name: "ai"}}
	for _, e := range []*exposurev1alpha1.InferenceExposure{
		{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "pass"}, Spec: exposurev1alpha1.InferenceExposureSpec{
			Selector: map[string]exposurev1alpha1.LabelValue{"app": exposurev1alpha1.LabelValue(ns)},
			Ports:    exposurev1alpha1.ExposurePorts{HTTP: ptr.To[int32](8000)},
			Router: &exposurev1alpha1.RouterSpec{Type: exposurev1alpha1.RouterGateway, Gateway: parent,
				TLS: &exposurev1alpha1.RouterTLS{Termination: exposurev1alpha1.TLSPassthrough}}}},
		{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "reenc"}, Spec: exposurev1alpha1.InferenceExposureSpec{
			Selector: map[string]exposurev1alpha1.LabelValue{"app": exposurev1alpha1.LabelValue(ns)},
			Ports:    exposurev1alpha1.ExposurePorts{HTTP: ptr.To[int32](8000)},
			Router: &exposurev1alpha1.RouterSpec{Type: exposurev1alpha1.RouterGateway, Gateway: parent, Timeout: "0",
				TLS: &exposurev1alpha1.RouterTLS{Termination: exposurev1alpha1.TLSReencrypt,
					Backend: &exposurev1alpha1.BackendTLS{Hostname: exposurev1alpha1.Hostname(backendName), CAConfigMap: "pods-ca"}}}}},
	} {
		if err := k8s.Create(ctx, e); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("Passthrough: Ready once Traefik accepts the TLSRoute, and TLS ends at the pod", func(t *testing.T) {
		waitReady(t, ns, "pass")
		c := httpsClient(podPKI, ep.WebSecure) // only the pods' CA: the Gateway's certificate would fail
		resp := eventuallyAnswers(t, c, "https://"+passHost+"/health")
		_ = resp.Body.Close()
		if pod := resp.Header.Get("X-Pod"); pod != "tls-0" {
			t.Fatalf("answered by %q", pod)
		}
	})
	t.Run("Reencrypt: the Gateway terminates, then verifies the pod against the exposure's CA and hostname", func(t *testing.T) {
		waitReady(t, ns, "reenc")
		c := httpsClient(gatewayPKI, ep.WebSecure)
		resp := eventuallyAnswers(t, c, "https://"+reencHost+"/health")
		_ = resp.Body.Close()
		if pod := resp.Header.Get("X-Pod"); pod != "tls-0" {
			t.Fatalf("answered by %q", pod)
		}
		chunks, done, _ := streamChat(t, c, "https://"+reencHost+"/v1/chat/completions", 10, 50*time.Millisecond)
		if chunks != 10 || !done {
			t.Fatalf("%d of 10 chunks, [DONE] %v", chunks, done)
		}
	})
	waitPass := longStream(t, "TLSRoute passthrough", func() (string, error) {
		return sseFor(httpsClient(podPKI, ep.WebSecure), "https://"+passHost+"/v1/chat/completions", sseLength)
	})
	waitReenc := longStream(t, "HTTPRoute with BackendTLSPolicy re-encryption", func() (string, error) {
		return sseFor(httpsClient(gatewayPKI, ep.WebSecure), "https://"+reencHost+"/v1/chat/completions", sseLength)
	})
	waitPass()
	waitReenc()
	t.Run("Reencrypt to a hostname the pod's certificate does not hold fails", func(t *testing.T) {
		if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
			var e exposurev1alpha1.InferenceExposure
			if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "reenc"}, &e); err != nil {
				return err
			}
			e.Spec.Router.TLS.Backend.Hostname = exposurev1alpha1.Hostname("someone-else." + ns + ".svc")
			return k8s.Update(ctx, &e)
		}); err != nil {
			t.Fatal(err)
		}
		c := httpsClient(gatewayPKI, ep.WebSecure)
		last := 0
		for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
			resp, err := c.Get("https://" + reencHost + "/health")
			if err != nil {
				t.Fatal(err)
			}
			_ = resp.Body.Close()
			if last = resp.StatusCode; last >= 500 {
				return
			}
		}
		t.Fatalf("still answered %d with a backend hostname the pod's certificate does not hold", last)
	})
}

// TestHAProxyToNodePorts: the recipe's raw gRPC path. A client reaches the tenant's VIP, HAProxy
// (with the configuration the operator rendered) forwards in TCP mode to the node's NodePort
// that the operator allocated, and a real kube-proxy in the node's network namespace forwards
// it to the pod that the EndpointSlice controller found.
func TestHAProxyToNodePorts(t *testing.T) {
	requireDataPlane(t)
	haproxyBin := needHAProxy(t)
	ctx := context.Background()
	const vip = "127.0.100.30"
	node, podIP, kpLog := grpcPodBehindNode(t, 30, "dp-haproxy", 500*time.Millisecond)
	hp := haproxySettings(t, "dp-haproxy-system", vip, 443)
	startOperatorWith(t, hp)
	ns := tenantWithPod(t, "dp-haproxy", podIP)
	gpuNode(t, "node-"+ns, node.IP)
	tenantVIP(t, ns, vip, "tenant.example.test")

	// No routing; its idle timeout of 2s bounds its gRPC frontend on the VIP.
	if err := k8s.Create(ctx, &exposurev1alpha1.InferenceExposure{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "triton"}, Spec: exposurev1alpha1.InferenceExposureSpec{
		Selector: map[string]exposurev1alpha1.LabelValue{"app": exposurev1alpha1.LabelValue(ns)},
		Ports:    exposurev1alpha1.ExposurePorts{GRPC: ptr.To[int32](8001)},
		Router:   &exposurev1alpha1.RouterSpec{Type: exposurev1alpha1.RouterNone, Timeouts: &exposurev1alpha1.RouterTimeouts{Idle: "2s"}},
	}}); err != nil {
		t.Fatal(err)
	}
	e := waitReady(t, ns, "triton")
	nodePort := e.Status.NodePorts.GRPC
	check := func(addr string) error { return grpcCheck(plainGRPC(t, addr))() }

	t.Run("kube-proxy forwards the NodePort the operator allocated to the pod", func(t *testing.T) {
		if err := eventuallyOK(func() error { return check(fmt.Sprintf("%s:%d", node.IP, nodePort)) }); err != nil {
			t.Fatalf("gRPC to the node's NodePort %d: %v\nkube-proxy: %s", nodePort, err, kpLog.String())
		}
	})
	t.Run("HAProxy with the operator's configuration carries gRPC from the tenant VIP to the NodePort", func(t *testing.T) {
		vipAddr := fmt.Sprintf("%s:%d", vip, nodePort) // the frontend binds the NodePort's number on the VIP
		hpOut := runHAProxyWithAgent(t, haproxyBin, hp, vipAddr, node.IP)
		if err := eventuallyOK(func() error { return check(vipAddr) }); err != nil {
			t.Fatalf("gRPC through the VIP %s: %v\nhaproxy: %s", vipAddr, err, hpOut.String())
		}
		// A server stream of 8 messages, one every 500 ms, through HAProxy and kube-proxy.
		c, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		stream, err := healthpb.NewHealthClient(plainGRPC(t, vipAddr)).Watch(c, &healthpb.HealthCheckRequest{Service: "model"})
		if err != nil {
			t.Fatal(err)
		}
		for i := range 8 {
			if _, err := stream.Recv(); err != nil {
				t.Fatalf("message %d of the stream: %v", i+1, err)
			}
		}
		// A stream silent for longer than the exposure's idle timeout (2s) is cut by HAProxy: the
		// health service sends one message for a service it does not know, then nothing.
		c2, cancel2 := context.WithTimeout(ctx, 30*time.Second)
		defer cancel2()
		quiet, err := healthpb.NewHealthClient(plainGRPC(t, vipAddr)).Watch(c2, &healthpb.HealthCheckRequest{Service: "quiet"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := quiet.Recv(); err != nil {
			t.Fatalf("the first message of the quiet stream: %v", err)
		}
		start := time.Now()
		if _, err := quiet.Recv(); err == nil || c2.Err() != nil {
			t.Fatalf("a silent stream was not cut by the idle timeout (err %v after %s)", err, time.Since(start))
		} else if took := time.Since(start); took < 1500*time.Millisecond || took > 15*time.Second {
			t.Fatalf("a silent stream was cut after %s, want about the idle timeout of 2s", took)
		}
		// A stream that keeps sending (every 500 ms) outlives the idle timeout by far.
		longStream(t, "HAProxy TCP frontend to the NodePort through kube-proxy", func() (string, error) {
			return grpcFor(func() (*grpc.ClientConn, error) {
				return grpc.NewClient("passthrough:///"+vipAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
			}, grpcLength)
		})()
	})
}

// needHAProxy is the haproxy binary, or skips.
func needHAProxy(t testing.TB) string {
	t.Helper()
	bin, err := exec.LookPath("haproxy")
	if err != nil {
		t.Skip("needs haproxy (Debian package haproxy; .ci/run installs it)")
	}
	return bin
}

// nodeWithKubeProxy makes a node's network namespace with a pod network behind it, and runs a
// real kube-proxy there for the Node node-<name> (tenantWithPod makes it), reaching the API
// server through the node's link. It returns kube-proxy's output.
func nodeWithKubeProxy(t testing.TB, id int, name string) (*dataplane.Node, *dataplane.PodNetwork, *testsupport.Output) {
	t.Helper()
	assets, err := testenv.AssetsDir()
	if err != nil {
		t.Skip(err)
	}
	kubeProxy, err := dataplane.KubeProxyPath(assets)
	if err != nil {
		t.Skip(err)
	}
	node, pods, err := dataplane.NewNode(id)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(node.Close)
	t.Cleanup(pods.Close)
	kubeconfig := filepath.Join(t.TempDir(), "kube-proxy.kubeconfig")
	if err := env.WriteKubeconfig("kube-proxy", kubeconfig); err != nil {
		t.Fatal(err)
	}
	// The API server listens on the host's loopback, which the node's namespace does not share:
	// kube-proxy reaches it through the node's link, still checking the server's certificate
	// for the loopback name.
	kc, err := clientcmd.LoadFromFile(kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	for _, cl := range kc.Clusters {
		u, err := url.Parse(cl.Server)
		if err != nil {
			t.Fatal(err)
		}
		onLink, stopReach, err := node.Reach(u.Host)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(stopReach)
		cl.TLSServerName = u.Hostname()
		cl.Server = "https://" + onLink
	}
	if err := clientcmd.WriteToFile(*kc, kubeconfig); err != nil {
		t.Fatal(err)
	}
	kpLog := &testsupport.Output{}
	stopKP, err := node.StartKubeProxy(kubeProxy, kubeconfig, "node-"+name, "10.250.0.0/16", kpLog)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stopKP()
		if t.Failed() {
			t.Logf("kube-proxy output:\n%s", kpLog.String())
		}
	})
	return node, pods, kpLog
}

// grpcPodBehindNode makes a node with kube-proxy (nodeWithKubeProxy) and a pod behind it whose
// gRPC model server on 8001 streams a message every interval; it returns the pod's address.
func grpcPodBehindNode(t testing.TB, id int, name string, every time.Duration) (*dataplane.Node, string, *testsupport.Output) {
	t.Helper()
	node, pods, kpLog := nodeWithKubeProxy(t, id, name)
	podIP, err := pods.AddPod(10)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := pods.Listen(podIP + ":8001")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(dataplane.ServeGRPCModel(ln, every))
	return node, podIP, kpLog
}

// haproxySettings are the operator's HAProxy settings of a test: its ConfigMaps in their own
// namespace, GPU nodes as backends, ingress nodes on ingressPort, HTTPS frontends on a free
// port of vip, stats on loopback.
func haproxySettings(t testing.TB, namespace, vip string, ingressPort int32) *haproxyconfig.Settings {
	t.Helper()
	if err := k8s.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}}); err != nil {
		t.Fatal(err)
	}
	return &haproxyconfig.Settings{Namespace: namespace, Name: "haproxy", BurstInterval: time.Second,
		BackendNodes: labels.SelectorFromSet(labels.Set{"nvidia.com/gpu.present": "true"}),
		IngressNodes: labels.SelectorFromSet(labels.Set{"node-role.kubernetes.io/ingress": ""}),
		Globals: haproxy.Globals{IngressPort: ingressPort, HTTPSPort: testsupport.FreePort(t, vip),
			StatsBind: fmt.Sprintf("127.0.0.1:%d", testsupport.FreePort(t, "127.0.0.1")),
			Timeout:   300 * time.Second, HardStopAfter: time.Minute, ReservedPorts: haproxy.DefaultReservedPorts}}
}

// labelNode gives the Node these labels and InternalIP.
func labelNode(t testing.TB, name, ip string, nodeLabels map[string]string) {
	t.Helper()
	ctx := context.Background()
	if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		var n corev1.Node
		if err := k8s.Get(ctx, client.ObjectKey{Name: name}, &n); err != nil {
			return err
		}
		n.Labels = nodeLabels
		if err := k8s.Update(ctx, &n); err != nil {
			return err
		}
		n.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: ip}}
		return k8s.Status().Update(ctx, &n)
	}); err != nil {
		t.Fatal(err)
	}
}

// gpuNode makes the Node a GPU node (an HAProxy gRPC backend) at ip.
func gpuNode(t testing.TB, name, ip string) {
	labelNode(t, name, ip, map[string]string{"nvidia.com/gpu.present": "true"})
}

// tenantVIP puts the tenant into the HAProxy configuration on vip, with an HTTPS frontend whose
// certificate (of a throw-away CA) holds names; it returns that CA.
func tenantVIP(t testing.TB, tenant, vip string, names ...string) *testsupport.PKI {
	t.Helper()
	pki := testsupport.NewPKI(t)
	certPath := filepath.Join(t.TempDir(), "tenant.pem")
	pki.WriteServerPEM(t, certPath, names...)
	if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		var tn exposurev1alpha1.InferenceTenant
		if err := k8s.Get(context.Background(), client.ObjectKey{Name: tenant}, &tn); err != nil {
			return err
		}
		tn.Spec.HAProxy = &exposurev1alpha1.TenantHAProxySpec{VIP: vip, CertificatePath: certPath}
		return k8s.Update(context.Background(), &tn)
	}); err != nil {
		t.Fatal(err)
	}
	return pki
}

// runHAProxy waits until the operator's configuration holds every one of want, checks it with
// haproxy -c and runs haproxy on it; it returns haproxy's output and pid.
func runHAProxy(t testing.TB, bin string, hp *haproxyconfig.Settings, want ...string) (*testsupport.Output, int) {
	t.Helper()
	ctx := context.Background()
	cfgText, err := configHolding(func() (string, error) { return haproxyconfig.ReadConfig(ctx, k8s, *hp) }, want)
	if err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(t.TempDir(), "haproxy.cfg")
	if err := os.WriteFile(cfgPath, []byte(cfgText), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bin, "-c", "-f", cfgPath).CombinedOutput(); err != nil {
		t.Fatalf("haproxy -c: %v\n%s\n%s", err, out, cfgText)
	}
	out := testsupport.Start(t, bin, "-db", "-f", cfgPath)
	return out, out.Pid()
}

// configHolding reads the configuration with read until it holds every one of want (at most a
// minute), and returns it.
func configHolding(read func() (string, error), want []string) (string, error) {
	var cfg string
	err := eventuallyOK(func() error {
		var err error
		if cfg, err = read(); err != nil {
			return err
		}
		for _, w := range want {
			if !strings.Contains(cfg, w) {
				return fmt.Errorf("the configuration does not hold %s yet", w)
			}
		}
		return nil
	})
	return cfg, err
}

// runHAProxyWithAgent runs HAProxy as the sample deploys it: in master-worker mode from the
// agent's live directory, with the agent applying the operator's configuration, which the test
// copies from the ConfigMaps into the agent's configuration directory as the kubelet would
// (every 200 ms). It waits until the configuration holds every one of want and the agent has
// applied it, and returns HAProxy's output.
func runHAProxyWithAgent(t testing.TB, bin string, hp *haproxyconfig.Settings, want ...string) *testsupport.Output {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	dir := t.TempDir()
	configDir := filepath.Join(dir, "config")
	if err := os.MkdirAll(configDir, 0o755); err != nil {
		t.Fatal(err)
	}
	// mount writes the ConfigMaps' files that changed, and removes those that went.
	mount := func() (string, error) {
		files, err := haproxyconfig.ReadFiles(ctx, k8s, *hp)
		if err != nil {
			return "", err
		}
		entries, _ := os.ReadDir(configDir)
		for _, e := range entries {
			if _, ok := files[e.Name()]; !ok {
				_ = os.Remove(filepath.Join(configDir, e.Name()))
			}
		}
		var all strings.Builder
		for name, content := range files {
			path := filepath.Join(configDir, name)
			if old, err := os.ReadFile(path); err != nil || string(old) != content {
				if err := os.WriteFile(path+".tmp", []byte(content), 0o600); err != nil {
					return "", err
				}
				if err := os.Rename(path+".tmp", path); err != nil {
					return "", err
				}
			}
			all.WriteString(content)
		}
		return all.String(), nil
	}
	if _, err := configHolding(mount, want); err != nil {
		cancel()
		t.Fatal(err)
	}
	agent := &haproxyagent.Agent{ConfigDir: configDir, LiveDir: filepath.Join(dir, "live", "cfg"), HAProxy: bin,
		Runtime: haproxyagent.Runtime{Socket: filepath.Join(dir, "master.sock")}, PIDFile: filepath.Join(dir, "haproxy.pid"),
		Log: logr.Discard(), Metrics: haproxyagent.NewMetrics(nil)}
	if err := agent.Install(ctx); err != nil {
		cancel()
		t.Fatal(err)
	}
	out := testsupport.Start(t, bin, "-W", "-db", "-S", agent.Runtime.Socket, "-p", agent.PIDFile, "-f", agent.LiveDir)
	done := make(chan struct{}, 2)
	go func() { defer func() { done <- struct{}{} }(); _ = agent.Run(ctx, 200*time.Millisecond) }()
	go func() {
		defer func() { done <- struct{}{} }()
		for tick := time.NewTicker(200 * time.Millisecond); ; {
			select {
			case <-ctx.Done():
				tick.Stop()
				return
			case <-tick.C:
				_, _ = mount()
			}
		}
	}()
	t.Cleanup(func() { cancel(); <-done; <-done })
	if err := eventuallyOK(agent.Ready); err != nil {
		t.Fatalf("the agent never ran the configuration: %v\nhaproxy: %s", err, out.String())
	}
	return out
}

// plainGRPC is a plaintext gRPC connection to addr, closed with the test.
func plainGRPC(t testing.TB, addr string) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient("passthrough:///"+addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

// grpcCheck is one unary health check on conn.
func grpcCheck(conn *grpc.ClientConn) func() error {
	hc := healthpb.NewHealthClient(conn)
	return func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, err := hc.Check(ctx, &healthpb.HealthCheckRequest{})
		return err
	}
}

// TestHAProxyHTTPSToIngress: the recipe's HTTPS chain, client -> the tenant's VIP (HAProxy with
// the operator's configuration, TLS with the tenant's certificate) -> the ingress node (Traefik,
// re-encrypted with the request's host as SNI) -> the pod, with a streamed chat completion; a
// host that is not the tenant's is refused by HAProxy.
func TestHAProxyHTTPSToIngress(t *testing.T) {
	requireDataPlane(t)
	haproxyBin := needHAProxy(t)
	podIP := podNetwork(t, 14, "web-0", 0)
	ep := startTraefik(t)
	ingressClass(t, "traefik", "traefik.io/ingress-controller")
	const vip = "127.0.100.31"
	hp := haproxySettings(t, "dp-hphttps-system", vip, dataplane.Port(ep.WebSecure))
	startOperatorWith(t, hp)

	ns := tenantWithPod(t, "dp-hphttps", podIP)
	host := "web." + ns + "." + hostDomain
	pki := tenantVIP(t, ns, vip, "*."+ns+"."+hostDomain)
	tlsSecret(t, pki, ns, "web-tls", host)
	// The node that runs Traefik is the ingress node: HAProxy's HTTPS backend.
	labelNode(t, "node-"+ns, "127.0.0.1", map[string]string{"node-role.kubernetes.io/ingress": ""})
	exposureOn(t, ns, "web", "traefik", "web-tls", "0", "/v1", "/health")
	waitReady(t, ns, "web")
	front := fmt.Sprintf("%s:%d", vip, hp.Globals.HTTPSPort)
	hpOut := runHAProxyWithAgent(t, haproxyBin, hp, front, fmt.Sprintf("127.0.0.1:%d", dataplane.Port(ep.WebSecure)))
	c := httpsClient(pki, front)

	t.Run("HTTPS through the tenant VIP and the ingress reaches the pod", func(t *testing.T) {
		resp := eventuallyAnswers(t, c, "https://"+host+"/health")
		_ = resp.Body.Close()
		if pod := resp.Header.Get("X-Pod"); pod != "web-0" {
			t.Fatalf("answered by %q\nhaproxy: %s", pod, hpOut.String())
		}
	})
	t.Run("a streamed chat completion arrives whole through both hops", func(t *testing.T) {
		chunks, done, took := streamChat(t, c, "https://"+host+"/v1/chat/completions", 20, 100*time.Millisecond)
		if chunks != 20 || !done {
			t.Fatalf("%d of 20 chunks, [DONE] %v, after %s", chunks, done, took)
		}
	})
	waitSSE := longStream(t, "HAProxy HTTPS frontend to Traefik", func() (string, error) {
		return sseFor(c, "https://"+host+"/v1/chat/completions", sseLength)
	})
	defer waitSSE()
	t.Run("a host that is not the tenant's is refused at the VIP", func(t *testing.T) {
		req, err := http.NewRequest(http.MethodGet, "https://"+host+"/health", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Host = "web.other-tenant.example.org"
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusMisdirectedRequest {
			t.Fatalf("another host through the VIP answered %d", resp.StatusCode)
		}
	})
}

// eventually waits up to a minute for cond, failing with what it last said.
func eventually(t testing.TB, what string, cond func() (bool, string)) {
	t.Helper()
	var last string
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		var ok bool
		if ok, last = cond(); ok {
			return
		}
	}
	t.Fatalf("never %s: %s", what, last)
}

// plainHTTP is a client of the entrypoint over plain HTTP that does not follow redirects.
func plainHTTP(entrypoint string) *http.Client {
	return &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "tcp", entrypoint)
		}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

func getExposure(t testing.TB, ns, name string) *exposurev1alpha1.InferenceExposure {
	t.Helper()
	var e exposurev1alpha1.InferenceExposure
	if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, &e); err != nil {
		t.Fatal(err)
	}
	return &e
}
