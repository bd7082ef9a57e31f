package main

import (
	"context"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/inference-exposure/inference-exposure-operator/internal/testsupport"
	"github.com/inference-exposure/inference-exposure-operator/test/dataplane"
	"github.com/inference-exposure/inference-exposure-operator/test/testenv"
)

// The hosts of the samples (config/samples): Triton's explicit host and vLLM's default one,
// each with its gRPC host.
const (
	tritonHost     = "inference-alpha.apps.gpu-cluster.example.com"
	tritonGRPCHost = "inference-alpha-grpc.apps.gpu-cluster.example.com"
	vllmHost       = "vllm.tenant-beta.beta.apps.gpu-cluster.example.com"
	vllmGRPCHost   = "vllm-grpc.tenant-beta.beta.apps.gpu-cluster.example.com"
)

// dataPlane is what serves the samples' routes in the local run: Traefik (its ingress-nginx
// provider serves Triton's nginx Ingress, its Gateway API provider the Gateway vLLM attaches
// to) and the two model servers, in a network namespace standing in for the pod network.
type dataPlane struct {
	traefik *dataplane.Traefik
	pods    *dataplane.PodNetwork
	stops   []func()
	caPath  string
	dir     string
	// ips are the pods' addresses: Triton's, then vLLM's.
	ips [2]string
}

// dataPlaneUnavailable says why this machine cannot run the data plane, or "".
func dataPlaneUnavailable() (traefik, why string) {
	if why := dataplane.CanMakeNetworks(); why != "" {
		return "", why
	}
	bin, err := dataplane.FindTraefik(testenv.RepoRoot())
	if err != nil {
		return "", err.Error()
	}
	return bin, ""
}

// dropRouteAPI removes the Route CRD, so that the sample's router type Auto picks the nginx
// Ingress that Traefik serves, as on a cluster without OpenShift. It runs before the operator
// starts, which asks discovery once at start.
func dropRouteAPI(ctx context.Context, c client.Client) error {
	crd := &unstructured.Unstructured{}
	crd.SetAPIVersion("apiextensions.k8s.io/v1")
	crd.SetKind("CustomResourceDefinition")
	crd.SetName("routes.route.openshift.io")
	if err := c.Delete(ctx, crd); client.IgnoreNotFound(err) != nil {
		return err
	}
	// The API server's finalizer removes a CRD once its objects are gone; on a loaded machine
	// (it also serves the other CRDs' OpenAPI) that took more than 30 s once.
	start := time.Now()
	for deadline := start.Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if err := c.Get(ctx, client.ObjectKeyFromObject(crd), crd.DeepCopy()); apierrors.IsNotFound(err) {
			return nil
		}
	}
	return fmt.Errorf("the Route CRD did not go in %s", time.Since(start).Round(time.Second))
}

// startDataPlane starts the model servers and Traefik, and creates what a platform would have:
// the IngressClass nginx, the Gateway the vLLM sample names, TLS Secrets for the samples' hosts
// from a local CA (written to bin/local/ca.pem), and the Pods the samples select, Running and
// Ready at addresses in the pod network. Run it after the samples' namespaces exist.
func startDataPlane(ctx context.Context, env *testenv.Env, c client.Client, traefikBin, dir string) (*dataPlane, error) {
	d := &dataPlane{caPath: filepath.Join(dir, "ca.pem"), dir: dir}
	fail := func(err error) (*dataPlane, error) { d.Stop(); return nil, err }
	var err error
	if d.pods, err = dataplane.NewPodNetwork(77); err != nil {
		return fail(err)
	}
	for i, pod := range []string{"triton-0", "vllm-0"} {
		ip, err := d.pods.AddPod(10 + i)
		if err != nil {
			return fail(err)
		}
		d.ips[i] = ip
		ln, err := d.pods.Listen(ip + ":8000")
		if err != nil {
			return fail(err)
		}
		d.stops = append(d.stops, dataplane.ServeModel(ln, pod))
		gln, err := d.pods.Listen(ip + ":8001")
		if err != nil {
			return fail(err)
		}
		d.stops = append(d.stops, dataplane.ServeGRPCModel(gln, time.Second))
	}
	web, websecure, err := freeLoopbackPorts()
	if err != nil {
		return fail(err)
	}
	kubeconfig := filepath.Join(dir, "traefik.kubeconfig")
	if err := env.WriteKubeconfig("traefik", kubeconfig); err != nil {
		return fail(err)
	}
	if d.traefik, err = dataplane.StartTraefik(traefikBin, kubeconfig, dir, web, websecure); err != nil {
		return fail(err)
	}

	ca, err := testsupport.NewCA(24 * time.Hour)
	if err != nil {
		return fail(err)
	}
	if err := os.WriteFile(d.caPath, ca.CAPEM(), 0o644); err != nil {
		return fail(err)
	}
	alpha, err := secretOf(ca, "tenant-alpha", "alpha-tls-cert", tritonHost, tritonGRPCHost)
	if err != nil {
		return fail(err)
	}
	gwCert, err := secretOf(ca, "gateway-system", "ai-gateway-tls", vllmHost, vllmGRPCHost)
	if err != nil {
		return fail(err)
	}
	from := gatewayv1.NamespacesFromAll
	objs := []client.Object{
		&networkingv1.IngressClass{ObjectMeta: metav1.ObjectMeta{Name: "nginx"}, Spec: networkingv1.IngressClassSpec{Controller: "k8s.io/ingress-nginx"}},
		&gatewayv1.GatewayClass{ObjectMeta: metav1.ObjectMeta{Name: "traefik"}, Spec: gatewayv1.GatewayClassSpec{ControllerName: "traefik.io/gateway-controller"}},
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "gateway-system"}},
		gwCert,
		&gatewayv1.Gateway{ObjectMeta: metav1.ObjectMeta{Namespace: "gateway-system", Name: "ai-gateway"}, Spec: gatewayv1.GatewaySpec{
			GatewayClassName: "traefik",
			Listeners: []gatewayv1.Listener{{Name: "https", Port: dataplane.Port(websecure), Protocol: gatewayv1.HTTPSProtocolType,
				TLS:           &gatewayv1.ListenerTLSConfig{Mode: ptr.To(gatewayv1.TLSModeTerminate), CertificateRefs: []gatewayv1.SecretObjectReference{{Name: "ai-gateway-tls"}}},
				AllowedRoutes: &gatewayv1.AllowedRoutes{Namespaces: &gatewayv1.RouteNamespaces{From: &from}}}},
		}},
		alpha,
	}
	for _, o := range objs {
		if err := c.Create(ctx, o); err != nil {
			return fail(fmt.Errorf("creating %T %s: %w", o, o.GetName(), err))
		}
	}
	for i, p := range []struct{ ns, name, app, node string }{
		{"tenant-alpha", "triton-0", "triton-inference", "gpu-1"},
		{"tenant-beta", "vllm-0", "vllm-serving", "gpu-2"},
	} {
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: p.ns, Name: p.name, Labels: map[string]string{"app": p.app}},
			Spec: corev1.PodSpec{NodeName: p.node, Containers: []corev1.Container{{Name: "server", Image: "model-server"}}}}
		if err := c.Create(ctx, pod); err != nil {
			return fail(err)
		}
		// What a kubelet would report: the pod runs, is ready, and has its address.
		pod.Status = corev1.PodStatus{Phase: corev1.PodRunning, PodIP: d.ips[i], PodIPs: []corev1.PodIP{{IP: d.ips[i]}}, StartTime: ptr.To(metav1.Now()),
			Conditions: []corev1.PodCondition{
				{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.Now()},
				{Type: corev1.ContainersReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.Now()},
			}}
		if err := c.Status().Update(ctx, pod); err != nil {
			return fail(err)
		}
	}
	return d, nil
}

// Stop stops Traefik and the model servers and removes the pod network.
func (d *dataPlane) Stop() {
	if d.traefik != nil {
		d.traefik.Close()
	}
	for _, s := range d.stops {
		s()
	}
	if d.pods != nil {
		d.pods.Close()
	}
	for _, f := range []string{d.caPath, "traefik.kubeconfig", "traefik.yaml", "traefik-run"} {
		_ = os.RemoveAll(filepath.Join(d.dir, filepath.Base(f)))
	}
}

// waitServing waits (at most 30 s) until Traefik answers for both samples with their
// certificates, so that the lines printed work when pasted.
func (d *dataPlane) waitServing(ctx context.Context) error {
	ca, err := os.ReadFile(d.caPath)
	if err != nil {
		return err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	hc := dataplane.HTTPSClient(pool, d.traefik.WebSecure)
	hc.Timeout = 5 * time.Second
	last := ""
	for _, url := range []string{"https://" + tritonHost + "/health", "https://" + vllmHost + "/v1/chat/completions"} {
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
			if ctx.Err() != nil || time.Now().After(deadline) {
				return fmt.Errorf("%s does not answer yet: %s", url, last)
			}
			resp, err := hc.Get(url)
			if err != nil {
				last = err.Error()
				continue
			}
			_ = resp.Body.Close()
			// The chat endpoint wants a POST: any answer from the pod means the route serves.
			if resp.Header.Get("X-Pod") != "" || resp.StatusCode == http.StatusMethodNotAllowed {
				break
			}
			last = resp.Status
		}
	}
	return nil
}

// Howto is what a newcomer pastes to call the samples.
func (d *dataPlane) Howto() []string {
	port := dataplane.Port(d.traefik.WebSecure)
	resolve := func(host string) string { return fmt.Sprintf("--resolve %s:%d:127.0.0.1", host, port) }
	return []string{
		fmt.Sprintf("curl --cacert %s %s https://%s:%d/health", d.caPath, resolve(tritonHost), tritonHost, port),
		fmt.Sprintf(`curl -N --cacert %s %s https://%s:%d/v1/chat/completions -H 'Content-Type: application/json' -d '{"model":"llama","stream":true,"max_tokens":5,"messages":[{"role":"user","content":"hi"}]}'`,
			d.caPath, resolve(vllmHost), vllmHost, port),
		fmt.Sprintf("grpcurl -cacert %s -authority %s 127.0.0.1:%d grpc.health.v1.Health/Check   (gRPC over TLS to vLLM's gRPC port through the Gateway's GRPCRoute; grpcurl: go install github.com/fullstorydev/grpcurl/cmd/grpcurl@latest)",
			d.caPath, vllmGRPCHost, port),
	}
}

func freeLoopbackPorts() (string, string, error) {
	var addrs []string
	var lns []net.Listener
	defer func() {
		for _, l := range lns {
			_ = l.Close()
		}
	}()
	for range 2 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return "", "", err
		}
		lns = append(lns, l)
		addrs = append(addrs, l.Addr().String())
	}
	return addrs[0], addrs[1], nil
}

// secretOf is a kubernetes.io/tls Secret for hosts from ca.
func secretOf(ca *testsupport.PKI, ns, name string, hosts ...string) (*corev1.Secret, error) {
	cert, key, err := ca.IssuePEM(hosts...)
	if err != nil {
		return nil, err
	}
	return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Type: corev1.SecretTypeTLS,
		Data: map[string][]byte{corev1.TLSCertKey: cert, corev1.TLSPrivateKeyKey: key}}, nil
}
