package tenantgateway

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	exposurev1alpha1 "github.com/inference-exposure/inference-exposure-operator/api/v1alpha1"
	"github.com/inference-exposure/inference-exposure-operator/internal/render/golden"
)

func tenant(cert exposurev1alpha1.TenantCertificate) *exposurev1alpha1.InferenceTenant {
	return &exposurev1alpha1.InferenceTenant{
		ObjectMeta: metav1.ObjectMeta{Name: "alpha", UID: "0000-2222"},
		Spec: exposurev1alpha1.InferenceTenantSpec{
			Namespaces:   []string{"team-a", "team-a-dev"},
			HostDomain:   "alpha.apps.example.com",
			AllowedHosts: []string{"chat.example.org"},
			Gateway: &exposurev1alpha1.TenantGateway{
				ParentRef:   exposurev1alpha1.GatewayReference{Namespace: "gateway-system", Name: "shared"},
				Certificate: cert,
			},
		},
	}
}

// TestListenerSetGolden: a Secret of a platform namespace, and a cert-manager ClusterIssuer.
func TestListenerSetGolden(t *testing.T) {
	for _, tc := range []struct {
		file string
		cert exposurev1alpha1.TenantCertificate
	}{
		{"listenerset-secret.yaml", exposurev1alpha1.TenantCertificate{SecretRef: &exposurev1alpha1.SecretReference{Namespace: "platform-certs", Name: "alpha-wildcard"}}},
		{"listenerset-issuer.yaml", exposurev1alpha1.TenantCertificate{Issuer: &exposurev1alpha1.IssuerReference{Kind: "ClusterIssuer", Name: "letsencrypt-dns"}}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			golden.Check(t, tc.file, golden.YAML(t, ListenerSet(tenant(tc.cert), []string{"team-a-dev", "team-a"})))
		})
	}
}

// TestListenerSetScope: routes are allowed from the namespaces the tenant owns only (never an
// empty selector, which would not mean "none"), in the namespace it asks for.
func TestListenerSetScope(t *testing.T) {
	tn := tenant(exposurev1alpha1.TenantCertificate{SecretRef: &exposurev1alpha1.SecretReference{Name: "own"}})
	tn.Spec.Gateway.Namespace = "team-a-dev"
	ls := ListenerSet(tn, nil)
	if ls.Namespace != "team-a-dev" {
		t.Fatalf("namespace %s", ls.Namespace)
	}
	sel := ls.Spec.Listeners[0].AllowedRoutes.Namespaces.Selector.MatchExpressions[0]
	if len(sel.Values) != 1 || sel.Values[0] != "team-a-dev" {
		t.Fatalf("no owned namespace: %+v", sel)
	}
	if ref := ls.Spec.Listeners[0].TLS.CertificateRefs[0]; ref.Namespace != nil || ref.Name != "own" {
		t.Fatalf("a Secret of its own namespace needs no namespace: %+v", ref)
	}
	ls = ListenerSet(tn, []string{"team-a"})
	if v := ls.Spec.Listeners[1].AllowedRoutes.Namespaces.Selector.MatchExpressions[0].Values; len(v) != 1 || v[0] != "team-a" {
		t.Fatalf("every listener allows the owned namespaces only: %v", v)
	}
}

// TestVerdict: what the Gateway says becomes the tenant's condition, with what to change.
func TestVerdict(t *testing.T) {
	tn := tenant(exposurev1alpha1.TenantCertificate{SecretRef: &exposurev1alpha1.SecretReference{Namespace: "platform-certs", Name: "w"}})
	cond := func(typ string, s metav1.ConditionStatus, reason string) metav1.Condition {
		return metav1.Condition{Type: typ, Status: s, Reason: reason, Message: "m", ObservedGeneration: 2}
	}
	for _, tc := range []struct {
		name      string
		conds     []metav1.Condition
		listeners []gatewayv1.ListenerEntryStatus
		status    metav1.ConditionStatus
		contains  string
	}{
		{"no report", nil, nil, metav1.ConditionUnknown, "has not reported"},
		{"a report of an older generation", []metav1.Condition{{Type: "Accepted", Status: "True", Reason: "Accepted", ObservedGeneration: 1}}, nil, metav1.ConditionUnknown, "has not reported"},
		{"not allowed by the Gateway", []metav1.Condition{cond("Accepted", "False", "NotAllowed")}, nil, metav1.ConditionFalse, "spec.allowedListeners"},
		{"refused otherwise", []metav1.Condition{cond("Accepted", "False", "ParentNotAccepted")}, nil, metav1.ConditionFalse, "did not accept"},
		{"the Secret not granted", []metav1.Condition{cond("Accepted", "True", "Accepted"), cond("Programmed", "True", "Programmed")},
			[]gatewayv1.ListenerEntryStatus{{Name: "https", Conditions: []metav1.Condition{cond("ResolvedRefs", "False", "RefNotPermitted")}}}, metav1.ConditionFalse, "ReferenceGrant"},
		{"a listener conflicts", []metav1.Condition{cond("Accepted", "True", "Accepted"), cond("Programmed", "True", "Programmed")},
			[]gatewayv1.ListenerEntryStatus{{Name: "granted-1", Conditions: []metav1.Condition{cond("Conflicted", "True", "HostnameConflict")}}}, metav1.ConditionFalse, "listener granted-1"},
		{"accepted, not programmed yet", []metav1.Condition{cond("Accepted", "True", "Accepted")}, nil, metav1.ConditionUnknown, "not programmed it yet"},
		{"served", []metav1.Condition{cond("Accepted", "True", "Accepted"), cond("Programmed", "True", "Programmed")},
			[]gatewayv1.ListenerEntryStatus{{Name: "https", Conditions: []metav1.Condition{cond("Conflicted", "False", "NoConflicts"), cond("Accepted", "True", "Accepted")}}}, metav1.ConditionTrue, "serves the tenant's listeners"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ls := ListenerSet(tn, []string{"team-a"})
			ls.Generation = 2
			ls.Status.Conditions, ls.Status.Listeners = tc.conds, tc.listeners
			status, reason, msg := Verdict(tn, ls)
			if status != tc.status || reason == "" || !strings.Contains(msg, tc.contains) || !strings.Contains(msg, "gateway-system/shared") {
				t.Fatalf("got %s %s %q", status, reason, msg)
			}
		})
	}
}
