package controller

import (
	"context"
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	exposurev1alpha1 "github.com/inference-exposure/inference-exposure-operator/api/v1alpha1"
	"github.com/inference-exposure/inference-exposure-operator/internal/monitoring"
	"github.com/inference-exposure/inference-exposure-operator/test/testenv"
)

// TestPodMonitor: an exposure with spec.metrics (or its tenant's default) gets a PodMonitor that
// scrapes its metrics port with the tenant and the exposure on every series; nodePort.metrics
// false keeps the metrics port off the NodePort Service; turned off, the PodMonitor goes.
func TestPodMonitor(t *testing.T) {
	if _, err := testenv.PodMonitorCRD(); err != nil {
		t.Skipf("needs the PodMonitor CRD from the Prometheus Operator's module: %v", err)
	}
	ns := routingSetup(t, "rt-pm")
	e := newExposure(ns, "triton", ptr.To[int32](8000), ptr.To[int32](8001), ptr.To[int32](8002))
	e.Spec.NodePort.Metrics = ptr.To(false)
	e.Spec.Metrics = &exposurev1alpha1.MetricsSpec{Interval: "15s", Labels: map[string]string{"release": "prometheus"}}
	create(t, e)
	newPM := func() *monitoring.PodMonitor { return &monitoring.PodMonitor{} }
	waitExists(t, ns, "triton", newPM, func(pm *monitoring.PodMonitor) (bool, string) {
		ep := pm.Spec.PodMetricsEndpoints
		return len(ep) == 1 && ptr.Deref(ep[0].PortNumber, 0) == 8002 && ep[0].Interval == "15s" && len(ep[0].Relabelings) == 2 &&
			ptr.Deref(ep[0].Relabelings[0].Replacement, "") == "rt-pm" && pm.Labels["release"] == "prometheus" &&
			pm.Spec.Selector.MatchLabels["app"] == "triton", fmt.Sprintf("%+v %v", pm.Spec, pm.Labels)
	})
	got := waitExposureCondition(t, ns, "triton", "MetricsScraped", "True")
	if c := condition(got.Status.Conditions, "MetricsScraped"); !strings.Contains(c, "tenant=rt-pm") {
		t.Fatalf("MetricsScraped: %s", c)
	}
	got = waitExposureCondition(t, ns, "triton", "Ready", "True")
	svc, _ := get(t, ns, "triton", &corev1.Service{})
	if len(svc.Spec.Ports) != 2 || got.Status.NodePorts == nil || got.Status.NodePorts.Metrics != 0 {
		t.Fatalf("nodePort.metrics false: Service ports %+v, status %+v", svc.Spec.Ports, got.Status.NodePorts)
	}

	// The tenant's default scrapes an exposure that asks nothing itself.
	updateTenant(t, "rt-pm", func(tn *exposurev1alpha1.InferenceTenant) {
		tn.Spec.Metrics = &exposurev1alpha1.MetricsSpec{Interval: "60s"}
	})
	create(t, newExposure(ns, "vllm", ptr.To[int32](8000), nil, ptr.To[int32](8002)))
	waitExists(t, ns, "vllm", newPM, func(pm *monitoring.PodMonitor) (bool, string) {
		return pm.Spec.PodMetricsEndpoints[0].Interval == "60s", fmt.Sprintf("%+v", pm.Spec)
	})

	// Turned off: the PodMonitor and the condition go.
	updateExposure(t, ns, "triton", func(e *exposurev1alpha1.InferenceExposure) {
		e.Spec.Metrics = &exposurev1alpha1.MetricsSpec{PodMonitor: ptr.To(false)}
	})
	waitGone(t, ns, "triton", newPM())
	eventually(t, "MetricsScraped gone", func() (bool, string) {
		c := condition(getExposure(t, ns, "triton").Status.Conditions, "MetricsScraped")
		return c == "", c
	})
}

// TestPodMonitorNotServed: without the Prometheus Operator's API the exposure says so and is
// still Ready; once the CRD is installed, the PodMonitor comes.
func TestPodMonitorNotServed(t *testing.T) {
	crdPath, err := testenv.PodMonitorCRD()
	if err != nil {
		t.Skipf("needs the PodMonitor CRD from the Prometheus Operator's module: %v", err)
	}
	reinstall := withoutCRD(t, "podmonitors.monitoring.coreos.com", crdPath)
	ns := routingSetup(t, "rt-nopm")
	e := newExposure(ns, "triton", ptr.To[int32](8000), nil, ptr.To[int32](8002))
	e.Spec.Metrics = &exposurev1alpha1.MetricsSpec{}
	create(t, e)
	got := waitExposureCondition(t, ns, "triton", "MetricsScraped", "False/APINotServed")
	if c := condition(got.Status.Conditions, "MetricsScraped"); !strings.Contains(c, "monitoring.coreos.com/v1") {
		t.Fatalf("MetricsScraped: %s", c)
	}
	waitExposureCondition(t, ns, "triton", "Ready", "True")

	reinstall()
	waitExists(t, ns, "triton", func() *monitoring.PodMonitor { return &monitoring.PodMonitor{} }, nil)
	waitExposureCondition(t, ns, "triton", "MetricsScraped", "True")
}

// withoutCRD deletes a CRD for one test and returns what installs it again from path (also run
// at the test's end): for the cases of an API the cluster does not serve.
func withoutCRD(t *testing.T, crd, path string) (reinstall func()) {
	t.Helper()
	ctx := context.Background()
	if err := apiextensionsv1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	if err := k8s.Delete(ctx, &apiextensionsv1.CustomResourceDefinition{ObjectMeta: metav1.ObjectMeta{Name: crd}}); client.IgnoreNotFound(err) != nil {
		t.Fatal(err)
	}
	reinstall = func() {
		if _, err := envtest.InstallCRDs(cfg, envtest.CRDInstallOptions{Paths: []string{path}, ErrorIfPathMissing: true}); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(reinstall)
	eventually(t, crd+" gone", func() (bool, string) {
		err := k8s.Get(ctx, client.ObjectKey{Name: crd}, &apiextensionsv1.CustomResourceDefinition{})
		return apierrors.IsNotFound(err), fmt.Sprint(err)
	})
	return reinstall
}
