// Package prometheus_test checks the alerting rules of config/prometheus: promtool accepts them
// and their unit tests pass, and every metric they name is one the operator or the agent
// exports.
package prometheus_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/yaml"

	"github.com/inference-exposure/inference-exposure-operator/internal/haproxyagent"
	"github.com/inference-exposure/inference-exposure-operator/internal/metrics"
	"github.com/inference-exposure/inference-exposure-operator/test/testenv"
)

// rulesDir is config/prometheus.
func rulesDir() string { return filepath.Join(testenv.RepoRoot(), "config", "prometheus") }

// ruleGroups reads the PrometheusRule and returns its spec (the rule groups, as promtool reads
// them) and every expression in it.
func ruleGroups(t *testing.T) ([]byte, []string) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(rulesDir(), "prometheusrule.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var rule struct {
		Kind string `json:"kind"`
		Spec struct {
			Groups []struct {
				Name  string `json:"name"`
				Rules []struct {
					Alert string `json:"alert"`
					Expr  string `json:"expr"`
				} `json:"rules"`
			} `json:"groups"`
		} `json:"spec"`
	}
	if err := yaml.Unmarshal(data, &rule); err != nil {
		t.Fatal(err)
	}
	var raw map[string]any
	if err := yaml.Unmarshal(data, &raw); err != nil {
		t.Fatal(err)
	}
	groups, err := yaml.Marshal(raw["spec"])
	if err != nil {
		t.Fatal(err)
	}
	var exprs []string
	for _, g := range rule.Spec.Groups {
		for _, r := range g.Rules {
			exprs = append(exprs, r.Expr)
		}
	}
	if rule.Kind != "PrometheusRule" || len(exprs) == 0 {
		t.Fatalf("%s holds no rules", filepath.Join(rulesDir(), "prometheusrule.yaml"))
	}
	return groups, exprs
}

// TestAlertRules runs promtool check rules and promtool test rules (config/prometheus/
// rules_test.yaml) on the PrometheusRule's groups.
func TestAlertRules(t *testing.T) {
	promtool := os.Getenv("PROMTOOL")
	if promtool == "" {
		promtool = filepath.Join(testenv.RepoRoot(), "bin", "promtool")
	}
	if _, err := os.Stat(promtool); err != nil {
		t.Skipf("needs promtool (make promtool builds it into bin/, or set PROMTOOL): %v", err)
	}
	groups, _ := ruleGroups(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "rules.yaml"), groups, 0o600); err != nil {
		t.Fatal(err)
	}
	tests, err := os.ReadFile(filepath.Join(rulesDir(), "rules_test.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "rules_test.yaml"), tests, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"check", "rules", "rules.yaml"}, {"test", "rules", "rules_test.yaml"}} {
		cmd := exec.Command(promtool, args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// metricName finds the metric names of a PromQL expression: identifiers followed by a selector
// or a range, or standing alone before a comparison.
var metricName = regexp.MustCompile(`\b((?:inference_exposure|controller_runtime)_[a-z0-9_]+)`)

// exported are the metric names the operator and the agent export, and the controller-runtime
// ones the rules use (its reconcile metrics, by controller).
func exported() []string {
	names := metrics.Names()
	reg := prometheus.NewRegistry()
	haproxyagent.NewMetrics(reg)
	if mfs, err := reg.Gather(); err == nil {
		for _, mf := range mfs {
			names = append(names, mf.GetName())
		}
	}
	// A config_info gauge vector has no series until a configuration is applied.
	names = append(names, "inference_exposure_haproxy_agent_config_info",
		"controller_runtime_active_workers", "controller_runtime_reconcile_errors_total", "controller_runtime_reconcile_total")
	return names
}

// TestRulesNameExportedMetrics: a rule on a metric nobody exports never fires.
func TestRulesNameExportedMetrics(t *testing.T) {
	_, exprs := ruleGroups(t)
	checkNames(t, exprs)
}

func checkNames(t *testing.T, exprs []string) {
	t.Helper()
	known := exported()
	for _, e := range exprs {
		for _, m := range metricName.FindAllString(e, -1) {
			base := m
			for _, suffix := range []string{"_bucket", "_sum", "_count"} {
				if b, ok := strings.CutSuffix(m, suffix); ok && slices.Contains(known, b) {
					base = b
				}
			}
			if !slices.Contains(known, base) {
				t.Errorf("%q names %s, which nothing exports (exported: %v)", e, m, known)
			}
		}
	}
}

// TestDashboardNamesExportedMetrics: every query of the Grafana dashboard
// (config/grafana) names metrics the code exports.
func TestDashboardNamesExportedMetrics(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "config", "grafana", "inference-exposure-operator.json"))
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(data, &dash); err != nil {
		t.Fatal(err)
	}
	var exprs []string
	for _, p := range dash.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, q := range p.Targets {
			exprs = append(exprs, q.Expr)
		}
	}
	if len(exprs) == 0 {
		t.Fatal("the dashboard has no queries")
	}
	checkNames(t, exprs)
}
