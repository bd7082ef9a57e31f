package haproxyconfig

import (
	"testing"

	exposurev1alpha1 "github.com/inference-exposure/inference-exposure-operator/api/v1alpha1"
	"github.com/inference-exposure/inference-exposure-operator/internal/render/haproxy"
)

// TestConfigured: a tenant's HAProxyConfigured after a render, a pure decision.
func TestConfigured(t *testing.T) {
	r := &Reconciler{Settings: Settings{Namespace: "ops", Name: "haproxy"}}
	withHAProxy := &exposurev1alpha1.InferenceTenant{}
	withHAProxy.Name = "alpha"
	withHAProxy.Spec.HAProxy = &exposurev1alpha1.TenantHAProxySpec{VIP: "10.0.100.10"}
	without := &exposurev1alpha1.InferenceTenant{}
	refused := &fileFailure{reason: "HAProxyConfigRefused", msg: "refused"}
	retry := &fileFailure{retry: true, reason: "Conflict"}
	rejected := &haproxy.TenantError{Tenant: "alpha", Reason: "FrontendPortNotAllowed", Msg: "port 22"}
	cases := []struct {
		name     string
		tenant   *exposurev1alpha1.InferenceTenant
		rejected *haproxy.TenantError
		fail     *fileFailure
		want     configuredVerdict
	}{
		{"rendered", withHAProxy, nil, nil, configuredVerdict{ok: true, reason: exposurev1alpha1.ReasonHAProxyRendered,
			msg: "frontends on 10.0.100.10 are in ConfigMap ops/" + ShardName("haproxy", ShardOf("alpha", DefaultShards))}},
		{"no HAProxy section: the condition goes", without, nil, refused, configuredVerdict{remove: true}},
		{"a write to retry decides later", withHAProxy, rejected, retry, configuredVerdict{later: true}},
		{"the renderer's refusal comes first", withHAProxy, rejected, refused, configuredVerdict{reason: "FrontendPortNotAllowed", msg: "port 22"}},
		{"the write's refusal", withHAProxy, nil, refused, configuredVerdict{reason: "HAProxyConfigRefused", msg: "refused"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := r.configured(tc.tenant, tc.rejected, tc.fail); got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}
