package main

import (
	"flag"
	"os"
	"runtime/debug"
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
		{[]string{"--haproxy-stats-bind=:8404"}, false},
		{[]string{"--haproxy-stats-bind=0.0.0.0:8404"}, false},
		{[]string{"--haproxy-stats-bind=[::]:8404"}, false},
		{[]string{"--haproxy-stats-bind=10.0.0.5:8404"}, true},
		{[]string{"--haproxy-reserved-ports=22,10248-10260"}, true},
		{[]string{"--haproxy-reserved-ports=10260-10248"}, false},
		{[]string{"--haproxy-reserved-ports=22,x"}, false},
		{[]string{"--haproxy-reserved-ports=70000"}, false},
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
		{[]string{"--metrics-bind-address=0", "--kubeconfig=/nonexistent/kubeconfig"}, `--kubeconfig "/nonexistent/kubeconfig"`},
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

func TestContainerMemoryLimit(t *testing.T) {
	files := func(m map[string]string) func(string) ([]byte, error) {
		return func(name string) ([]byte, error) {
			if v, ok := m[name]; ok {
				return []byte(v), nil
			}
			return nil, os.ErrNotExist
		}
	}
	v2, v1 := cgroupMemoryFiles[0], cgroupMemoryFiles[1]
	for _, tc := range []struct {
		name  string
		files map[string]string
		want  int64
		ok    bool
	}{
		{"cgroup v2 limit", map[string]string{v2: "268435456\n"}, 268435456, true},
		{"cgroup v2 without limit", map[string]string{v2: "max\n"}, 0, false},
		{"cgroup v1 limit", map[string]string{v1: "536870912\n"}, 536870912, true},
		{"cgroup v1 unlimited", map[string]string{v1: "9223372036854771712\n"}, 0, false},
		{"v2 wins", map[string]string{v2: "1048576", v1: "2097152"}, 1048576, true},
		{"no cgroup files", nil, 0, false},
		{"garbage", map[string]string{v2: "lots"}, 0, false},
		{"zero", map[string]string{v2: "0"}, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := containerMemoryLimit(files(tc.files))
			if got != tc.want || ok != tc.ok {
				t.Fatalf("got %d, %v; want %d, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestSetMemoryLimit(t *testing.T) {
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1))
	read := func(string) ([]byte, error) { return []byte("1000000000"), nil }
	if got, from := setMemoryLimit(func(string) string { return "" }, read); got != 900000000 || from != "container memory limit" || debug.SetMemoryLimit(-1) != 900000000 {
		t.Fatalf("got %d from %s, runtime %d; want 90 %% of the container's limit", got, from, debug.SetMemoryLimit(-1))
	}
	debug.SetMemoryLimit(123456789)
	env := func(k string) string {
		if k == "GOMEMLIMIT" {
			return "123456789B"
		}
		return ""
	}
	if got, from := setMemoryLimit(env, read); got != 123456789 || from != "GOMEMLIMIT" {
		t.Fatalf("with GOMEMLIMIT set: got %d from %s", got, from)
	}
	if got, from := setMemoryLimit(func(string) string { return "" }, func(string) ([]byte, error) { return []byte("max"), nil }); got != 0 || from != "none" {
		t.Fatalf("without a limit: got %d from %s", got, from)
	}
}
