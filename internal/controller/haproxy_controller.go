package controller

import (
	"context"
	"fmt"
	"net/netip"
	"slices"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/record"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	exposurev1alpha1 "github.com/inference-exposure/inference-exposure-operator/api/v1alpha1"
	"github.com/inference-exposure/inference-exposure-operator/internal/metrics"
	"github.com/inference-exposure/inference-exposure-operator/internal/render/haproxy"
	"github.com/inference-exposure/inference-exposure-operator/internal/render/router"
)

// HAProxySettings configure the rendered HAProxy configuration; they come from flags.
type HAProxySettings struct {
	// Namespace and Name of the ConfigMap holding haproxy.cfg.
	Namespace, Name string
	// BackendNodes selects the nodes gRPC frontends forward to (their NodePorts).
	BackendNodes labels.Selector
	// IngressNodes selects the nodes running the ingress controller.
	IngressNodes labels.Selector
	haproxy.Globals
}

// ConfigKey is the ConfigMap key holding the configuration.
const ConfigKey = "haproxy.cfg"

// HAProxyReconciler renders one HAProxy configuration for all tenants into a ConfigMap.
type HAProxyReconciler struct {
	client.Client
	Recorder record.EventRecorder
	Settings HAProxySettings
}

// +kubebuilder:rbac:groups="",resources=nodes,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=configmaps,verbs=get;list;watch;create;update;patch
// +kubebuilder:rbac:groups=exposure.inference.dev,resources=inferencetenants/status,verbs=get;update;patch

// Reconcile renders the configuration and writes it when it changed.
func (r *HAProxyReconciler) Reconcile(ctx context.Context, _ ctrl.Request) (ctrl.Result, error) {
	var tl exposurev1alpha1.InferenceTenantList
	var el exposurev1alpha1.InferenceExposureList
	var nl corev1.NodeList
	for _, l := range []client.ObjectList{&tl, &el, &nl} {
		if err := r.List(ctx, l); err != nil {
			return ctrl.Result{}, fmt.Errorf("listing: %w", err)
		}
	}
	in := BuildHAProxyInput(r.Settings, tl.Items, el.Items, nl.Items)
	cfg, rejected := haproxy.Render(in)
	metrics.HAProxyConfigBytes.Set(float64(len(cfg)))
	metrics.HAProxyRejectedTenants.Set(float64(len(rejected)))

	conflict, err := r.applyConfigMap(ctx, cfg)
	if err != nil {
		return ctrl.Result{}, err
	}

	why := map[string]*haproxy.TenantError{}
	for _, e := range rejected {
		why[e.Tenant] = e
	}
	for i := range tl.Items {
		t := &tl.Items[i]
		if !t.DeletionTimestamp.IsZero() {
			continue
		}
		status := t.Status.DeepCopy()
		switch e := why[t.Name]; {
		case t.Spec.HAProxy == nil:
			meta.RemoveStatusCondition(&status.Conditions, exposurev1alpha1.ConditionHAProxyConfigured)
		case conflict != "":
			setCondition(r.Recorder, t, &status.Conditions, t.Generation, exposurev1alpha1.ConditionHAProxyConfigured, metav1.ConditionFalse, exposurev1alpha1.ReasonConfigMapNotManaged, conflict, true)
		case e != nil:
			setCondition(r.Recorder, t, &status.Conditions, t.Generation, exposurev1alpha1.ConditionHAProxyConfigured, metav1.ConditionFalse, e.Reason, e.Msg, true)
		default:
			setCondition(r.Recorder, t, &status.Conditions, t.Generation, exposurev1alpha1.ConditionHAProxyConfigured, metav1.ConditionTrue, exposurev1alpha1.ReasonHAProxyRendered,
				fmt.Sprintf("frontends on %s are in ConfigMap %s/%s", t.Spec.HAProxy.VIP, r.Settings.Namespace, r.Settings.Name), true)
		}
		if equality.Semantic.DeepEqual(&t.Status, status) {
			continue
		}
		t.Status = *status
		if err := r.Status().Update(ctx, t, client.FieldOwner(FieldManager)); apierrors.IsConflict(err) || apierrors.IsNotFound(err) {
			return ctrl.Result{RequeueAfter: conflictRetry}, nil
		} else if err != nil {
			return ctrl.Result{}, fmt.Errorf("writing tenant status: %w", err)
		}
	}
	return ctrl.Result{}, nil
}

// applyConfigMap writes cfg when it differs from what the ConfigMap holds. A ConfigMap of that
// name that the operator does not manage is left alone; the returned message says so.
func (r *HAProxyReconciler) applyConfigMap(ctx context.Context, cfg string) (string, error) {
	key := types.NamespacedName{Namespace: r.Settings.Namespace, Name: r.Settings.Name}
	cm := &corev1.ConfigMap{}
	err := r.Get(ctx, key, cm)
	if apierrors.IsNotFound(err) {
		cm = &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name}}
		r.setData(cm, cfg)
		if err := r.Create(ctx, cm, client.FieldOwner(FieldManager)); err != nil && !apierrors.IsAlreadyExists(err) {
			return "", fmt.Errorf("creating ConfigMap %s: %w", key, err)
		}
		metrics.HAProxyRenders.WithLabelValues("written").Inc()
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("reading ConfigMap %s: %w", key, err)
	}
	if cm.Labels[exposurev1alpha1.LabelManagedBy] != exposurev1alpha1.ManagedByValue {
		return fmt.Sprintf("ConfigMap %s exists and is not managed by the operator (label %s=%s missing); it is left alone: delete it or choose another name with --haproxy-configmap-name",
			key, exposurev1alpha1.LabelManagedBy, exposurev1alpha1.ManagedByValue), nil
	}
	updated := cm.DeepCopy()
	r.setData(updated, cfg)
	if equality.Semantic.DeepEqual(cm, updated) {
		metrics.HAProxyRenders.WithLabelValues("unchanged").Inc()
		return "", nil
	}
	if err := r.Update(ctx, updated, client.FieldOwner(FieldManager)); err != nil && !apierrors.IsConflict(err) {
		return "", fmt.Errorf("updating ConfigMap %s: %w", key, err)
	}
	metrics.HAProxyRenders.WithLabelValues("written").Inc()
	return "", nil
}

func (r *HAProxyReconciler) setData(cm *corev1.ConfigMap, cfg string) {
	if cm.Labels == nil {
		cm.Labels = map[string]string{}
	}
	cm.Labels[exposurev1alpha1.LabelManagedBy] = exposurev1alpha1.ManagedByValue
	if cm.Annotations == nil {
		cm.Annotations = map[string]string{}
	}
	cm.Annotations[exposurev1alpha1.AnnotationChecksum] = haproxy.Checksum(cfg)
	if cm.Data == nil {
		cm.Data = map[string]string{}
	}
	cm.Data[ConfigKey] = cfg
}

// BuildHAProxyInput turns the cluster's tenants, exposures and nodes into the renderer's input.
// Pure: it reads only its arguments.
func BuildHAProxyInput(s HAProxySettings, tenants []exposurev1alpha1.InferenceTenant, exposures []exposurev1alpha1.InferenceExposure, nodes []corev1.Node) haproxy.Input {
	in := haproxy.Input{
		Globals:      s.Globals,
		BackendNodes: selectNodes(nodes, s.BackendNodes),
		IngressNodes: selectNodes(nodes, s.IngressNodes),
	}
	for i := range tenants {
		t := &tenants[i]
		if t.Spec.HAProxy == nil || !t.DeletionTimestamp.IsZero() {
			continue
		}
		ht := haproxy.Tenant{Name: t.Name, VIP: t.Spec.HAProxy.VIP, CertificatePath: t.Spec.HAProxy.CertificatePath}
		for j := range exposures {
			e := &exposures[j]
			if e.Status.Tenant != t.Name || e.Status.NodePorts == nil || e.Status.NodePorts.GRPC == 0 || !slices.Contains(t.Status.Namespaces, e.Namespace) {
				continue
			}
			f := haproxy.GRPCFrontend{Namespace: e.Namespace, Exposure: e.Name, NodePort: e.Status.NodePorts.GRPC, BindPort: e.Status.NodePorts.GRPC}
			if e.Spec.HAProxy != nil && e.Spec.HAProxy.GRPCFrontendPort != nil {
				f.BindPort = *e.Spec.HAProxy.GRPCFrontendPort
			}
			if e.Spec.Router != nil { // the exposure's own timeout bounds its streams here too
				if f.Timeout = router.Timeout(e); f.Timeout == 0 {
					f.Timeout = router.NoLimit
				}
			}
			ht.GRPC = append(ht.GRPC, f)
		}
		in.Tenants = append(in.Tenants, ht)
	}
	return in
}

// selectNodes returns the Ready nodes matching sel, by their InternalIP.
func selectNodes(nodes []corev1.Node, sel labels.Selector) []haproxy.Node {
	var out []haproxy.Node
	for i := range nodes {
		n := &nodes[i]
		if !sel.Matches(labels.Set(n.Labels)) || !nodeReady(n) || !n.DeletionTimestamp.IsZero() {
			continue
		}
		for _, a := range n.Status.Addresses {
			if a.Type != corev1.NodeInternalIP {
				continue
			}
			if ip, err := netip.ParseAddr(a.Address); err == nil {
				out = append(out, haproxy.Node{Name: n.Name, IP: ip})
				break
			}
		}
	}
	return out
}

func nodeReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// nodeChanged lets through only node updates that can change the configuration, not the
// kubelet's heartbeats.
func nodeChanged(e event.UpdateEvent) bool {
	a, okA := e.ObjectOld.(*corev1.Node)
	b, okB := e.ObjectNew.(*corev1.Node)
	if !okA || !okB {
		return true
	}
	return nodeReady(a) != nodeReady(b) || !equality.Semantic.DeepEqual(a.Labels, b.Labels) ||
		!equality.Semantic.DeepEqual(a.Status.Addresses, b.Status.Addresses) || a.DeletionTimestamp.IsZero() != b.DeletionTimestamp.IsZero()
}

// SetupWithManager registers the HAProxy controller. Every change funnels into one request:
// the configuration is rendered as a whole.
func (r *HAProxyReconciler) SetupWithManager(mgr ctrl.Manager) error {
	all := handler.EnqueueRequestsFromMapFunc(func(context.Context, client.Object) []reconcile.Request {
		return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: r.Settings.Namespace, Name: r.Settings.Name}}}
	})
	ours := predicate.NewPredicateFuncs(func(o client.Object) bool {
		return o.GetNamespace() == r.Settings.Namespace && o.GetName() == r.Settings.Name
	})
	return ctrl.NewControllerManagedBy(mgr).
		Named("haproxy").
		Watches(&exposurev1alpha1.InferenceTenant{}, all).
		Watches(&exposurev1alpha1.InferenceExposure{}, all).
		Watches(&corev1.Node{}, all, builder.WithPredicates(predicate.Funcs{UpdateFunc: nodeChanged})).
		Watches(&corev1.ConfigMap{}, all, builder.WithPredicates(ours)).
		Complete(r)
}
