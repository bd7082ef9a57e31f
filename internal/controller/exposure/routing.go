package exposure

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	exposurev1alpha1 "github.com/inference-exposure/inference-exposure-operator/api/v1alpha1"
	"github.com/inference-exposure/inference-exposure-operator/internal/conditions"
	"github.com/inference-exposure/inference-exposure-operator/internal/envoygateway"
	"github.com/inference-exposure/inference-exposure-operator/internal/kubecache"
	"github.com/inference-exposure/inference-exposure-operator/internal/phases"
	"github.com/inference-exposure/inference-exposure-operator/internal/render"
	"github.com/inference-exposure/inference-exposure-operator/internal/render/router"
)

// inlineResync is how often an exposure with an inline Route certificate re-reads its Secret:
// Secrets are not watched (caching every Secret of the cluster costs memory and trust).
const inlineResync = 10 * time.Minute

// resolveRouterType turns Auto into a kind and checks that the cluster serves it.
func (r *Reconciler) resolveRouterType(exp *exposurev1alpha1.InferenceExposure) (exposurev1alpha1.RouterType, error) {
	spec := exp.Spec.Router
	served := func(kinds []schema.GroupVersionKind) bool {
		return !slices.ContainsFunc(kinds, func(k schema.GroupVersionKind) bool { return !r.APIs.Served(k) })
	}
	t := spec.Type
	if t == "" || t == exposurev1alpha1.RouterAuto {
		switch {
		case served(router.Needs(exposurev1alpha1.RouterRoute, exp)):
			t = exposurev1alpha1.RouterRoute
		case spec.Gateway != nil && served(router.Needs(exposurev1alpha1.RouterGateway, exp)):
			t = exposurev1alpha1.RouterGateway
		default:
			t = exposurev1alpha1.RouterIngress
		}
	}
	missing := slices.DeleteFunc(router.Needs(t, exp), r.APIs.Served)
	if len(missing) > 0 {
		names := make([]string, len(missing))
		for i, k := range missing {
			names[i] = k.Kind + " (" + k.GroupVersion().String() + ")"
		}
		return t, &router.Error{Reason: exposurev1alpha1.ReasonAPINotServed, Message: fmt.Sprintf(
			"router.type %s needs %s, which this cluster does not serve: install the CRDs or choose another router.type; existing routing objects are kept",
			t, strings.Join(names, " and "))}
	}
	return t, nil
}

// reconcileRouting applies the exposure's routing objects and removes the ones it no longer
// needs. Decisions the user has to act on become conditions; errors are for the API server.
func (r *Reconciler) reconcileRouting(ctx context.Context, s *exposureScope) (ctrl.Result, error) {
	exp, tenant, status, conds := s.exp, s.tenant, s.status, s.conds
	spec := exp.Spec.Router
	if spec == nil || spec.Type == exposurev1alpha1.RouterNone {
		if err := r.removeRouting(ctx, exp, nil); err != nil {
			return ctrl.Result{}, err
		}
		clearRouting(status, spec == nil)
		if spec != nil {
			conds.True(exposurev1alpha1.ConditionRouted, exposurev1alpha1.ReasonRouterNone, "router.type is None: no routing objects")
		}
		return ctrl.Result{}, nil
	}
	// From here on, a failed decision keeps whatever routing objects exist: nothing a user
	// already had is lost because of a typo. A host conflict is the exception (below).
	fail := func(err error) (ctrl.Result, error) {
		var re *router.Error
		if !errors.As(err, &re) {
			return ctrl.Result{}, err
		}
		conds.Failed(exposurev1alpha1.ConditionRouted, re.Reason, re.Message)
		return ctrl.Result{}, nil
	}

	// A Gateway exposure without a parentRef attaches to its tenant's ListenerSet.
	exp, err := router.WithTenantGateway(exp, tenant)
	if err != nil {
		return fail(err)
	}
	spec = exp.Spec.Router
	typ, err := r.resolveRouterType(exp)
	if err != nil {
		return fail(err)
	}
	domains, err := r.hostDomains(ctx)
	if err != nil {
		return ctrl.Result{}, err
	}
	policy := router.PolicyOf(tenant, domains)
	host, grpcHost, err := router.Hosts(exp, policy)
	if re := (*router.Error)(nil); errors.As(err, &re) && (re.Reason == exposurev1alpha1.ReasonHostConflict || !allowsRouted(policy, status)) {
		// The host is another tenant's (its domain is more specific), or the platform took back
		// what the routing objects serve (a grant, a hostDomain): stop routing it at once.
		if err := r.removeRouting(ctx, exp, nil); err != nil {
			return ctrl.Result{}, err
		}
		clearRouting(status, false)
		conds.Failed(exposurev1alpha1.ConditionRouted, re.Reason, re.Message)
		return ctrl.Result{}, nil
	}
	if err != nil {
		return fail(err)
	}
	in := router.Input{Exposure: exp, Tenant: tenant.Name, Type: typ, Host: host, GRPCHost: grpcHost}
	if typ == exposurev1alpha1.RouterIngress {
		// The class's controller decides the annotations (unknown while the class is missing:
		// its name does, and the Ingress's condition says the class is missing).
		ic, err := r.lookupIngressClass(ctx, router.IngressClassName(exp))
		if err != nil {
			return ctrl.Result{}, err
		}
		if ic != nil {
			in.IngressController = ic.Spec.Controller
		}
	}
	var gwClass *gatewayv1.GatewayClass // the class of the exposure's Gateway, when it has one
	if typ == exposurev1alpha1.RouterGateway && spec.Gateway != nil {
		ref := router.ParentRef(exp)
		gw := types.NamespacedName{Namespace: string(*ref.Namespace), Name: string(ref.Name)}
		if *ref.Kind == router.KindListenerSet && tenant.Spec.Gateway != nil {
			gw = types.NamespacedName{Namespace: tenant.Spec.Gateway.ParentRef.Namespace, Name: tenant.Spec.Gateway.ParentRef.Name}
		}
		if gwClass, err = r.gatewayClassOf(ctx, gw); err != nil {
			return ctrl.Result{}, err
		}
		// On Envoy Gateway the timeouts the standard routes cannot hold go into its policy.
		in.GatewayPolicies = gwClass != nil && gwClass.Spec.ControllerName == envoygateway.ControllerName &&
			router.Termination(exp) != exposurev1alpha1.TLSPassthrough && r.APIs.Served(router.BackendTrafficPolicyGVK)
	}
	for _, h := range []string{host, grpcHost} {
		if !policy.Grants(h) && r.foreign.servedBefore(h, exp.Namespace, exp.CreationTimestamp) {
			// A routing object the operator did not make serves the host from another
			// namespace, since before this exposure: the host is taken, unless the platform
			// granted it to the tenant by name (a move into an exposure).
			if err := r.removeRouting(ctx, exp, nil); err != nil {
				return ctrl.Result{}, err
			}
			clearRouting(status, false)
			conds.Failed(exposurev1alpha1.ConditionRouted, exposurev1alpha1.ReasonHostConflict, fmt.Sprintf(
				"host %s is already served from another namespace by a routing object that is older than this exposure: choose another router.host; nothing is routed for this exposure until then", h))
			return ctrl.Result{}, nil
		}
	}

	conflict, err := r.hostConflict(ctx, exp, in, domains)
	if err != nil {
		return ctrl.Result{}, err
	}
	if conflict != nil {
		// The older exposure keeps the host: this one must not keep routing it either.
		if err := r.removeRouting(ctx, exp, nil); err != nil {
			return ctrl.Result{}, err
		}
		clearRouting(status, false)
		conds.Failed(exposurev1alpha1.ConditionRouted, exposurev1alpha1.ReasonHostConflict, conflict.Message())
		return ctrl.Result{}, nil
	}

	result := ctrl.Result{}
	if typ == exposurev1alpha1.RouterRoute && spec.TLS != nil && spec.TLS.Inline != nil && *spec.TLS.Inline {
		if !r.InlineCertificates {
			// Copying a Secret into a Route means reading Secrets: a right the platform
			// grants the operator on purpose (--inline-route-certificates), or not at all.
			return fail(&router.Error{Reason: exposurev1alpha1.ReasonInlineDisabled, Message: "router.tls.inline needs the operator to read Secrets, which this installation does not allow (--inline-route-certificates): drop inline to use spec.tls.externalCertificate, or ask the platform team"})
		}
		cert, err := r.inlineCertificate(ctx, exp)
		if err != nil {
			return fail(err)
		}
		in.Inline = cert
		result.RequeueAfter = inlineResync
	}
	in.InferencePools = r.APIs.Served(router.InferencePoolGVK)
	in.EndpointPicker = tenant.Spec.EndpointPicker
	in.Policy = router.PolicyFor(tenant)
	applied, refused := router.FilterAnnotations(spec.Annotations, in.Policy)
	in.Annotations = applied
	desired, err := router.Build(in)
	if err != nil {
		return fail(err)
	}
	refused = append(refused, router.Overridden(in, desired)...)
	switch {
	case len(refused) > 0:
		conds.Failed(exposurev1alpha1.ConditionAnnotationsApplied, exposurev1alpha1.ReasonAnnotationsRefused, router.RefusalMessage(refused))
	case len(spec.Annotations) > 0:
		conds.True(exposurev1alpha1.ConditionAnnotationsApplied, exposurev1alpha1.ReasonApplied, "every router.annotations key is applied")
	default:
		conds.Remove(exposurev1alpha1.ConditionAnnotationsApplied)
	}
	// Keys before applying: the client clears a typed object's kind when it decodes a response.
	keys := router.Keys(desired)
	// An exposure created while this process runs, routed for the first time, controls no
	// routing objects yet: nothing to clean up (freshExposures).
	fresh := r.fresh.take(exp)

	// Apply, then read each object's verdict from its controller.
	verdicts := map[string][]client.Object{}
	inUse := map[string]bool{exposurev1alpha1.ConditionRouted: true}
	var conflicts []string
	kinds := map[string]router.Kind{} // condition type -> the kind reporting it
	for _, obj := range desired {
		gvk := obj.GetObjectKind().GroupVersionKind()
		kind, err := router.KindFor(gvk)
		if err != nil {
			return ctrl.Result{}, err
		}
		c := kind.Condition(exp, obj.GetName())
		kinds[c] = kind
		live, err := r.applyRouting(ctx, exp, kind, obj)
		if apierrors.IsAlreadyExists(err) || apierrors.IsConflict(err) {
			// The cache is behind a write (ours or another process's): look again shortly.
			return ctrl.Result{RequeueAfter: conditions.ConflictRetry}, nil
		}
		var re *router.Error
		switch {
		case errors.As(err, &re) && re.Reason == exposurev1alpha1.ReasonRouterConflict:
			conflicts = append(conflicts, re.Message)
			inUse[c] = true
			conds.Failed(c, re.Reason, re.Message)
			continue
		case err != nil:
			return fail(err)
		}
		verdicts[c] = append(verdicts[c], live)
	}
	// What each object's controller says; where none has reported yet, what the cluster says
	// of its IngressClass or Gateway, and how long it has waited.
	settled := map[string]router.Verdict{}
	for c, objs := range verdicts {
		if inUse[c] {
			continue // a conflicting object already made it False
		}
		v := kinds[c].Verdict(exp, objs)
		if v.Status == metav1.ConditionUnknown {
			srv, err := r.serverOf(ctx, kinds[c].ServedBy(exp, objs[0]), objs[0])
			if err != nil {
				return ctrl.Result{}, err
			}
			var after time.Duration
			v, after = settle(v, srv, meta.FindStatusCondition(exp.Status.Conditions, c), time.Now(), r.ReportTimeout)
			result = phases.Earliest(result, ctrl.Result{RequeueAfter: after})
		}
		settled[c] = v
	}
	// Auto moving to another kind (the Route API appeared, say) keeps the objects that served
	// until a controller has admitted every new one: a working path is never dropped for one
	// nothing serves yet.
	keep, serving := keys, typ
	if prev := exp.Status.Router; prev != nil && (spec.Type == "" || spec.Type == exposurev1alpha1.RouterAuto) &&
		prev.Type != typ && len(prev.Objects) > 0 && (len(conflicts) > 0 || !allAdmitted(settled)) {
		keep, serving = append(slices.Clone(keys), prev.Objects...), prev.Type
	}
	if !fresh && !routingSettled(exp, serving, keep) {
		if err := r.removeRouting(ctx, exp, keep); err != nil {
			return ctrl.Result{}, err
		}
	}

	for c, v := range settled {
		inUse[c] = true
		conds.Verdict(c, v.Status, v.Reason, v.Message)
	}
	for _, c := range router.Conditions() {
		if !inUse[c] {
			conds.Remove(c)
		}
	}

	inferencePoolsServed(in, conds)
	timeoutsApplied(in, gwClass, conds)
	settingsApplied(in, conds)
	status.Router = &exposurev1alpha1.RouterStatus{Type: serving, Host: host, Objects: keep}
	status.URL = router.URL(in)
	status.GRPCAddress = router.GRPCAddress(in)
	if len(conflicts) > 0 {
		conds.Failed(exposurev1alpha1.ConditionRouted, exposurev1alpha1.ReasonRouterConflict, strings.Join(conflicts, "; "))
		return result, nil
	}
	msg := fmt.Sprintf("%s routing in place: %s", typ, strings.Join(keys, ", "))
	if serving != typ {
		msg = fmt.Sprintf("Auto moves to %s (%s); the %s routing keeps serving until a controller admits them", typ, strings.Join(keys, ", "), serving)
	}
	if typ == exposurev1alpha1.RouterRoute && router.RoutesGRPC(exp) && router.Termination(exp) != exposurev1alpha1.TLSReencrypt {
		msg += fmt.Sprintf("; the gRPC Route is Passthrough, so port %d must serve TLS (the OpenShift router speaks HTTP/1.1 to pods behind Edge Routes)", *exp.Spec.Ports.GRPC)
	}
	conds.True(exposurev1alpha1.ConditionRouted, exposurev1alpha1.ReasonRouted, msg)
	return result, nil
}

// allAdmitted reports whether every routing object just applied has its controller's True
// verdict (or its class says its controller never reports).
func allAdmitted(settled map[string]router.Verdict) bool {
	for _, v := range settled {
		if v.Status != metav1.ConditionTrue {
			return false
		}
	}
	return true
}

// applyRouting creates or applies the object; it writes nothing when the object already
// matches. An object of that name the exposure does not control is left alone and reported.
func (r *Reconciler) applyRouting(ctx context.Context, exp *exposurev1alpha1.InferenceExposure, kind router.Kind, desired client.Object) (client.Object, error) {
	gvk := kind.GVK()
	existing := kind.New()
	// Read-only (the up-to-date check, the verdicts): the cache's object, not a deep copy.
	err := r.Get(ctx, client.ObjectKeyFromObject(desired), existing, client.UnsafeDisableDeepCopy)
	switch {
	case apierrors.IsNotFound(err):
		existing = nil
	case err != nil:
		return nil, fmt.Errorf("reading %s %s: %w", gvk.Kind, desired.GetName(), err)
	case !render.IsControlledBy(existing, exp):
		return nil, routerConflict(gvk, exp, desired.GetName())
	}
	key := client.ObjectKeyFromObject(desired)
	r.echoes.Begin(gvk.Kind, key, time.Now())
	live, wrote, err := r.children().Apply(ctx, existing, desired)
	written := live
	if err != nil || !wrote {
		written = nil
	}
	r.echoes.End(gvk.Kind, key, client.ObjectKeyFromObject(exp), written)
	if apierrors.IsAlreadyExists(err) {
		if other, rerr := r.heldByOther(ctx, exp, kind.New(), desired); rerr != nil {
			return nil, rerr
		} else if other {
			return nil, routerConflict(gvk, exp, desired.GetName())
		}
	}
	if err != nil {
		return nil, routingWriteError(gvk, desired, err)
	}
	return live, nil
}

// routerConflict reports a routing object of the exposure's name that it does not control.
func routerConflict(gvk schema.GroupVersionKind, exp *exposurev1alpha1.InferenceExposure, name string) error {
	return &router.Error{Reason: exposurev1alpha1.ReasonRouterConflict, Message: fmt.Sprintf(
		"%s %s/%s already exists and is not owned by this exposure; it is left alone: delete it or rename the exposure",
		gvk.Kind, exp.Namespace, name)}
}

// routingWriteError turns the API server's refusal into a condition the user can act on.
func routingWriteError(gvk schema.GroupVersionKind, obj client.Object, err error) error {
	if apierrors.IsAlreadyExists(err) || apierrors.IsConflict(err) {
		return err
	}
	if apierrors.IsInvalid(err) || apierrors.IsForbidden(err) {
		return &router.Error{Reason: exposurev1alpha1.ReasonRouterInvalid, Message: fmt.Sprintf("the API server refused %s %s: %v", gvk.Kind, obj.GetName(), err)}
	}
	return fmt.Errorf("writing %s %s: %w", gvk.Kind, obj.GetName(), err)
}

// routingSettled reports whether the exposure's last successful reconcile, of this generation,
// made exactly these routing objects of this type: it removed every other object the exposure
// controlled, and only the operator makes such objects, so there is nothing to look for. The
// clean-up lists the namespace's objects of every served routing kind, which costs as much as
// the namespace holds; the reconciles that follow a change (its own status, its children's
// events, a tenant's change) skip it.
func routingSettled(exp *exposurev1alpha1.InferenceExposure, typ exposurev1alpha1.RouterType, keys []string) bool {
	st := exp.Status
	return st.ObservedGeneration == exp.Generation && st.Router != nil && st.Router.Type == typ && slices.Equal(st.Router.Objects, keys)
}

// removeRouting deletes the routing objects this exposure controls that are not in keep, in
// every routing API the cluster serves. Objects it does not control are never touched.
func (r *Reconciler) removeRouting(ctx context.Context, exp *exposurev1alpha1.InferenceExposure, keep []string) error {
	wanted := map[string]bool{}
	for _, k := range keep {
		wanted[k] = true
	}
	for _, kind := range router.Kinds() {
		gvk := kind.GVK()
		if !r.APIs.Served(gvk) {
			continue
		}
		list := kind.NewList()
		if err := r.List(ctx, list, client.InNamespace(exp.Namespace), client.MatchingLabels{exposurev1alpha1.LabelExposure: exp.Name}); err != nil {
			return fmt.Errorf("listing %s: %w", gvk.Kind, err)
		}
		items, err := meta.ExtractList(list)
		if err != nil {
			return err
		}
		for _, item := range items {
			obj := item.(client.Object)
			if wanted[gvk.Kind+"/"+obj.GetName()] || !render.IsControlledBy(obj, exp) {
				continue
			}
			uid := obj.GetUID()
			if err := r.Delete(ctx, obj, client.Preconditions{UID: &uid}); client.IgnoreNotFound(err) != nil {
				return fmt.Errorf("removing %s %s: %w", gvk.Kind, obj.GetName(), err)
			}
			r.Recorder.Eventf(exp, corev1.EventTypeNormal, "RoutingRemoved", "removed %s %s: no longer asked for by the spec", gvk.Kind, obj.GetName())
		}
	}
	return nil
}

// allowsRouted reports whether the tenant may still route every host the exposure's routing
// objects serve.
func allowsRouted(p router.HostPolicy, status *exposurev1alpha1.InferenceExposureStatus) bool {
	for _, h := range router.RoutedHosts(status) {
		if !p.Allows(h) {
			return false
		}
	}
	return true
}

func clearRouting(status *exposurev1alpha1.InferenceExposureStatus, all bool) {
	status.URL, status.GRPCAddress, status.Router = "", "", nil
	conditions.RemoveCondition(&status.Conditions, exposurev1alpha1.ConditionAnnotationsApplied)
	conditions.RemoveCondition(&status.Conditions, exposurev1alpha1.ConditionTimeoutsApplied)
	conditions.RemoveCondition(&status.Conditions, exposurev1alpha1.ConditionSettingsApplied)
	for _, c := range router.Conditions() {
		if all || c != exposurev1alpha1.ConditionRouted {
			conditions.RemoveCondition(&status.Conditions, c)
		}
	}
}

// hostConflict returns the conflict this exposure loses, if any: the oldest exposure
// routing a host and path keeps it, whatever namespace asks after it. Only exposures that share
// a host key with this one (and, transitively, with those) can matter: they are found by index,
// so the decision costs the same in a cluster of any size.
func (r *Reconciler) hostConflict(ctx context.Context, exp *exposurev1alpha1.InferenceExposure, in router.Input, domains []string) (*router.Conflict, error) {
	self := types.NamespacedName{Namespace: exp.Namespace, Name: exp.Name}
	claimants := []router.Claimant{{Key: self, Created: exp.CreationTimestamp, Claims: router.Claims(in)}}
	seen := map[types.NamespacedName]bool{self: true}
	policies := map[string]*router.HostPolicy{} // namespace -> its owner's host policy (nil: no owner)
	queue := router.HostKeys(exp)
	visited := map[string]bool{}
	for len(queue) > 0 {
		key := queue[0]
		queue = queue[1:]
		if visited[key] {
			continue
		}
		visited[key] = true
		var el exposurev1alpha1.InferenceExposureList
		if err := r.List(ctx, &el, client.MatchingFields{kubecache.IndexExposureHostKey: key}, client.UnsafeDisableDeepCopy); err != nil {
			return nil, fmt.Errorf("listing exposures: %w", err)
		}
		for _, owner := range router.DefaultHostOwners(key) {
			if seen[owner] {
				continue
			}
			e := &exposurev1alpha1.InferenceExposure{}
			if err := r.Get(ctx, owner, e); err == nil {
				el.Items = append(el.Items, *e)
			} else if !apierrors.IsNotFound(err) {
				return nil, fmt.Errorf("reading exposure %s: %w", owner, err)
			}
		}
		for i := range el.Items {
			e := &el.Items[i]
			k := types.NamespacedName{Namespace: e.Namespace, Name: e.Name}
			if seen[k] {
				continue
			}
			seen[k] = true
			policy, ok := policies[e.Namespace]
			if !ok {
				owner, _, err := namespaceOwner(ctx, r.Client, e.Namespace)
				if err != nil {
					return nil, err
				}
				if owner != nil {
					p := router.PolicyOf(owner, domains)
					policy = &p
				}
				policies[e.Namespace] = policy
			}
			if policy == nil {
				continue
			}
			host, grpcHost, err := router.Hosts(e, *policy)
			if err != nil {
				continue
			}
			claimants = append(claimants, router.Claimant{Key: k, Created: e.CreationTimestamp,
				Claims: router.Claims(router.Input{Exposure: e, Host: host, GRPCHost: grpcHost})})
			queue = append(queue, router.HostKeys(e)...)
		}
	}
	if c, ok := router.Conflicts(claimants)[self]; ok {
		return &c, nil
	}
	return nil, nil
}

// hostDomains are the hostDomains of the live tenants: a host belongs to the tenant with the
// most specific one that holds it.
func (r *Reconciler) hostDomains(ctx context.Context) ([]string, error) {
	tenants, err := kubecache.Objects[*exposurev1alpha1.InferenceTenant](ctx, r.Cache, r.Client, &exposurev1alpha1.InferenceTenantList{})
	if err != nil {
		return nil, fmt.Errorf("listing tenants: %w", err)
	}
	var out []string
	for _, t := range tenants {
		if t.Spec.HostDomain != "" && t.DeletionTimestamp.IsZero() {
			out = append(out, t.Spec.HostDomain)
		}
	}
	return out, nil
}

// inlineCertificate reads the TLS Secret for an inline Route certificate, uncached.
func (r *Reconciler) inlineCertificate(ctx context.Context, exp *exposurev1alpha1.InferenceExposure) (*router.TLSCertificate, error) {
	name := router.SecretName(exp)
	secret := &corev1.Secret{}
	err := r.APIReader.Get(ctx, types.NamespacedName{Namespace: exp.Namespace, Name: name}, secret)
	if apierrors.IsNotFound(err) {
		return nil, &router.Error{Reason: exposurev1alpha1.ReasonSecretInvalid, Message: fmt.Sprintf("router.tls.secretName %q: no such Secret in namespace %s", name, exp.Namespace)}
	}
	if err != nil {
		return nil, fmt.Errorf("reading secret %s: %w", name, err)
	}
	crt, key := secret.Data[corev1.TLSCertKey], secret.Data[corev1.TLSPrivateKeyKey]
	if len(crt) == 0 || len(key) == 0 {
		return nil, &router.Error{Reason: exposurev1alpha1.ReasonSecretInvalid, Message: fmt.Sprintf("Secret %s has no %s and %s: it must be a kubernetes.io/tls Secret", name, corev1.TLSCertKey, corev1.TLSPrivateKeyKey)}
	}
	return &router.TLSCertificate{Certificate: string(crt), Key: string(key), CACertificate: string(secret.Data["ca.crt"])}, nil
}

// settingsApplied says, for Ingress routing, whether the class's controller expresses the
// other settings rendered per controller; the condition goes for other routing.
func settingsApplied(in router.Input, conds conditions.Set) {
	if in.Type != exposurev1alpha1.RouterIngress {
		conds.Remove(exposurev1alpha1.ConditionSettingsApplied)
		return
	}
	done, missing := router.IngressSettingsApplied(in.IngressController, in.Exposure)
	v := settingsVerdict(ingressServerName(in.IngressController, in.Exposure), done, missing)
	conds.Verdict(exposurev1alpha1.ConditionSettingsApplied, v.Status, v.Reason, v.Message)
}

// timeoutsApplied says whether the controller that serves the exposure's routing enforces its
// timeout model: on Ingress from the class's controller, on a Route the OpenShift router's
// idle timers, on Gateway routing from the GatewayClass's supported features. The condition
// goes where nothing is asked (no idle timeout, no deadline) or the Gateway (gwClass, the
// class of the exposure's Gateway) is not there.
func timeoutsApplied(in router.Input, gwClass *gatewayv1.GatewayClass, conds conditions.Set) {
	exp := in.Exposure
	var s timeoutSupport
	switch {
	case in.Type == exposurev1alpha1.RouterIngress:
		s = ingressTimeoutSupport(in.IngressController, exp)
	case in.Type == exposurev1alpha1.RouterRoute:
		s = routeTimeoutSupport()
	case in.Type == exposurev1alpha1.RouterGateway && gwClass != nil:
		s = gatewayTimeoutSupport(gwClass, router.Termination(exp), router.RoutesGRPC(exp), in.GatewayPolicies)
	default:
		conds.Remove(exposurev1alpha1.ConditionTimeoutsApplied)
		return
	}
	v, ok := timeoutsVerdict(s, router.IdleTimeout(exp), router.RequestTimeout(exp))
	if !ok {
		conds.Remove(exposurev1alpha1.ConditionTimeoutsApplied)
		return
	}
	conds.Verdict(exposurev1alpha1.ConditionTimeoutsApplied, v.Status, v.Reason, v.Message)
}

// inferencePoolsServed says, where the exposure asks for InferencePools that the cluster does
// not serve, that its routes keep the Service; the pools' own condition is their Gateway's
// word otherwise.
func inferencePoolsServed(in router.Input, conds conditions.Set) {
	if r := in.Exposure.Spec.Router; r == nil || r.InferencePool == nil || in.InferencePools {
		return
	}
	conds.Failed(exposurev1alpha1.ConditionInferencePoolAccepted, exposurev1alpha1.ReasonAPINotServed, fmt.Sprintf(
		"router.inferencePool needs the InferencePool API (%s), which this cluster does not serve: install the Gateway API Inference Extension's CRDs; until then the routes go to the Service %s", router.InferencePoolGVK.GroupVersion(), in.Exposure.Name))
}
