package main

import (
	"flag"
	"strings"
	"testing"
)

func TestParsePool(t *testing.T) {
	for in, ok := range map[string]bool{"30000-32767": true, "30800-30899": true, "30005-32767": false, "32767-30000": false, "abc": false, "30000": false, "0-100": false} {
		if _, err := parsePool(in); (err == nil) != ok {
			t.Errorf("parsePool(%q) err = %v, want ok=%v", in, err, ok)
		}
	}
}

func TestHAProxyFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		ok   bool
	}{
		{nil, true},
		{[]string{"--haproxy=false"}, true},
		{[]string{"--haproxy-backend-node-selector=nvidia.com/gpu.present=true"}, true},
		{[]string{"--haproxy-ingress-node-selector=a in (b"}, false},
		{[]string{"--haproxy-ingress-ca-path=/etc/ca dir/ca.pem"}, false},
		{[]string{"--haproxy-stats-bind=:8404\nfrontend x"}, false},
		{[]string{"--haproxy-https-port=0"}, false},
		{[]string{"--haproxy-hard-stop-after=0s"}, false},
		{[]string{"--haproxy-shards=0"}, false},
		{[]string{"--haproxy-timeout=600h"}, false},
		{[]string{"--haproxy-shards=65"}, false},
		{[]string{"--haproxy-shards=4"}, true},
		{[]string{"--haproxy-server-slots=0"}, false},
		{[]string{"--haproxy-server-slots=1025"}, false},
		{[]string{"--haproxy-server-slots=64"}, true},
	} {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		var h haproxyFlags
		h.bind(fs)
		if err := fs.Parse(tc.args); err != nil {
			t.Fatal(err)
		}
		if _, err := h.settings(); (err == nil) != tc.ok {
			t.Errorf("%v: err = %v, want ok=%v", tc.args, err, tc.ok)
		}
	}
}

func TestRunRefusesBadFlags(t *testing.T) {
	for _, args := range [][]string{{"--node-port-range=1-2"}, {"--block-size=15"}, {"--block-size=5000", "--node-port-range=30000-30999"}, {"--kube-api-qps=0"}, {"--cache-sync-timeout=0s"}} {
		if err := run(args); err == nil {
			t.Errorf("run(%v) accepted", args)
		}
	}
}

func TestHAProxyAgentRefusesBadFlags(t *testing.T) {
	empty := t.TempDir()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--interval=0s"}, "must be positive"},
		{[]string{"--runtime-timeout=-1s"}, "must be positive"},
		{[]string{"--install", "--config-dir=/nonexistent/config"}, "/nonexistent/config"},
		{[]string{"--install", "--config-dir=" + empty}, "no *.cfg files in " + empty},
	} {
		err := runHAProxyAgent(tc.args)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: err = %v, want one saying %q", tc.args, err, tc.want)
		}
	}
}

func TestVersion(t *testing.T) {
	if err := run([]string{"--version"}); err != nil {
		t.Fatal(err)
	}
	if v := versionLine(); !strings.HasPrefix(v, "inference-exposure-operator ") || !strings.Contains(v, "commit ") {
		t.Fatalf("version line %q", v)
	}
}

func TestMetricsOptions(t *testing.T) {
	if o := metricsOptions(":8443", true); !o.SecureServing || o.FilterProvider == nil {
		t.Errorf("secure metrics: %+v", o)
	}
	if o := metricsOptions(":8080", false); o.SecureServing || o.FilterProvider != nil {
		t.Errorf("plain metrics: %+v", o)
	}
}
